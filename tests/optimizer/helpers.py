"""Shared optimizer test helpers: real CENACE days, batteries and hypothesis strategies."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from collections import defaultdict
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from optimizer import Battery, MarketDay

#: the SPEC §2 published 24-hour price vector (MXN/MWh) ...
PUBLISHED = [20, 15, 10, 12, 15, 25, 40, 60, 55, 40, 35, 30, 25, 20, 18, 25, 60, 90, 85, 70]
PUBLISHED += [50, 40, 30, 25]
#: ... and its optima for the PRD battery under three efficiency conventions (pytest params)
PUBLISHED_OPTIMA = [
    pytest.param({"round_trip_efficiency": 0.85}, 2957.14, id="sqrt-split"),
    pytest.param(
        {"charge_efficiency": 0.85, "discharge_efficiency": 1.0}, 3082.35, id="energy-py-linear"
    ),
    pytest.param(
        {"charge_efficiency": 1.0, "discharge_efficiency": 0.85}, 2820.00, id="discharge-loss"
    ),
]

DATA = Path(__file__).resolve().parents[2] / "data" / "cenace"
MDA_2016 = DATA / "pend_MDA_2016-01-27_2017-06-30_7zonas_jluisfgarza.csv.gz"


@cache
def real_days(zone: str = "APATZINGAN") -> tuple[MarketDay, ...]:
    """Every MDA market day of ``zone`` in the 2016-2017 file (hora 1..N hour-ending)."""
    by_day: dict[str, dict[int, float]] = defaultdict(dict)
    with gzip.open(MDA_2016, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["zona_carga"] == zone and row["proceso"] == "MDA":
                by_day[row["fecha"]][int(row["hora"])] = float(row["pz"])
    return tuple(
        MarketDay(dt.date.fromisoformat(day), tuple(hours[h] for h in sorted(hours)))
        for day, hours in sorted(by_day.items())
    )


def real_day(date: str, zone: str = "APATZINGAN") -> MarketDay:
    wanted = dt.date.fromisoformat(date)
    return next(d for d in real_days(zone) if d.date == wanted)


def prd_battery(**overrides: float | None) -> Battery:
    """The PRD example battery: 10 MW, 4 h, 85 % round trip, SoC 0.1-1.0."""
    params: dict = {
        "power_mw": 10.0,
        "duration_h": 4.0,
        "round_trip_efficiency": 0.85,
        "min_soc": 0.1,
        "max_soc": 1.0,
    }
    params.update(overrides)
    return Battery(**params)


def day_prices(hours: int = 24) -> st.SearchStrategy[np.ndarray]:
    """Hourly prices (MXN/MWh) with zeros, negatives, ties and spikes."""
    return arrays(
        np.float64,
        hours,
        elements=st.one_of(
            st.floats(-500, 5000, allow_nan=False, width=32),
            st.sampled_from([0.0, 0.0, -50.0, 100.0, 100.0, 9000.0]),
        ),
    )


@st.composite
def batteries(draw: st.DrawFn) -> Battery:
    """Random valid batteries, including one-way efficiencies, tight windows, costs, caps."""
    lo = draw(st.floats(0.0, 0.9))
    hi = draw(st.floats(lo + 0.01, 1.0))
    one_way = draw(st.booleans())
    return Battery(
        power_mw=draw(st.floats(0.5, 100.0)),
        duration_h=draw(st.floats(0.5, 8.0)),
        round_trip_efficiency=draw(st.floats(0.5, 1.0)),
        charge_efficiency=draw(st.floats(0.6, 1.0)) if one_way else None,
        discharge_efficiency=draw(st.floats(0.6, 1.0)) if one_way else None,
        min_soc=lo,
        max_soc=hi,
        initial_soc=draw(st.one_of(st.none(), st.floats(lo, hi))),
        degradation_cost_mxn_per_mwh=draw(st.sampled_from([0.0, 0.0, 25.0, 300.0])),
        max_cycles_per_day=draw(st.sampled_from([None, None, None, 0.5, 1.0, 2.0])),
    )


def days_from(prices: list[np.ndarray], start: str = "2024-01-01") -> list[MarketDay]:
    first = dt.date.fromisoformat(start)
    return [
        MarketDay(first + dt.timedelta(days=i), tuple(float(x) for x in p))
        for i, p in enumerate(prices)
    ]
