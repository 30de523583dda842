"""``optimizer.capped_day``: the exact optimum of one capped day by a label search.

Checked against the independent MILP of ``reference.py`` on single days of 23-25 hours of
every family that reaches it (solar dips, negative hours, very negative days flat but for
noise, flat days, ordinary prices), with the physics of its moves checked hour by hour: under
the daily route's own pruning (its multiplier and the revenue of its Lagrangian mix), the
optimum itself as the incumbent, any multiplier with a feasible incumbent, and the weakest
pruning (no multiplier, idle); its place in ``optimal``'s daily route on gap-prone days and
named gap days of the realistic families; the way back to HiGHS past its label cap."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from optimizer import Battery, MarketDay, capped_day, run_strategy
from optimizer.capped_day import CappedDay, solve_capped_day
from optimizer.chain import Chain
from optimizer.envelope import stored_rates, stored_revenue, to_grid
from optimizer.strategies import optimal
from optimizer.strategies.optimal import daily_moves
from testkit.realdata import with_negative_hours, with_solar_dips, year_days
from tests.optimizer.helpers import days_from, forbid_branch_and_bound, prd_battery, real_days
from tests.optimizer.reference import reference_optimum

#: hypothesis examples of the broad property (each: one reference MILP, three or four searches)
EXAMPLES = 60


def assert_exact(got: float, want: float) -> None:
    assert got == pytest.approx(want, rel=1e-6, abs=1e-6)


# ----------------------------------------------------------------------------- strategies

#: real APATZINGAN days by their number of hours (23, 24, 25)
REAL_BY_HOURS = {
    hours: [d for d in real_days() if len(d.prices_mxn_per_mwh) == hours] for hours in (23, 24, 25)
}


@st.composite
def capped_day_prices(draw: st.DrawFn) -> np.ndarray:
    """One day of 23, 24 or 25 hours (MXN/MWh): a real day with a solar dip (10-15 hours at
    -300..-20 around noon), with runs of negative hours (down to -1200), a very negative day
    flat but for noise (or flat), or ordinary prices (a real day as it was, or any in 50..3000)."""
    hours = draw(st.sampled_from([23, 24, 25]))
    kind = draw(st.sampled_from(["dip", "negative", "flat_noisy", "ordinary"]))
    event(kind)
    real = draw(st.sampled_from(REAL_BY_HOURS[hours]))
    prices = np.array(real.prices_mxn_per_mwh, dtype=float)
    if kind == "dip":
        length = draw(st.integers(10, 15))
        first = max(0, 12 - length // 2)
        prices[first : first + length] = draw(
            st.lists(st.floats(-300.0, -20.0), min_size=length, max_size=length)
        )
    elif kind == "negative":
        for _ in range(draw(st.integers(1, 4))):
            start = draw(st.integers(0, hours - 1))
            length = draw(st.integers(1, hours - start))
            prices[start : start + length] = draw(
                st.lists(st.floats(-1200.0, -20.0), min_size=length, max_size=length)
            )
    elif kind == "flat_noisy":
        level = draw(st.sampled_from([-1200.0, -300.0, -20.0, -0.01, 450.0]))
        spread = draw(st.sampled_from([0.0, 1.0, 50.0]))  # 0: flat, every hour tied
        noise = draw(st.lists(st.floats(-spread, spread), min_size=hours, max_size=hours))
        prices = level + np.array(noise)
    elif draw(st.booleans()):
        prices = np.array(draw(st.lists(st.floats(50.0, 3000.0), min_size=hours, max_size=hours)))
    return prices


@st.composite
def capped_battery(draw: st.DrawFn) -> Battery:
    """Batteries with a cycle cap: round trips and one-way pairs (0.5 and 0.85 among them),
    1-8 h, SoC windows and starts (empty, full, between), degradation, caps 0.1-3."""
    lo = draw(st.sampled_from([0.0, 0.1, 0.2]))
    hi = draw(st.sampled_from([0.8, 0.9, 1.0]))
    one_way = draw(st.sampled_from([None, (0.85, 1.0), (1.0, 0.85), (0.5, 1.0), (0.95, 0.95)]))
    return Battery(
        power_mw=draw(st.sampled_from([1.0, 10.0, 37.5])),
        duration_h=draw(st.one_of(st.integers(1, 8), st.floats(1.0, 8.0))),
        round_trip_efficiency=draw(
            st.one_of(st.sampled_from([0.5, 0.85, 0.9, 1.0]), st.floats(0.5, 1.0))
        ),
        charge_efficiency=one_way[0] if one_way else None,
        discharge_efficiency=one_way[1] if one_way else None,
        min_soc=lo,
        max_soc=hi,
        initial_soc=draw(st.sampled_from([None, lo, hi, 0.5 * (lo + hi), lo + 0.3 * (hi - lo)])),
        degradation_cost_mxn_per_mwh=draw(st.sampled_from([0.0, 0.0, 25.0, 300.0])),
        max_cycles_per_day=draw(
            st.one_of(st.sampled_from([0.1, 0.5, 1.0, 2.0, 3.0]), st.floats(0.1, 3.0))
        ),
    )


@st.composite
def small_lattice_battery(draw: st.DrawFn) -> Battery:
    """Capped batteries whose lattice has few levels (round trip 0.5 or 1, no one-way pair):
    the search stays far below ``MAX_LABELS`` even with no pruning at all."""
    lo = draw(st.sampled_from([0.0, 0.1]))
    hi = draw(st.sampled_from([0.9, 1.0]))
    return Battery(
        power_mw=draw(st.sampled_from([1.0, 10.0])),
        duration_h=draw(st.integers(1, 8)),
        round_trip_efficiency=draw(st.sampled_from([0.5, 1.0])),
        min_soc=lo,
        max_soc=hi,
        initial_soc=draw(st.sampled_from([None, lo, hi, 0.5 * (lo + hi)])),
        degradation_cost_mxn_per_mwh=draw(st.sampled_from([0.0, 25.0, 300.0])),
        max_cycles_per_day=draw(st.sampled_from([0.1, 0.5, 1.0, 2.0, 3.0])),
    )


# ----------------------------------------------------------------------------- checks


def assert_physical(day: CappedDay, prices: np.ndarray, battery: Battery) -> None:
    """The moves keep the battery's physics (SPEC §2: SoC window, back at the start, one
    hour's power, the daily withdrawal cap) and earn the revenue reported, on both sides."""
    chain = Chain.of(battery)
    W, x0, C, D = chain.width_mwh, chain.x0_mwh, chain.up_mwh, chain.down_mwh
    cap_mwh = battery.daily_withdrawal_cap_mwh
    assert cap_mwh is not None
    tol_mwh = 1e-9 * max(W, C, D)
    moves = np.asarray(day.moves, dtype=float)
    assert moves.shape == prices.shape
    assert np.isfinite(moves).all()
    level = x0 + np.cumsum(moves)
    assert level.min() >= -tol_mwh
    assert level.max() <= W + tol_mwh
    assert level[-1] == pytest.approx(x0, abs=tol_mwh)
    assert moves.max() <= C + tol_mwh
    assert moves.min() >= -D - tol_mwh
    assert float(np.sum(np.maximum(-moves, 0.0))) <= cap_mwh + tol_mwh
    buy, sell = stored_rates(prices, battery)
    assert day.revenue_mxn == pytest.approx(float(stored_revenue(moves, buy, sell)), rel=1e-12)
    charge_mw, discharge_mw = to_grid(moves[None], battery)
    kappa = battery.degradation_cost_mxn_per_mwh
    grid_mxn = float(np.sum(prices * (discharge_mw - charge_mw)) - kappa * np.sum(discharge_mw))
    assert_exact(grid_mxn, day.revenue_mxn)


@contextmanager
def label_budget(labels: int) -> Iterator[list[int]]:
    """``MAX_LABELS`` set to ``labels`` for the block; yields the label counts the searches
    reached (the last count of each search is where it stopped, past the cap or done)."""
    reached: list[int] = []
    count = capped_day._Search.count

    def counting(search: capped_day._Search, more: int) -> None:
        try:
            count(search, more)
        finally:
            reached.append(search.labels)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(capped_day, "MAX_LABELS", labels)
        patch.setattr(capped_day._Search, "count", counting)
        yield reached


def route_pruning(prices: np.ndarray, battery: Battery) -> tuple[float, float, bool]:
    """What ``optimal``'s daily route hands the search for this one day: its cycle-cap
    multiplier (0 where the rounds ran out), the revenue of its schedule before the search
    (the Lagrangian mix on a day with a duality gap, else the certified optimum), and whether
    it left the day open (the search kept from running: ``MAX_LABELS`` 0)."""
    matrix = prices[None, :]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(capped_day, "MAX_LABELS", 0)
        moves, unsolved, route, multipliers = optimal._daily(
            matrix, np.ones(matrix.shape, dtype=bool), battery, None
        )
    assert route.searched_days == 0
    buy, sell = stored_rates(prices, battery)
    mix_mxn = float(stored_revenue(moves[0], buy, sell))
    return float(np.nan_to_num(multipliers[0], nan=0.0)), mix_mxn, bool(unsolved[0])


# ----------------------------------------------------------------------------- properties

#: the label budget of a search in the properties where pruning may be weak (past it, ~0.3 s)
BUDGET = 1_000_000


def search_within_budget(
    prices: np.ndarray, battery: Battery, lam: float, incumbent_mxn: float, want_mxn: float
) -> CappedDay | None:
    """The search with ``BUDGET`` as its label cap: the optimum, or None only past the cap
    (pruning may be weak, and on days with many ties -- flat prices -- even the best pruning
    keeps tens of millions of labels)."""
    buy, sell = stored_rates(prices, battery)
    with label_budget(BUDGET) as reached:
        day = solve_capped_day(buy, sell, battery, lam, incumbent_mxn)
    if day is None:
        event("a search past the budget")
        assert reached[-1] > BUDGET
        return None
    assert day.labels == reached[-1] <= BUDGET
    assert_exact(day.revenue_mxn, want_mxn)
    assert_physical(day, prices, battery)
    return day


def route_call(
    prices: np.ndarray, battery: Battery, lam: float, mix_mxn: float, want_mxn: float
) -> CappedDay | None:
    """The route's own call (its multiplier and its mix's revenue) under the module's
    ``MAX_LABELS``: the optimum, or None only past the cap (the route then asks HiGHS)."""
    buy, sell = stored_rates(prices, battery)
    with label_budget(capped_day.MAX_LABELS) as reached:
        day = solve_capped_day(buy, sell, battery, lam, mix_mxn)
    if day is None:
        assert reached[-1] > capped_day.MAX_LABELS
        return None
    assert_exact(day.revenue_mxn, want_mxn)
    assert_physical(day, prices, battery)
    return day


@settings(max_examples=EXAMPLES)
@given(
    prices=capped_day_prices(),
    battery=capped_battery(),
    any_lam=st.one_of(st.floats(0.0, 3000.0), st.just(1e6)),
    share=st.sampled_from([0.0, 0.5, 0.9]),
)
def test_property_search_equals_reference(
    prices: np.ndarray, battery: Battery, any_lam: float, share: float
) -> None:
    want_mxn = reference_optimum([prices.tolist()], battery)
    lam, mix_mxn, gap = route_pruning(prices, battery)
    event("duality gap" if gap else "no duality gap")
    if gap:
        # the route's call: its multiplier and its mix's revenue (a feasible schedule)
        assert mix_mxn <= want_mxn + 1e-6 * max(1.0, abs(want_mxn))
        route_call(prices, battery, lam, mix_mxn, want_mxn)
        search_within_budget(prices, battery, lam, mix_mxn, want_mxn)  # the same, further
        optimum_mxn = want_mxn
    else:
        assert_exact(mix_mxn, want_mxn)  # the route's certified schedule
        optimum_mxn = mix_mxn
    # the tightest incumbent there is, the optimum itself: the optimal path must survive it
    search_within_budget(prices, battery, lam, optimum_mxn, want_mxn)
    # the weakest: no multiplier, idle as the incumbent
    search_within_budget(prices, battery, 0.0, 0.0, want_mxn)
    # any multiplier (the bound holds for every one) and a feasible incumbent: the route's
    # moves scaled towards idle (the SoC path a mean of two feasible ones) earn share * theirs
    search_within_budget(prices, battery, any_lam, share * mix_mxn, want_mxn)


@settings(max_examples=25)
@given(prices=capped_day_prices(), battery=small_lattice_battery())
def test_property_weakest_pruning_equals_reference(prices: np.ndarray, battery: Battery) -> None:
    # no multiplier and idle as the incumbent: nothing but dominance prunes, and on a small
    # lattice the search must finish under the module's own MAX_LABELS
    want_mxn = reference_optimum([prices.tolist()], battery)
    buy, sell = stored_rates(prices, battery)
    day = solve_capped_day(buy, sell, battery, 0.0, 0.0)
    assert isinstance(day, CappedDay)
    assert_exact(day.revenue_mxn, want_mxn)
    assert_physical(day, prices, battery)
    lam, mix_mxn, _ = route_pruning(prices, battery)
    pruned = solve_capped_day(buy, sell, battery, lam, mix_mxn)
    assert isinstance(pruned, CappedDay)
    assert_exact(pruned.revenue_mxn, want_mxn)


@st.composite
def gap_prone_case(draw: st.DrawFn) -> tuple[np.ndarray, Battery]:
    """A day and a battery of the families whose capped days leave a duality gap, built as
    ``bench/bench_worst_case.py`` builds them (testkit's generators, from a drawn seed): a
    real day with a solar dip, PRD battery, cap 2; a real day with 90 % of its hours
    negative, cap 3; -1200 +- 50 (uniform), round trip 0.5, cap 3 -- the last, where most
    days have a gap, drawn twice as often. Power and start vary around the PRD battery's."""
    kind = draw(st.sampled_from(["solar dips", "90 % negative hours", *["-1200 +- 50"] * 2]))
    event(kind)
    hours = draw(st.sampled_from([23, 24, 24, 25]))
    real = draw(st.sampled_from(REAL_BY_HOURS[hours]))
    seed = draw(st.integers(0, 2**32 - 1))
    common = {
        "power_mw": draw(st.sampled_from([10.0, 10.0, 1.0, 37.5])),
        "initial_soc": draw(st.sampled_from([None, None, 0.1, 0.55, 1.0])),
    }
    if kind == "solar dips":
        prices = with_solar_dips([real], seed)[0]
        return prices, prd_battery(max_cycles_per_day=2.0, **common)
    if kind == "90 % negative hours":
        prices = with_negative_hours([real], 0.9, seed)[0]
        return prices, prd_battery(max_cycles_per_day=3.0, **common)
    prices = -1200.0 + np.random.default_rng(seed).uniform(-50.0, 50.0, hours)
    return prices, prd_battery(round_trip_efficiency=0.5, max_cycles_per_day=3.0, **common)


@settings(max_examples=40)
@given(case=gap_prone_case())
def test_property_gap_prone_days_equal_reference(case: tuple[np.ndarray, Battery]) -> None:
    # the days the search is there for: the route's own call, and the route closing the day
    prices, battery = case
    want_mxn = reference_optimum([prices.tolist()], battery)
    buy, sell = stored_rates(prices, battery)
    lam, mix_mxn, gap = route_pruning(prices, battery)
    event("duality gap" if gap else "no duality gap")
    searched = False
    if gap:  # the route's call, and the same with a larger label budget
        searched = route_call(prices, battery, lam, mix_mxn, want_mxn) is not None
        event("closed by the search" if searched else "past MAX_LABELS: HiGHS")
        search_within_budget(prices, battery, lam, mix_mxn, want_mxn)
    else:  # a call the route never makes: the optimum as the incumbent
        assert_exact(mix_mxn, want_mxn)
        search_within_budget(prices, battery, lam, mix_mxn, want_mxn)
    matrix = prices[None, :]
    moves, unsolved, route = daily_moves(matrix, np.ones(matrix.shape, dtype=bool), battery)
    assert route.searched_days == int(searched)  # the search closed it, else HiGHS
    assert route.milp_days == int(gap and not searched)
    assert unsolved.sum() == route.milp_days
    assert_exact(float(stored_revenue(moves[0], buy, sell)), want_mxn)


# ----------------------------------------------------------------------------- named gap days


def gap_family(name: str) -> tuple[list[np.ndarray], Battery, list[int]]:
    """The realistic families whose capped days leave a duality gap (as
    ``bench/bench_worst_case.py`` builds them): the benchmarks' real year with solar dips
    (seed 9), PRD battery, cap 2; with 90 % negative hours (seed 30), cap 3; 31 days of
    -1200 +- 50 (seed 1), round trip 0.5, cap 3; and three of each family's gap days."""
    if name == "solar dips, cap 2":
        return with_solar_dips(year_days(), 9), prd_battery(max_cycles_per_day=2.0), [4, 7, 78]
    if name == "90 % negative hours, cap 3":
        prices = with_negative_hours(year_days(), 0.9, 30)
        return prices, prd_battery(max_cycles_per_day=3.0), [5, 45, 63]
    rng = np.random.default_rng(1)
    prices = [-1200.0 + rng.uniform(-50.0, 50.0, 24) for _ in range(31)]
    return prices, prd_battery(round_trip_efficiency=0.5, max_cycles_per_day=3.0), [0, 2, 5]


GAP_FAMILIES = ["solar dips, cap 2", "90 % negative hours, cap 3", "-1200 +- 50, rt 0.5, cap 3"]


def picked_days(name: str) -> tuple[list[MarketDay], Battery]:
    prices, battery, picked = gap_family(name)
    return days_from([prices[i] for i in picked], "2016-01-29"), battery


def matrix_of(days: list[MarketDay]) -> tuple[np.ndarray, np.ndarray]:
    prices = np.array([d.prices_mxn_per_mwh for d in days], dtype=float)
    return prices, np.ones(prices.shape, dtype=bool)


@pytest.mark.parametrize("name", GAP_FAMILIES)
def test_named_gap_days_are_closed_by_the_search(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    days, battery = picked_days(name)
    prices, movable = matrix_of(days)
    wants_mxn = [reference_optimum([p.tolist()], battery) for p in prices]
    for p, want_mxn in zip(prices, wants_mxn, strict=True):
        # a gap day: the Lagrangian route alone leaves it open, its mix short of the optimum
        lam, mix_mxn, gap = route_pruning(p, battery)
        assert gap
        assert mix_mxn < want_mxn - 1e-6 * abs(want_mxn)
        assert lam > 0.0
        assert route_call(p, battery, lam, mix_mxn, want_mxn) is not None
    forbid_branch_and_bound(monkeypatch)  # the search, not HiGHS, closes them
    moves, unsolved, route = daily_moves(prices, movable, battery)
    assert route.searched_days == len(days)
    assert route.milp_days == 0
    assert not unsolved.any()
    run = run_strategy("optimal", days, battery)
    for p, row, result, want_mxn in zip(prices, moves, run.days, wants_mxn, strict=True):
        assert_exact(result.revenue_mxn, want_mxn)
        buy, sell = stored_rates(p, battery)
        searched = CappedDay(row, float(stored_revenue(row, buy, sell)), 0)
        assert_exact(searched.revenue_mxn, want_mxn)
        assert_physical(searched, p, battery)


def test_a_repeated_gap_day_is_searched_once_and_counted_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prices, battery, picked = gap_family("solar dips, cap 2")
    day = np.asarray(prices[picked[0]], dtype=float)
    calls: list[int] = []
    search = capped_day.solve_capped_day

    def counted(*args: Any, **kwargs: Any) -> CappedDay | None:
        calls.append(1)
        return search(*args, **kwargs)

    monkeypatch.setattr(optimal, "solve_capped_day", counted)
    matrix = np.stack([day, day])
    moves, unsolved, route = daily_moves(matrix, np.ones(matrix.shape, dtype=bool), battery)
    assert len(calls) == 1  # identical days are solved once
    assert route.searched_days == 2  # and both are reported
    assert route.milp_days == 0
    assert not unsolved.any()
    np.testing.assert_array_equal(moves[0], moves[1])
    want_mxn = reference_optimum([day.tolist()], battery)
    buy, sell = stored_rates(day, battery)
    assert_exact(float(stored_revenue(moves[0], buy, sell)), want_mxn)


# ----------------------------------------------------------------------------- label cap


@pytest.mark.parametrize("name", GAP_FAMILIES)
def test_past_the_label_cap_the_days_go_to_highs(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    days, battery = picked_days(name)
    prices, movable = matrix_of(days)
    monkeypatch.setattr(capped_day, "MAX_LABELS", 10)
    for p in prices:
        lam, mix_mxn, _ = route_pruning(p, battery)
        buy, sell = stored_rates(p, battery)
        assert solve_capped_day(buy, sell, battery, lam, mix_mxn) is None
        assert solve_capped_day(buy, sell, battery, 0.0, 0.0) is None
    _, unsolved, route = daily_moves(prices, movable, battery)
    assert route.searched_days == 0
    assert route.milp_days == len(days)
    assert unsolved.all()
    run = run_strategy("optimal", days, battery)  # HiGHS decides them, still exactly
    for p, result in zip(prices, run.days, strict=True):
        assert_exact(result.revenue_mxn, reference_optimum([p.tolist()], battery))


def test_the_label_cap_is_the_labels_counted() -> None:
    # a search that keeps exactly MAX_LABELS labels finishes; one label fewer and it gives up
    prices, battery, picked = gap_family("solar dips, cap 2")
    buy, sell = stored_rates(prices[picked[0]], battery)
    lam, mix_mxn, _ = route_pruning(prices[picked[0]], battery)
    day = solve_capped_day(buy, sell, battery, lam, mix_mxn)
    assert isinstance(day, CappedDay)
    assert day.labels > 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(capped_day, "MAX_LABELS", day.labels)
        again = solve_capped_day(buy, sell, battery, lam, mix_mxn)
        assert isinstance(again, CappedDay)
        assert again.labels == day.labels
        np.testing.assert_array_equal(again.moves, day.moves)
        patch.setattr(capped_day, "MAX_LABELS", day.labels - 1)
        assert solve_capped_day(buy, sell, battery, lam, mix_mxn) is None


# ----------------------------------------------------------------------------- contract


def test_a_battery_without_a_cycle_cap_is_refused() -> None:
    battery = prd_battery()
    assert battery.daily_withdrawal_cap_mwh is None
    buy, sell = stored_rates(np.linspace(-300.0, 900.0, 24), battery)
    with pytest.raises(ValueError, match="max_cycles_per_day"):
        solve_capped_day(buy, sell, battery, 0.0, 0.0)
