"""The price-source interface (SPEC §5): queries, errors and the source protocol."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from optimizer import MarketDay

#: Prices beyond ±this (MXN/MWh) are not believed (SPEC §13): CENACE's real extremes are a few
#: tens of thousands; a source answering more is broken (502 naming the day), and such a day is
#: never cached or handed to the optimizer.
PRICE_LIMIT_MXN_PER_MWH = 1_000_000.0


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


def check_price_bounds(days: Iterable[MarketDay], *, source: str) -> None:
    """``UpstreamError`` (502) naming the first day with a price that is not finite or is
    beyond ±:data:`PRICE_LIMIT_MXN_PER_MWH`."""
    limit = PRICE_LIMIT_MXN_PER_MWH
    for day in days:
        for hour, price in enumerate(day.prices_mxn_per_mwh):
            if not -limit <= price <= limit:  # also catches NaN
                raise UpstreamError(
                    f"{source}: {day.date} hour {hour}: the price {price:.6g} MXN/MWh is not "
                    f"within ±{PRICE_LIMIT_MXN_PER_MWH:,.0f}"
                )


class PriceSource(Protocol):
    """A source of hourly prices. ``fetch`` returns one ``MarketDay`` per day of the query,
    in date order, each complete (23, 24 or 25 hours) with prices within
    ±``PRICE_LIMIT_MXN_PER_MWH``, or raises a ``PriceSourceError``.

    ``deadline_s``, when given, is the request's deadline as a ``time.monotonic()`` instant:
    the source gives up with ``UpstreamTimeoutError`` (504) rather than run past it."""

    name: str

    def fetch(self, query: PriceQuery, *, deadline_s: float | None = None) -> list[MarketDay]: ...
