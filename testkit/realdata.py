"""Real CENACE prices as the tests and benchmarks use them, read in one place: day-ahead (MDA)
zone prices from ``data/cenace/``, as market days; the year the benchmarks and the README's
tables measure; and the PRD battery."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from optimizer import Battery, MarketDay

DATA = Path(__file__).resolve().parents[1] / "data" / "cenace"
#: 7 zones, MDA 2016-01-27 .. 2017-06-30 (data/cenace/README.md)
MDA_2016 = DATA / "pend_MDA_2016-01-27_2017-06-30_7zonas_jluisfgarza.csv.gz"
#: the year every benchmark measures: 366 market days, one 23-hour and one 25-hour day
YEAR_ZONE = "APATZINGAN"
YEAR_FIRST_DAY, YEAR_LAST_DAY = dt.date(2016, 1, 29), dt.date(2017, 1, 28)


@cache
def mda_days(zone: str = YEAR_ZONE, path: Path = MDA_2016) -> tuple[MarketDay, ...]:
    """Every MDA market day of ``zone`` in ``path``, in date order (``hora`` 1..N is
    hour-ending, so hour index = hora - 1). A repeated or missing hour is a ``ValueError``."""
    by_day: dict[dt.date, dict[int, float]] = {}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["zona_carga"] != zone or row["proceso"] != "MDA":
                continue
            day = dt.date.fromisoformat(row["fecha"])
            hours = by_day.setdefault(day, {})
            hora = int(row["hora"])
            if hora in hours:
                raise ValueError(f"{path.name}: {zone} {day} hora {hora} appears twice")
            hours[hora] = float(row["pz"])
    days = []
    for day, hours in sorted(by_day.items()):
        if sorted(hours) != list(range(1, len(hours) + 1)):
            raise ValueError(f"{path.name}: {zone} {day} has hours {sorted(hours)}, not 1..N")
        days.append(MarketDay(day, tuple(hours[h] for h in range(1, len(hours) + 1))))
    return tuple(days)


def year_days() -> tuple[MarketDay, ...]:
    """The benchmarks' year: APATZINGAN MDA, 2016-01-29 .. 2017-01-28 (366 days)."""
    days = tuple(d for d in mda_days() if YEAR_FIRST_DAY <= d.date <= YEAR_LAST_DAY)
    if len(days) != 366:
        raise ValueError(f"expected 366 days of {YEAR_ZONE}, found {len(days)}")
    return days


def prd_battery(**overrides: float | None) -> Battery:
    """The PRD example battery: 10 MW, 4 h, 85 % round trip, SoC 0.1-1.0."""
    params: dict[str, Any] = {
        "power_mw": 10.0,
        "duration_h": 4.0,
        "round_trip_efficiency": 0.85,
        "min_soc": 0.1,
        "max_soc": 1.0,
    }
    params.update(overrides)
    return Battery(**params)


def with_solar_dips(days: Iterable[MarketDay], seed: int = 9) -> list[np.ndarray]:
    """Each day's prices with a midday dip: a run of 10-15 hours around noon at -300..-20
    MXN/MWh (the worst-case families of the tests and ``bench/bench_worst_case.py``)."""
    rng = np.random.default_rng(seed)
    out = []
    for day in days:
        prices = np.array(day.prices_mxn_per_mwh, dtype=float)
        length = int(rng.integers(10, 16))
        first = max(0, 12 - length // 2)
        prices[first : first + length] = rng.uniform(-300.0, -20.0, length)
        out.append(prices)
    return out


def with_negative_hours(days: Iterable[MarketDay], share: float, seed: int) -> list[np.ndarray]:
    """Each day's prices with ``share`` of its hours (at random) at -1200..-20 MXN/MWh."""
    rng = np.random.default_rng(seed)
    out = []
    for day in days:
        prices = np.array(day.prices_mxn_per_mwh, dtype=float)
        hit = rng.random(prices.size) < share
        prices[hit] = rng.uniform(-1200.0, -20.0, int(hit.sum()))
        out.append(prices)
    return out
