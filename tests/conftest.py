"""Shared fixtures: a price source replaying real CENACE prices, and apps built on it; the
suite's hypothesis profile."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings

from app import create_app
from optimizer import MarketDay
from prices import NoPricesError, PriceQuery
from testkit.events import prd_request

# One hypothesis profile for the whole suite: the same examples on every machine and no
# deadline (CI machines are noisy). Tests that need more examples say so with @settings.
settings.register_profile("suite", derandomize=True, deadline=None, max_examples=60)
settings.load_profile("suite")

#: the real CENACE files committed (gzipped) in data/cenace/
CENACE_DATA = Path(__file__).resolve().parents[1] / "data" / "cenace"
AUGUST_2020 = CENACE_DATA / "pend_MDA_MTR_2020-08_26zonas_occidental_oscarflores.csv.gz"

#: the PRD example request, moved to the month the recorded data covers
PRD_REQUEST_2020: dict[str, Any] = prd_request(
    start_date="2020-08-01T00:00:00Z", end_date="2020-08-31T23:59:59Z"
)


class RecordedSource:
    """Real CENACE zone prices (SIN, August 2020, MDA and MTR, 26 zones) behind the
    ``PriceSource`` interface; anything outside the file is ``NoPricesError`` (404)."""

    name = "recorded"

    def __init__(self, path: Path = AUGUST_2020) -> None:
        table: defaultdict[tuple[str, str, str, dt.date], dict[int, float]] = defaultdict(dict)
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                key = (
                    row["sistema"],
                    row["proceso"],
                    row["zona_carga"],
                    dt.date.fromisoformat(row["fecha"]),
                )
                table[key][int(row["hora"]) - 1] = float(row["pz"])
        self._days = {
            key: MarketDay(key[3], tuple(hours[h] for h in range(len(hours))))
            for key, hours in table.items()
        }
        self.calls: list[PriceQuery] = []

    def fetch(self, query: PriceQuery, *, deadline_s: float | None = None) -> list[MarketDay]:
        self.calls.append(query)
        out = []
        for day in query.days:
            key = (query.system.value, query.process.value, query.zone, day)
            if key not in self._days:
                raise NoPricesError(f"No prices for {query.zone} on {day.isoformat()}.")
            out.append(self._days[key])
        return out


class FailingSource:
    """A source that raises ``error`` on every fetch."""

    name = "failing"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def fetch(self, query: PriceQuery, *, deadline_s: float | None = None) -> list[MarketDay]:
        raise self.error


@pytest.fixture(scope="session")
def recorded_source() -> RecordedSource:
    return RecordedSource()


@pytest.fixture
def app(recorded_source: RecordedSource) -> Flask:
    recorded_source.calls.clear()
    return create_app({"TESTING": True, "PRICE_SOURCE_OBJECT": recorded_source})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
