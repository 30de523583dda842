"""Shared optimizer test helpers: real CENACE days, batteries and hypothesis strategies."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from optimizer import Battery, MarketDay
from optimizer.envelope import needs_binary
from optimizer.strategies import optimal
from testkit.realdata import mda_days
from testkit.realdata import prd_battery as prd_battery  # re-exported for the tests

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


def real_days(zone: str = "APATZINGAN") -> tuple[MarketDay, ...]:
    """Every MDA market day of ``zone`` in the 2016-2017 file (hora 1..N hour-ending)."""
    return mda_days(zone)


def real_day(date: str, zone: str = "APATZINGAN") -> MarketDay:
    wanted = dt.date.fromisoformat(date)
    return next(d for d in real_days(zone) if d.date == wanted)


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


#: how ``unit_days`` shapes hypothesis's floats in [-1, 1]
UNIT_SHAPES = {
    "signed": lambda v: v,
    "positive": lambda v: 0.3 + 0.35 * (v + 1.0),  # 0.3 .. 1
    "three levels": np.round,  # -1, 0, 1
    "negative": lambda v: v - 1.5,  # -2.5 .. -0.5
}


@st.composite
def unit_days(draw: st.DrawFn, days: int, kind: str) -> list[np.ndarray]:
    """``days`` days of 24 prices of about 1 MXN/MWh, shaped by ``UNIT_SHAPES[kind]`` (tests
    scale them to the size they need)."""
    shape = UNIT_SHAPES[kind]
    return [
        shape(np.array(draw(st.lists(st.floats(-1.0, 1.0), min_size=24, max_size=24))))
        for _ in range(days)
    ]


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


def forbid_branch_and_bound(patch: pytest.MonkeyPatch) -> None:
    """HiGHS may solve the LP relaxation (no binary) but no program with a binary (the guard
    sits in ``optimal.solve_program``, which ``solve_milp`` calls)."""
    program = optimal.solve_program

    def relaxation_only(
        prices: np.ndarray, offsets: np.ndarray, battery: Battery, **kwargs: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        integral = kwargs.get("integral")
        if integral is None or (integral & needs_binary(prices, battery)).any():
            raise AssertionError("branch and bound called")
        return program(prices, offsets, battery, **kwargs)

    patch.setattr(optimal, "solve_program", relaxation_only)


def assert_same_chain(got: Any, want: Any) -> None:
    """Two ``ChainSolution``s the same to the bit: value, moves and every value function."""
    assert got.value == want.value
    np.testing.assert_array_equal(got.moves, want.moves)
    for (x1, v1), (x2, v2) in zip(got.tables, want.tables, strict=True):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(v1, v2)
