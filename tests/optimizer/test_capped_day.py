"""``optimizer.capped_day``: the exact optimum of one capped day by a label search, against the
independent MILP of ``reference.py``, with the physics of its moves checked hour by hour; its
place in ``optimal``'s daily route (the days the Lagrangian route leaves with a duality gap),
and the way back to HiGHS when the search passes its label cap."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from optimizer import Battery, MarketDay, run_strategy
from optimizer import capped_day as capped_day_module
from optimizer.capped_day import CappedDay, solve_capped_day
from optimizer.chain import Chain
from optimizer.envelope import stored_rates, stored_revenue, to_grid
from optimizer.strategies import optimal
from optimizer.strategies._days import hour_mask, price_matrix
from optimizer.strategies.optimal import daily_moves
from testkit.realdata import with_negative_hours, with_solar_dips, year_days
from tests.optimizer.helpers import days_from, forbid_branch_and_bound, prd_battery
from tests.optimizer.reference import reference_optimum

#: hypothesis examples of each property (each runs the reference MILP): the file stays under
#: about a minute on one core
EXAMPLES = 40


def assert_exact(got: float, want: float) -> None:
    assert got == pytest.approx(want, rel=1e-6, abs=1e-6)


def assert_physical(day: CappedDay, prices: np.ndarray, battery: Battery) -> None:
    """The moves keep the battery's physics (SPEC §2) and earn the revenue reported."""
    buy, sell = stored_rates(prices, battery)
    chain = Chain.of(battery)
    W, x0, C, D = chain.width_mwh, chain.x0_mwh, chain.up_mwh, chain.down_mwh
    cap = battery.daily_withdrawal_cap_mwh
    assert cap is not None
    tol = 1e-9 * max(W, C, D)
    moves = np.asarray(day.moves, dtype=float)
    assert moves.shape == prices.shape
    assert np.isfinite(moves).all()
    level = x0 + np.cumsum(moves)
    assert level.min() >= -tol
    assert level.max() <= W + tol
    assert abs(level[-1] - x0) <= tol  # back where it started
    assert moves.max() <= C + tol
    assert moves.min() >= -D - tol
    assert float(np.sum(np.maximum(-moves, 0.0))) <= cap + tol
    assert day.revenue_mxn == pytest.approx(float(stored_revenue(moves, buy, sell)), rel=1e-12)
    # the same money on the grid side (MW for one hour each)
    charge, discharge = to_grid(moves[None], battery)
    assert not ((charge > 0) & (discharge > 0)).any()
    kappa = battery.degradation_cost_mxn_per_mwh
    grid = float(np.sum(prices * (discharge - charge)) - kappa * np.sum(discharge))
    assert_exact(grid, day.revenue_mxn)
    assert 0 < day.labels <= capped_day_module.MAX_LABELS


def route_inputs(prices: np.ndarray, battery: Battery) -> tuple[float, float, float]:
    """What ``optimal``'s daily route knows of this one day: its cycle-cap multiplier, the
    revenue of the Lagrangian mix it hands the search (when the day has a duality gap; else
    the revenue of the certified schedule), and the revenue of the schedule it returns."""
    handed: list[float] = []
    search = capped_day_module.solve_capped_day

    def recording(*args: Any) -> CappedDay | None:
        handed.append(float(args[4]))
        return search(*args)

    patch = pytest.MonkeyPatch()
    patch.setattr(optimal, "solve_capped_day", recording)
    try:
        moves, unsolved, _, multipliers = optimal._daily(
            prices[None, :], np.ones((1, prices.size), dtype=bool), battery, None
        )
    finally:
        patch.undo()
    assert not unsolved.any()  # the search closes every such day (none is left to HiGHS)
    buy, sell = stored_rates(prices, battery)
    final = float(stored_revenue(moves[0, : prices.size], buy, sell))
    lam = float(np.nan_to_num(multipliers[0], nan=0.0))
    event("duality gap" if handed else "no duality gap")
    event("cap binds" if lam > 0 else "cap free")
    return lam, (handed[0] if handed else final), final


# ----------------------------------------------------------------------------- strategies


@st.composite
def capped_day_prices(draw: st.DrawFn) -> np.ndarray:
    """One day of 23, 24 or 25 hours: a solar dip, runs of negative hours, a very negative
    day that is flat but for noise, or ordinary prices."""
    hours = draw(st.sampled_from([23, 24, 25]))
    kind = draw(st.sampled_from(["dip", "negative", "flat_noisy", "ordinary"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    base = rng.uniform(300.0, 3000.0, hours)
    if kind == "dip":
        length = int(rng.integers(10, 16))
        first = max(0, 12 - length // 2)
        base[first : first + length] = rng.uniform(-300.0, -20.0, length)
    elif kind == "negative":
        for _ in range(int(rng.integers(1, 4))):
            start = int(rng.integers(0, hours))
            length = int(rng.integers(1, hours - start + 1))
            base[start : start + length] = rng.uniform(-1200.0, -20.0, length)
    elif kind == "flat_noisy":
        spread = draw(st.sampled_from([1.0, 50.0]))
        base = -1200.0 + rng.uniform(-spread, spread, hours)
    return base


@st.composite
def capped_battery(draw: st.DrawFn, small_lattice: bool = False) -> Battery:
    """Batteries with a cycle cap: round trips and one-way pairs (0.5 and 0.85 among them),
    1-8 h, any SoC window and start, degradation, caps 0.1-3. ``small_lattice``: only
    efficiencies whose lattice has a few levels (round trip 0.5 or 1, one way 0.5 / 1)."""
    lo = draw(st.sampled_from([0.0, 0.1, 0.2]))
    hi = draw(st.sampled_from([0.8, 0.9, 1.0]))
    small = [(0.5, None, None), (1.0, None, None), (1.0, 0.5, 1.0), (1.0, 1.0, 0.5)]
    large = [(0.85, None, None), (0.9, None, None), (1.0, 0.85, 1.0), (1.0, 1.0, 0.85),
             (1.0, 0.95, 0.95)]  # fmt: skip
    efficiency = draw(st.sampled_from(small if small_lattice else small + large))
    round_trip, charge, discharge = efficiency
    return Battery(
        power_mw=draw(st.floats(0.5, 100.0)),
        duration_h=draw(st.one_of(st.integers(1, 8), st.floats(1.0, 8.0))),
        round_trip_efficiency=round_trip,
        charge_efficiency=charge,
        discharge_efficiency=discharge,
        min_soc=lo,
        max_soc=hi,
        initial_soc=draw(st.sampled_from([None, lo, hi, 0.5 * (lo + hi), lo + 0.3 * (hi - lo)])),
        degradation_cost_mxn_per_mwh=draw(st.sampled_from([0.0, 0.0, 25.0, 300.0])),
        max_cycles_per_day=draw(st.sampled_from([0.1, 0.5, 1.0, 2.0, 3.0])),
    )


# ----------------------------------------------------------------------------- properties


@settings(max_examples=EXAMPLES)
@given(prices=capped_day_prices(), battery=capped_battery())
def test_property_search_equals_reference(prices: np.ndarray, battery: Battery) -> None:
    want = reference_optimum([prices.tolist()], battery)
    buy, sell = stored_rates(prices, battery)
    lam, mix_mxn, final_mxn = route_inputs(prices, battery)
    assert_exact(final_mxn, want)
    # the route's own pruning (its multiplier and incumbent), and the tightest incumbent (the
    # optimum itself: the optimal path must survive a floor at its own revenue)
    for incumbent in (mix_mxn, final_mxn):
        day = solve_capped_day(buy, sell, battery, lam, incumbent)
        assert isinstance(day, CappedDay), incumbent
        assert_exact(day.revenue_mxn, want)
        assert_physical(day, prices, battery)


@settings(max_examples=EXAMPLES)
@given(prices=capped_day_prices(), battery=capped_battery(small_lattice=True))
def test_property_weakest_pruning_equals_reference(prices: np.ndarray, battery: Battery) -> None:
    # no multiplier and idle as the incumbent: only the label cap bounds the search, so the
    # batteries are those whose lattice is small (a PRD battery's passes MAX_LABELS this way)
    want = reference_optimum([prices.tolist()], battery)
    buy, sell = stored_rates(prices, battery)
    day = solve_capped_day(buy, sell, battery, 0.0, 0.0)
    assert isinstance(day, CappedDay)
    assert_exact(day.revenue_mxn, want)
    assert_physical(day, prices, battery)
    lam, mix_mxn, _ = route_inputs(prices, battery)
    pruned = solve_capped_day(buy, sell, battery, lam, mix_mxn)
    assert isinstance(pruned, CappedDay)
    assert_exact(pruned.revenue_mxn, want)
    assert pruned.labels <= day.labels  # a multiplier and an incumbent only prune


@st.composite
def gap_prone_day(draw: st.DrawFn) -> tuple[np.ndarray, Battery]:
    """Days and batteries of the families where the Lagrangian route leaves duality gaps
    (``bench/bench_worst_case.py``): -1200 +- 50 (or +- 1) with round trip 0.5 and cap 2-3,
    and a real day with a solar dip (cap 2) or 90 % negative hours (cap 3), PRD battery."""
    kind = draw(st.sampled_from(["flat_noisy", "flat_noisy", "solar_dips", "negative_hours"]))
    event(kind)
    seed = draw(st.integers(0, 2**32 - 1))
    power_mw = draw(st.sampled_from([1.0, 10.0, 37.5]))
    if kind == "flat_noisy":
        spread = draw(st.sampled_from([1.0, 50.0]))
        prices = -1200.0 + np.random.default_rng(seed).uniform(-spread, spread, 24)
        cycles = draw(st.sampled_from([2.0, 3.0]))
        return prices, prd_battery(
            power_mw=power_mw, round_trip_efficiency=0.5, max_cycles_per_day=cycles
        )
    real = year_days()[draw(st.integers(0, len(year_days()) - 1))]
    if kind == "solar_dips":
        prices = with_solar_dips([real], seed)[0]
        return prices, prd_battery(power_mw=power_mw, max_cycles_per_day=2.0)
    prices = with_negative_hours([real], 0.9, seed)[0]
    return prices, prd_battery(power_mw=power_mw, max_cycles_per_day=3.0)


@settings(max_examples=EXAMPLES)
@given(case=gap_prone_day())
def test_property_gap_prone_days_equal_reference(case: tuple[np.ndarray, Battery]) -> None:
    prices, battery = case
    want = reference_optimum([prices.tolist()], battery)
    buy, sell = stored_rates(prices, battery)
    lam, mix_mxn, final_mxn = route_inputs(prices, battery)
    assert_exact(final_mxn, want)
    day = solve_capped_day(buy, sell, battery, lam, mix_mxn)
    assert isinstance(day, CappedDay)
    assert_exact(day.revenue_mxn, want)
    assert_physical(day, prices, battery)


# ----------------------------------------------------------------------------- named days


def _market_days(year: list[MarketDay], prices: list[np.ndarray]) -> list[MarketDay]:
    return [
        MarketDay(d.date, tuple(float(x) for x in p)) for d, p in zip(year, prices, strict=True)
    ]


#: the realistic families whose capped days leave a duality gap (as in
#: ``bench/bench_worst_case.py``): the real year with solar dips (seed 9), PRD cap 2; with 90 %
#: negative hours (seed 30), cap 3; 31 days of -1200 +- 50 (seed 1), round trip 0.5, cap 3
FAMILIES = ["solar dips, cap 2", "90 % negative hours, cap 3", "-1200 +- 50, round trip 0.5, cap 3"]


def family(name: str) -> tuple[list[MarketDay], Battery]:
    year = list(year_days())
    if name == FAMILIES[0]:
        return _market_days(year, with_solar_dips(year, 9)), prd_battery(max_cycles_per_day=2.0)
    if name == FAMILIES[1]:
        days = _market_days(year, with_negative_hours(year, 0.9, 30))
        return days, prd_battery(max_cycles_per_day=3.0)
    rng = np.random.default_rng(1)
    days = days_from([-1200.0 + rng.uniform(-50.0, 50.0, 24) for _ in range(31)])
    return days, prd_battery(round_trip_efficiency=0.5, max_cycles_per_day=3.0)


def gap_days(days: list[MarketDay], battery: Battery, count: int) -> list[MarketDay]:
    """The first ``count`` days the daily route hands to the label search (a duality gap
    left by the Lagrangian route), found by running the route over the whole family."""
    prices, hours = price_matrix(days)
    handed: list[np.ndarray] = []
    search = capped_day_module.solve_capped_day

    def recording(*args: Any) -> CappedDay | None:
        handed.append(np.asarray(args[0], dtype=float))
        return search(*args)

    patch = pytest.MonkeyPatch()
    patch.setattr(optimal, "solve_capped_day", recording)
    try:
        _, unsolved, route = daily_moves(prices, hour_mask(hours, prices.shape[1]), battery)
    finally:
        patch.undo()
    # the family reaches the search, and the search closes every day it is handed
    assert route.searched_days > 0
    assert route.milp_days == 0
    assert not unsolved.any()
    assert route.searched_days == len(handed)
    buy = [stored_rates(np.asarray(d.prices_mxn_per_mwh, dtype=float), battery)[0] for d in days]
    picked = [  # in date order
        d for d, b in zip(days, buy, strict=True) if any(np.array_equal(b, h) for h in handed)
    ]
    assert len(picked) >= count
    return picked[:count]


@pytest.mark.parametrize("name", FAMILIES)
def test_named_gap_days_are_closed_by_the_search(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    days, battery = family(name)
    picked = gap_days(days, battery, 3)
    prices, hours = price_matrix(picked)
    forbid_branch_and_bound(monkeypatch)  # no HiGHS branch and bound on these days
    moves, unsolved, route = daily_moves(prices, hour_mask(hours, prices.shape[1]), battery)
    assert route.searched_days == 3
    assert route.milp_days == 0
    assert not unsolved.any()
    run = run_strategy("optimal", picked, battery)
    for day, row, result in zip(picked, moves, run.days, strict=True):
        p = np.asarray(day.prices_mxn_per_mwh, dtype=float)
        want = reference_optimum([p.tolist()], battery)
        assert_exact(result.revenue_mxn, want)
        searched = CappedDay(
            row[: p.size], float(stored_revenue(row[: p.size], *stored_rates(p, battery))), 1
        )
        assert_exact(searched.revenue_mxn, want)
        assert_physical(searched, p, battery)


# ----------------------------------------------------------------------------- label cap


@pytest.mark.parametrize("name", FAMILIES)
def test_past_the_label_cap_the_days_go_to_highs(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    days, battery = family(name)
    picked = gap_days(days, battery, 2)
    monkeypatch.setattr(capped_day_module, "MAX_LABELS", 5)
    for day in picked:
        p = np.asarray(day.prices_mxn_per_mwh, dtype=float)
        buy, sell = stored_rates(p, battery)
        assert solve_capped_day(buy, sell, battery, 0.0, 0.0) is None
    prices, hours = price_matrix(picked)
    _, unsolved, route = daily_moves(prices, hour_mask(hours, prices.shape[1]), battery)
    assert route.searched_days == 0
    assert route.milp_days == 2
    assert unsolved.all()
    run = run_strategy("optimal", picked, battery)  # HiGHS decides them, still exactly
    for day, result in zip(picked, run.days, strict=True):
        assert_exact(result.revenue_mxn, reference_optimum([day.prices_mxn_per_mwh], battery))


# ----------------------------------------------------------------------------- contract


def test_a_battery_without_a_cycle_cap_is_refused() -> None:
    prices = np.linspace(-100.0, 900.0, 24)
    battery = prd_battery()
    assert battery.daily_withdrawal_cap_mwh is None
    buy, sell = stored_rates(prices, battery)
    with pytest.raises(ValueError, match="max_cycles_per_day"):
        solve_capped_day(buy, sell, battery, 0.0, 0.0)
