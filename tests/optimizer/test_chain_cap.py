"""``continuous`` horizon with a cycle cap and non-concave hours (issue 9): every route of
``optimal.chain_with_cap`` -- the LP relaxation's certificate, the Lagrangian one, that bound
re-priced day by day (``optimizer.chain_cap``), HiGHS MILPs with binaries where the
relaxations overlapped, the full MILP -- against the independent MILP of ``reference.py`` (a
binary in every hour)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer import (
    Battery,
    DeadlineExceededError,
    Horizon,
    MarketDay,
    chain_branch,
    chain_cap,
    run_strategy,
)
from optimizer.chain import Chain, follow, value_functions
from optimizer.envelope import needs_binary, stored_rates
from optimizer.settle import day_offsets
from optimizer.strategies import optimal
from optimizer.strategies.optimal import ChainCap, chain_with_cap, solve_program
from testkit.realdata import with_negative_hours, with_solar_dips
from tests.optimizer.helpers import days_from, forbid_branch_and_bound, prd_battery, real_days
from tests.optimizer.reference import reference_optimum


def assert_exact(got: float, want: float) -> None:
    assert got == pytest.approx(want, rel=1e-6, abs=1e-6)


def solved(prices: list[np.ndarray], battery: Battery) -> tuple[ChainCap, float]:
    """``chain_with_cap`` on the days and its exact revenue (MXN)."""
    days = days_from(prices)
    flat = np.concatenate(prices)
    result = chain_with_cap(flat, day_offsets(days), days, battery)
    kappa = battery.degradation_cost_mxn_per_mwh
    revenue = float(np.sum(flat * (result.discharge_mw - result.charge_mw)))
    return result, revenue - kappa * float(result.discharge_mw.sum())


REPRICED = "certified by its Lagrangian bound re-priced on "


def without_repricing(patch: pytest.MonkeyPatch) -> None:
    """``chain_cap.reprice`` proposes nothing and ``chain_branch`` is not tried: HiGHS's MILP
    is taken."""
    patch.setattr(chain_cap, "MAX_REPRICED_DAYS", 0)
    patch.setattr(chain_branch, "MAX_DAYS", 0)
    patch.setattr(chain_branch, "MAX_DENSE_DAYS", 0)


def assert_feasible(prices: list[np.ndarray], battery: Battery, result: ChainCap) -> None:
    """SPEC §2 on the chain: never both in one hour, power and SoC limits, the cap every day,
    back at soc_0 at the end (tolerances: HiGHS's 1e-7 of P and of the window)."""
    charge, discharge = result.charge_mw, result.discharge_mw
    assert not ((charge > 0) & (discharge > 0)).any()
    power, window = battery.power_mw, battery.energy_mwh * (battery.max_soc - battery.min_soc)
    assert charge.min() >= 0.0
    assert discharge.min() >= 0.0
    assert max(charge.max(), discharge.max()) <= power * (1 + 1e-9)
    stored = np.cumsum(battery.eta_charge * charge - discharge / battery.eta_discharge)
    x0 = battery.energy_mwh * (battery.soc_start - battery.min_soc)
    assert (x0 + stored).min() >= -1e-6 * window
    assert (x0 + stored).max() <= window * (1 + 1e-6)
    assert stored[-1] == pytest.approx(0.0, abs=1e-6 * window)
    offsets = day_offsets(days_from(prices))
    withdrawn = np.add.reduceat(discharge / battery.eta_discharge, offsets[:-1])
    cap = battery.daily_withdrawal_cap_mwh
    assert cap is not None
    assert (withdrawn <= cap * (1 + 1e-6) + 1e-9).all()


# ----------------------------------------------------------------------------- generators


def negative_hour_days(n: int, share: float, seed: int, first: int = 200) -> list[np.ndarray]:
    return with_negative_hours(real_days()[first : first + n], share, seed)


def solar_dip_days(n: int, seed: int = 9, first: int = 100) -> list[np.ndarray]:
    return with_solar_dips(real_days()[first : first + n], seed)


@st.composite
def negative_runs_day(draw: st.DrawFn, hours: int = 24) -> np.ndarray:
    """Ordinary prices with runs of negative, zero and flat hours, or a flat negative day."""
    if draw(st.integers(0, 5)) == 0:
        return np.full(hours, draw(st.sampled_from([-1200.0, -300.0, -0.01])))
    base = np.array(draw(st.lists(st.floats(-50, 3000), min_size=hours, max_size=hours)))
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, hours - 1))
        length = draw(st.integers(1, hours - start))
        value = draw(st.sampled_from([-1200.0, -400.0, -60.0, -0.01, 0.0, 900.0, None]))
        if value is None:  # a run of distinct negative prices
            base[start : start + length] = draw(
                st.lists(st.floats(-1200, -20), min_size=length, max_size=length)
            )
        else:
            base[start : start + length] = value
    return base


@st.composite
def capped_battery(draw: st.DrawFn) -> Battery:
    """Valid batteries with a cycle cap: any window, empty/full/between starts, losses down to
    a 0.3 round trip, degradation, 0.5-8 h."""
    lo = draw(st.sampled_from([0.0, 0.0, 0.1, 0.2]))
    hi = draw(st.sampled_from([1.0, 1.0, 0.9, 0.6]))
    return Battery(
        power_mw=draw(st.sampled_from([1.0, 10.0, 37.5])),
        duration_h=draw(st.sampled_from([0.5, 1.0, 2.0, 4.0, 8.0])),
        round_trip_efficiency=draw(st.sampled_from([0.3, 0.7, 0.85, 0.95, 1.0])),
        min_soc=lo,
        max_soc=hi,
        initial_soc=draw(st.sampled_from([None, lo, hi, (lo + hi) / 2])),
        degradation_cost_mxn_per_mwh=draw(st.sampled_from([0.0, 0.0, 25.0, 300.0])),
        max_cycles_per_day=draw(st.sampled_from([0.1, 0.5, 1.0, 2.0, 3.0])),
    )


# ----------------------------------------------------------------------------- properties


@settings(max_examples=50)
@given(
    prices=st.lists(negative_runs_day(), min_size=2, max_size=3),
    battery=capped_battery(),
)
def test_property_every_route_equals_reference(prices: list[np.ndarray], battery: Battery) -> None:
    result, revenue = solved(prices, battery)
    assert_feasible(prices, battery, result)
    assert_exact(revenue, reference_optimum(prices, battery, continuous=True))


@settings(max_examples=25)
@given(
    prices=st.lists(negative_runs_day(), min_size=2, max_size=3),
    battery=capped_battery(),
)
def test_property_the_relaxation_bounds_the_optimum(
    prices: list[np.ndarray], battery: Battery
) -> None:
    # every binary relaxed (c + d <= P): an upper bound on the capped chain optimum, and
    # every binary integral: the optimum itself
    days = days_from(prices)
    flat = np.concatenate(prices)
    offsets = day_offsets(days)
    kappa = battery.degradation_cost_mxn_per_mwh
    want = reference_optimum(prices, battery, continuous=True)
    for integral, check in ((False, "bound"), (True, "exact")):
        charge, discharge = solve_program(
            flat,
            offsets,
            battery,
            horizon=Horizon.CONTINUOUS,
            integral=np.full(flat.size, integral),
        )
        value = float(np.sum(flat * (discharge - charge)) - kappa * discharge.sum())
        if check == "bound":
            assert value >= want - 1e-6 * max(1.0, abs(want))
        else:
            assert_exact(value, want)


@settings(max_examples=25)
@given(
    prices=st.lists(negative_runs_day(), min_size=2, max_size=3),
    battery=capped_battery(),
    capped=st.booleans(),
)
def test_property_headroom_cuts_keep_the_daily_milp_exact(
    prices: list[np.ndarray], battery: Battery, capped: bool
) -> None:
    # the cuts at each day's first hour use soc_0 as the level before it (daily horizon)
    if not capped:
        battery = dataclasses.replace(battery, max_cycles_per_day=None)
    days = days_from(prices)
    flat = np.concatenate(prices)
    charge, discharge = optimal.solve_milp(flat, day_offsets(days), battery, horizon=Horizon.DAILY)
    kappa = battery.degradation_cost_mxn_per_mwh
    value = float(np.sum(flat * (discharge - charge)) - kappa * discharge.sum())
    assert_exact(value, reference_optimum(prices, battery))


@settings(max_examples=40)
@given(
    prices=st.lists(negative_runs_day(), min_size=2, max_size=3),
    battery=capped_battery(),
    priced=st.sampled_from([0.0, 0.0, 5.0, 60.0, 900.0]),
    lattice=st.booleans(),
)
def test_property_repriced_bound_is_an_upper_bound(
    prices: list[np.ndarray], battery: Battery, priced: float, lattice: bool
) -> None:
    # chain_cap.reprice from any multipliers: its bound is >= the optimum (weak duality and
    # the pass's upper bounds), a proposal that passes the checks earns at most the optimum,
    # and one that reaches its bound earns exactly the optimum; with nothing to re-price the
    # priced chain's schedule is optimal itself; from the piecewise recursion's tables or
    # from chain_cap.priced_chain's (the lattice's where it is small)
    days = days_from(prices)
    offsets = day_offsets(days)
    flat = np.concatenate(prices)
    cap = battery.daily_withdrawal_cap_mwh
    assert cap is not None
    chain = Chain.of(battery)
    buy, sell = stored_rates(flat, battery)
    lam = np.full(len(prices), priced)
    lam[::2] = 0.0  # some days priced, some not
    sell_lam = sell - np.repeat(lam, np.diff(offsets))
    if lattice:
        solution = chain_cap.priced_chain(buy, sell_lam, chain)
        tables, moves = solution.tables, solution.moves
    else:
        tables, _ = value_functions(buy, sell_lam, chain)
        moves = follow(tables, buy, sell_lam, chain, chain.x0_mwh)
    want = reference_optimum(prices, battery, continuous=True)
    tol = 1e-6 * max(1.0, abs(want))

    def revenue(m: np.ndarray) -> float:
        return float(np.sum(np.where(m > 0, -buy * m, -sell * m)))

    bound = float(np.interp(chain.x0_mwh, *tables[0])) + cap * float(lam.sum())
    assert bound >= want - tol  # weak duality
    proposal = chain_cap.reprice(buy, sell, offsets, chain, cap, lam, tables, moves)
    if proposal is None:
        withdrawn = np.add.reduceat(np.maximum(-moves, 0.0), offsets[:-1])
        slack = (lam > 0) & (withdrawn < cap * (1 - chain_cap.CAP_REL_TOL))
        if (withdrawn <= cap * (1 + chain_cap.CAP_REL_TOL)).all() and not slack.any():
            assert revenue(moves) == pytest.approx(want, rel=1e-6, abs=1e-6)
        return
    assert proposal.bound >= want - tol
    if chain_cap.feasible(proposal.moves, offsets, chain, cap):
        assert revenue(proposal.moves) <= want + tol
        if revenue(proposal.moves) >= proposal.bound - 1e-9 * max(1.0, abs(proposal.bound)):
            assert_exact(revenue(proposal.moves), want)


def planes_by_both_routes(patch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """Every evaluation of a re-priced day on the lattice (``_Day.on_grid``) recorded with the
    piecewise recursion's at the same multipliers: each one's ``L`` there (``value - lam .
    ws``), the lattice's first. The lattice's is returned to ``reprice``."""
    seen: list[tuple[float, float]] = []
    piecewise = chain_cap._Day.evaluate

    def both(day: Any, lam: Any, deadline_s: float | None) -> Any:
        grid, day.grid = day.grid, None
        try:
            plain = piecewise(day, lam, deadline_s)
        finally:
            day.grid = grid
        side = piecewise(day, lam, deadline_s)
        if grid is not None:
            seen.append(
                (side.value - float(side.lam @ side.ws), plain.value - float(plain.lam @ plain.ws))
            )
        return side

    patch.setattr(chain_cap._Day, "evaluate", both)
    return seen


@settings(max_examples=25)
@given(
    prices=st.lists(negative_runs_day(), min_size=2, max_size=3),
    battery=capped_battery(),
    priced=st.sampled_from([0.0, 5.0, 60.0]),
)
def test_property_days_are_evaluated_on_the_lattice_as_by_the_recursion(
    prices: list[np.ndarray], battery: Battery, priced: float
) -> None:
    # re-pricing from the lattice's tables evaluates each day on the lattice: at the same
    # multipliers its L is the piecewise recursion's (both the day's best, up to rounding)
    days = days_from(prices)
    offsets = day_offsets(days)
    cap = battery.daily_withdrawal_cap_mwh
    assert cap is not None
    chain = Chain.of(battery)
    buy, sell = stored_rates(np.concatenate(prices), battery)
    lam = np.full(len(prices), priced)
    lam[::2] = 0.0
    solution = chain_cap.priced_chain(buy, sell - np.repeat(lam, np.diff(offsets)), chain)
    with pytest.MonkeyPatch.context() as patch:
        seen = planes_by_both_routes(patch)
        chain_cap.reprice(buy, sell, offsets, chain, cap, lam, solution.tables, solution.moves)
    for on_grid, plain in seen:
        assert on_grid == pytest.approx(plain, rel=1e-9, abs=1e-6)


def test_a_year_s_days_are_evaluated_on_the_lattice() -> None:
    # the bench's 30 % negative hours with cap 3 over 40 days: every round of its re-pricing
    # on the lattice, each L the piecewise recursion's, and the same certified optimum
    prices = negative_hour_days(40, 0.3, seed=30, first=0)
    battery = prd_battery(max_cycles_per_day=3.0)
    with pytest.MonkeyPatch.context() as patch:
        forbid_branch_and_bound(patch)
        seen = planes_by_both_routes(patch)
        result, revenue = solved(prices, battery)
    assert result.route.startswith(REPRICED)
    assert len(seen) >= 5
    for on_grid, plain in seen:
        assert on_grid == pytest.approx(plain, rel=1e-9)
    assert_exact(revenue, reference_optimum(prices, battery, continuous=True))


@settings(max_examples=40)
@given(
    prices=st.lists(negative_runs_day(), min_size=1, max_size=4),
    battery=capped_battery(),
    shift=st.floats(-500.0, 500.0),
    on_lattice=st.booleans(),
)
def test_property_priced_chain_equals_the_piecewise_recursion(
    prices: list[np.ndarray], battery: Battery, shift: float, on_lattice: bool
) -> None:
    # the lattice's value functions agree with the piecewise recursion's at the lattice's
    # levels (x0 among them), and its schedule earns its value (without a lattice: the
    # piecewise recursion's own)
    flat = np.concatenate(prices)
    chain = Chain.of(battery)
    buy, sell = stored_rates(flat, battery)
    sell = sell - shift * (np.arange(flat.size) % 3 == 0)  # any rates, not only prices'
    with pytest.MonkeyPatch.context() as patch:
        if not on_lattice:
            patch.setattr("optimizer.chain.MAX_LATTICE_LEVELS", 0)
        solution = chain_cap.priced_chain(buy, sell, chain)
    assert solution.route.startswith("lattice" if on_lattice else "piecewise")
    tables, _ = value_functions(buy, sell, chain)
    scale = 1e-9 * max(1.0, abs(solution.value))
    assert solution.value == pytest.approx(float(np.interp(chain.x0_mwh, *tables[0])), abs=scale)
    moves = solution.moves
    earned = float(np.sum(np.where(moves > 0, -buy * moves, -sell * moves)))
    assert earned == pytest.approx(solution.value, abs=scale)
    assert chain_cap.feasible(moves, np.array([0, flat.size]), chain, np.inf)
    for t in (0, flat.size // 2):
        xs, vs = solution.tables[t]
        assert np.interp(xs, *tables[t]) == pytest.approx(vs, abs=scale)


# ----------------------------------------------------------------------------- named cases


@pytest.mark.parametrize("cap", [0.5, 1.0])
def test_solar_dips_are_certified_by_the_relaxation(cap: float) -> None:
    # the bench's slowest family once (3.6 s of MILP for a year): the LP relaxation's optimum
    # never charges and discharges at once, so it is the exact optimum; no branch and bound
    prices = solar_dip_days(4)
    battery = prd_battery(max_cycles_per_day=cap)
    result, revenue = solved(prices, battery)
    assert result.route == "certified by its LP relaxation"
    assert not result.milp
    assert_feasible(prices, battery, result)
    assert_exact(revenue, reference_optimum(prices, battery, continuous=True))


@pytest.mark.parametrize("cap", [0.5, 1.0, 3.0])
def test_negative_hours_are_certified_by_the_relaxation(cap: float) -> None:
    prices = negative_hour_days(3, 0.3, seed=30)
    battery = prd_battery(max_cycles_per_day=cap)
    result, revenue = solved(prices, battery)
    assert result.route == "certified by its LP relaxation"
    assert_feasible(prices, battery, result)
    assert_exact(revenue, reference_optimum(prices, battery, continuous=True))


def test_flat_negative_days_fall_to_the_lagrangian_certificate() -> None:
    # flat -1200: the relaxation burns energy (c and d at once) in an optimal vertex; the
    # daily capped schedule meets its bound instead
    prices = [np.full(24, -1200.0)] * 4
    battery = prd_battery(max_cycles_per_day=1.0)
    result, revenue = solved(prices, battery)
    assert result.route == "certified by its Lagrangian bound"
    assert not result.milp
    assert_feasible(prices, battery, result)
    assert_exact(revenue, reference_optimum(prices, battery, continuous=True))


def test_headroom_cuts_take_the_chain_level_before_each_day() -> None:
    # on the chain the level before a day's first hour is where the day before ended, not
    # soc_0: starting full, day 1 sells at 2000 and day 2 opens with 3 hours at -1200 that pay
    # to charge into the room day 1 made (a cut that took soc_0 there loses a third)
    second = np.full(24, 2000.0)
    second[:3] = -1200.0
    prices = [np.full(24, 2000.0), second]
    battery = prd_battery(initial_soc=1.0, max_cycles_per_day=1.0)
    result, revenue = solved(prices, battery)
    assert_feasible(prices, battery, result)
    assert_exact(revenue, reference_optimum(prices, battery, continuous=True))


@pytest.mark.parametrize(
    ("n", "share", "cap", "seed", "route"),
    [
        (3, 0.3, 3.0, 38, "1 day (8 Newton rounds)"),
        (3, 0.5, 3.0, 36, "1 day (8 Newton rounds)"),
        (8, 0.5, 3.0, 33, "2 days (17 Newton rounds)"),
        # broken days next to each other (or one day apart): one run, its multipliers by
        # cutting planes, the mix of the schedules active at their minimum
        (3, 0.5, 3.0, 35, "2 days (17 cutting-plane rounds)"),
        (4, 0.5, 3.0, 42, "3 days (10 cutting-plane rounds)"),
        (8, 0.5, 3.0, 34, "3 days (8 Newton rounds, 8 cutting-plane rounds)"),
    ],
)
def test_repriced_lagrangian_bound_certifies_without_binaries(
    n: int, share: float, cap: float, seed: int, route: str
) -> None:
    # the relaxation is not tight and the uncapped chain withdraws above the cap on some
    # days: each such day's multiplier found exactly between the chain's value functions
    # (optimizer.chain_cap); the mix of the schedules optimal there meets the bound
    prices = negative_hour_days(n, share, seed=seed)
    battery = prd_battery(max_cycles_per_day=cap)
    with pytest.MonkeyPatch.context() as patch:
        forbid_branch_and_bound(patch)
        result, revenue = solved(prices, battery)
    assert result.route == REPRICED + route
    assert not result.milp
    assert_feasible(prices, battery, result)
    assert_exact(revenue, reference_optimum(prices, battery, continuous=True))


def test_repricing_starts_again_from_the_uncapped_chain() -> None:
    # without runs of days, the daily multipliers' chain breaks complementary slackness on
    # two adjacent days (no proposal: their windows would meet); the uncapped chain breaks
    # the cap on one day only
    prices = negative_hour_days(3, 0.5, seed=34)
    battery = prd_battery(max_cycles_per_day=3.0)
    with pytest.MonkeyPatch.context() as patch:
        forbid_branch_and_bound(patch)
        patch.setattr(chain_cap, "MAX_RUN_DAYS", 1)
        result, revenue = solved(prices, battery)
    assert result.route == REPRICED + "1 day (8 Newton rounds, from the uncapped chain)"
    assert_feasible(prices, battery, result)
    assert_exact(revenue, reference_optimum(prices, battery, continuous=True))


@pytest.mark.parametrize("first", [54, 174])
def test_solar_dips_with_cap_3_are_certified_by_the_repriced_bound(first: int) -> None:
    # the bench's slowest family once (6.8 s of MILP for a year): the uncapped chain exceeds
    # the cap on one day; its multiplier alone closes the gap
    prices = solar_dip_days(3, first=first)
    battery = prd_battery(max_cycles_per_day=3.0)
    with pytest.MonkeyPatch.context() as patch:
        forbid_branch_and_bound(patch)
        result, revenue = solved(prices, battery)
    assert result.route.startswith(REPRICED + "1 day")
    assert_feasible(prices, battery, result)
    assert_exact(revenue, reference_optimum(prices, battery, continuous=True))


@pytest.mark.parametrize(("share", "seed"), [(0.3, 38), (0.5, 36)])
def test_uncertified_chains_are_solved_by_highs(share: float, seed: int) -> None:
    # without the re-priced bound the relaxation is not tight (or its optimum overlaps):
    # one MILP with a binary in every non-concave hour
    prices = negative_hour_days(3, share, seed=seed)
    battery = prd_battery(max_cycles_per_day=3.0)
    with pytest.MonkeyPatch.context() as patch:
        without_repricing(patch)
        result, revenue = solved(prices, battery)
    binaries = int(needs_binary(np.concatenate(prices), battery).sum())
    assert result.route == f"HiGHS MILP over the chain, {binaries} binaries (all)"
    assert result.milp
    assert_feasible(prices, battery, result)
    assert_exact(revenue, reference_optimum(prices, battery, continuous=True))


def test_a_deadline_in_the_chains_branch_and_bound_says_what_would_answer() -> None:
    # the one route without a bound fixed in advance: its 503 names it, and the requests
    # that are exact in bounded time
    prices = negative_hour_days(3, 0.3, seed=38)
    battery = prd_battery(max_cycles_per_day=3.0)
    solve_milp = optimal.solve_milp

    def passed(*args: Any, **kwargs: Any) -> Any:  # the deadline passes as HiGHS starts
        return solve_milp(*args, **{**kwargs, "deadline_s": -1.0})

    binaries = int(needs_binary(np.concatenate(prices), battery).sum())
    with pytest.MonkeyPatch.context() as patch:
        without_repricing(patch)
        patch.setattr(optimal, "solve_milp", passed)
        with pytest.raises(DeadlineExceededError) as caught:
            solved(prices, battery)
    message = str(caught.value)
    assert message.startswith("the request's deadline passed before HiGHS started (")
    assert f"continuous chain under the daily cycle limit, {binaries} binaries" in message
    assert "the daily horizon, or the chain without max_cycles_per_day" in message


def test_repricing_that_runs_out_of_rounds_falls_back_to_highs() -> None:
    prices = negative_hour_days(3, 0.3, seed=38)
    battery = prd_battery(max_cycles_per_day=3.0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chain_cap, "NEWTON_MAX_ROUNDS", 2)
        patch.setattr(chain_branch, "MAX_DAYS", 0)
        patch.setattr(chain_branch, "MAX_DENSE_DAYS", 0)
        result, revenue = solved(prices, battery)
    assert result.milp
    assert_feasible(prices, battery, result)
    assert_exact(revenue, reference_optimum(prices, battery, continuous=True))


@pytest.mark.parametrize("lattice", [True, False])
def test_the_bound_pass_stops_where_the_chain_forgets_the_repriced_days(lattice: bool) -> None:
    # the pass recurses only until its V differs from the priced chain's by a constant; never
    # stopping (a spread that nothing meets) recurses every hour before the days and gives
    # the same bound (from the lattice's tables or the piecewise recursion's)
    prices = negative_hour_days(12, 0.5, seed=42)
    battery = prd_battery(max_cycles_per_day=3.0)
    days = days_from(prices)
    offsets = day_offsets(days)
    flat = np.concatenate(prices)
    chain = Chain.of(battery)
    buy, sell = stored_rates(flat, battery)
    with pytest.MonkeyPatch.context() as patch:
        if not lattice:
            patch.setattr("optimizer.chain.MAX_LATTICE_LEVELS", 0)
        solution = chain_cap.priced_chain(buy, sell, chain)
    assert solution.route.startswith("lattice" if lattice else "piecewise")
    tables, moves = solution.tables, solution.moves
    cap = battery.daily_withdrawal_cap_mwh
    assert cap is not None
    lam = np.zeros(len(days))
    recursed: list[int] = []
    counting = value_functions

    def counted(b: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        recursed.append(b.size)
        return counting(b, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chain_cap, "value_functions", counted)
        short = chain_cap.reprice(buy, sell, offsets, chain, cap, lam, tables, moves)
        hours_short = sum(recursed)
        recursed.clear()
        patch.setattr(chain_cap, "SPREAD_REL", -1.0)
        full = chain_cap.reprice(buy, sell, offsets, chain, cap, lam, tables, moves)
        hours_full = sum(recursed)
    assert short is not None
    assert full is not None
    assert short.days >= 1
    assert short.bound == pytest.approx(full.bound, rel=1e-12)
    assert hours_short < hours_full


def test_dispatch_uses_the_certified_schedule() -> None:
    prices = solar_dip_days(3)
    battery = prd_battery(max_cycles_per_day=1.0)
    _, revenue = solved(prices, battery)
    run = run_strategy("optimal", days_from(prices), battery, horizon=Horizon.CONTINUOUS)
    assert_exact(sum(day.revenue_mxn for day in run.days), revenue)
    assert all(day.cycles <= 1.0 + 1e-9 for day in run.days)


@pytest.mark.parametrize("lattice", [True, False])
def test_a_passed_deadline_stops_the_priced_chain_and_the_repricing(lattice: bool) -> None:
    prices = negative_hour_days(3, 0.3, seed=38)
    battery = prd_battery(max_cycles_per_day=3.0)
    offsets = day_offsets(days_from(prices))
    chain = Chain.of(battery)
    buy, sell = stored_rates(np.concatenate(prices), battery)
    cap = battery.daily_withdrawal_cap_mwh
    assert cap is not None
    with pytest.MonkeyPatch.context() as patch:
        if not lattice:
            patch.setattr("optimizer.chain.MAX_LATTICE_LEVELS", 0)
        with pytest.raises(DeadlineExceededError, match="deadline passed"):
            chain_cap.priced_chain(buy, sell, chain, deadline_s=-1.0)
        solution = chain_cap.priced_chain(buy, sell, chain)
    lam = np.zeros(len(prices))
    args = (buy, sell, offsets, chain, cap, lam, solution.tables, solution.moves)
    assert chain_cap.reprice(*args) is not None  # a day to re-price
    with pytest.raises(DeadlineExceededError, match="deadline passed"):
        chain_cap.reprice(*args, deadline_s=-1.0)


def test_a_passed_deadline_stops_the_relaxation() -> None:
    prices = solar_dip_days(2)
    days: list[MarketDay] = days_from(prices)
    with pytest.raises(DeadlineExceededError, match="deadline passed"):
        chain_with_cap(
            np.concatenate(prices),
            day_offsets(days),
            days,
            prd_battery(max_cycles_per_day=1.0),
            deadline_s=-1.0,
        )


@settings(max_examples=40, deadline=None)
@given(
    days=st.integers(1, 6),
    planes=st.integers(1, 30),
    box=st.floats(0.1, 1000.0),
    seed=st.integers(0, 2**16),
)
def test_property_kelley_master_is_the_lp_solved_anew(
    days: int, planes: int, box: float, seed: int
) -> None:
    # KelleyMaster (one HiGHS model extended plane by plane, each solve from the last basis)
    # against scipy's linprog solving the whole master LP anew at every round: the same
    # minimum, multipliers inside the box reaching it, and weights whose mix of withdrawals
    # keeps the cap where the box does not bind (the master's dual)
    from scipy.optimize import linprog

    rng = np.random.default_rng(seed)
    cap = float(rng.uniform(1.0, 10.0))
    values = rng.uniform(-1e5, 1e5, planes)
    ws = rng.uniform(0.0, 2.0 * cap, (planes, days))
    ws[0] = 0.0  # idling, a schedule of every chain: L's minimum is finite
    master = chain_cap.KelleyMaster(days, cap, chain_branch.MASTER_OPTIONS)
    for i in range(planes):
        master.add(float(values[i]), ws[i])
        center = rng.uniform(0.0, box, days)
        low, high = np.maximum(center - box / 4, 0.0), center + box / 4
        got = master.solve(low, high)
        want = linprog(
            np.append(np.full(days, cap), 1.0),
            A_ub=np.hstack((-ws[: i + 1], -np.ones((i + 1, 1)))),
            b_ub=-values[: i + 1],
            bounds=[*zip(low, high, strict=True), (None, None)],
            method="highs",
        )
        assert want.status == 0
        assert got is not None
        scale = 1.0 + float(np.abs(values).max())
        assert got.value == pytest.approx(float(want.fun), rel=1e-9, abs=1e-9 * scale)
        assert ((got.lam >= low - 1e-9) & (got.lam <= high + 1e-9)).all()
        planes_there = values[: i + 1] - ws[: i + 1] @ got.lam + cap * got.lam.sum()
        assert float(planes_there.max()) == pytest.approx(got.value, rel=1e-9, abs=1e-9 * scale)
        assert got.weights.shape == (i + 1,)
    # with a box no multiplier reaches, the weights mix the planes within the cap
    free = master.solve(np.zeros(days), np.full(days, 1e9))
    assert free is not None
    assert float(free.weights.sum()) == pytest.approx(1.0, rel=1e-9)
    assert (free.weights @ ws <= cap * (1.0 + 1e-9) + 1e-9).all()
    assert float(free.weights @ values) == pytest.approx(free.value, rel=1e-9, abs=1e-6)
