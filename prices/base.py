"""The price-source interface (SPEC §5): queries, errors and the source protocol."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from optimizer import MarketDay


class System(StrEnum):
    SIN = "SIN"
    BCA = "BCA"
    BCS = "BCS"


class Process(StrEnum):
    MDA = "MDA"  # day-ahead
    MTR = "MTR"  # real-time


@dataclass(frozen=True, kw_only=True)
class PriceQuery:
    """Every market day from ``start`` to ``end`` inclusive, for one zone or node."""

    zone: str
    system: System = System.SIN
    process: Process = Process.MDA
    start: dt.date
    end: dt.date

    @property
    def days(self) -> list[dt.date]:
        n = (self.end - self.start).days + 1
        return [self.start + dt.timedelta(days=i) for i in range(n)]


class PriceSourceError(Exception):
    """Base of every price-source failure; ``status`` is the HTTP status of SPEC §4 and
    ``detail`` a message safe to show a client (never a secret)."""

    status = 502
    title = "Price source failed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NoPricesError(PriceSourceError):
    """Zone or node unknown to the source, or no prices for the dates (404)."""

    status = 404
    title = "No prices"


class UpstreamError(PriceSourceError):
    """The source failed, answered garbage, left hours missing or rejected our key (502)."""

    status = 502
    title = "Price source failed"


class UpstreamTimeoutError(PriceSourceError):
    """The source did not answer in time (504)."""

    status = 504
    title = "Price source timed out"


class PriceSource(Protocol):
    """A source of hourly prices. ``fetch`` returns one ``MarketDay`` per day of the query,
    in date order, each complete (23, 24 or 25 hours), or raises a ``PriceSourceError``."""

    name: str

    def fetch(self, query: PriceQuery) -> list[MarketDay]: ...
