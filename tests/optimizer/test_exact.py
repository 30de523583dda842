"""``optimal`` is exact on every valid request, the hard ones included (issue 9): flat and very
negative prices, batteries starting full, cycle caps over negative hours, the continuous
chain, extreme batteries -- each against the independent MILP of ``reference.py``."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer import Battery, DeadlineExceededError, Horizon, chain, lattice, run_strategy
from optimizer.chain import solve_chain
from optimizer.envelope import stored_rates, stored_revenue, to_grid
from optimizer.lattice import chain_levels, make_lattice, solve
from optimizer.strategies import optimal
from optimizer.strategies._days import guard_faults
from optimizer.strategies.optimal import daily_moves
from testkit.realdata import with_negative_hours, with_solar_dips
from tests.optimizer.helpers import (
    assert_same_chain,
    days_from,
    forbid_branch_and_bound,
    prd_battery,
    real_days,
)
from tests.optimizer.reference import reference_optimum


def assert_exact(got: float, want: float) -> None:
    assert got == pytest.approx(want, rel=1e-6, abs=1e-6)


def day_totals(days: list, battery: Battery, horizon: Horizon = Horizon.DAILY) -> list[float]:
    run = run_strategy("optimal", days, battery, horizon=horizon)
    for day in run.days:  # SPEC §2: never both in one hour
        assert not ((day.charge_mw > 0) & (day.discharge_mw > 0)).any()
    return [d.revenue_mxn for d in run.days]


# ----------------------------------------------------------------------------- strategies


@st.composite
def hard_day(draw: st.DrawFn, hours: int = 24) -> np.ndarray:
    """Flat days (-1200, -0.01, 0, positive), solar dips, and runs of negative, zero and flat
    hours between ordinary prices."""
    kind = draw(st.sampled_from(["flat", "dip", "runs"]))
    if kind == "flat":
        return np.full(hours, draw(st.sampled_from([-1200.0, -300.0, -0.01, 0.0, 450.0])))
    base = np.array(draw(st.lists(st.floats(50, 3000), min_size=hours, max_size=hours)))
    if kind == "dip":
        length = draw(st.integers(10, min(15, hours)))
        first = max(0, 12 - length // 2)
        base[first : first + length] = draw(
            st.lists(st.floats(-300, -20), min_size=length, max_size=length)
        )
        return base
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, hours - 1))
        length = draw(st.integers(1, hours - start))
        base[start : start + length] = draw(st.sampled_from([-1200.0, -0.01, 0.0, -60.0, 900.0]))
    return base


@st.composite
def any_battery(draw: st.DrawFn, cap: bool = True, small_windows: bool = False) -> Battery:
    """Any battery the schema accepts: efficiencies down to 0.01 (round trip), durations
    0.01-168 h, any SoC window and start (empty, full, between), degradation, caps 0.1-100.
    With ``small_windows`` SoC windows down to 1e-9 of the energy too: for the product's
    path (``run_strategy``), which states them in the power their window can use
    (``optimal.power_unit_mw``); the internal routes take windows of 1 % or more."""
    lo = draw(st.floats(0.0, 0.95))
    shares = st.floats(lo + 0.01, 1.0)
    if small_windows:
        tiny = st.floats(-9.0, -2.0).map(lambda share: min(1.0, lo + 10.0**share))
        shares = st.one_of(shares, tiny)
    hi = draw(shares)
    one_way = draw(st.booleans())
    charge = draw(st.floats(0.1, 1.0)) if one_way else None
    discharge = draw(st.floats(max(0.01, 0.01 / charge), 1.0)) if charge else None
    return Battery(
        power_mw=draw(st.floats(0.01, 500.0)),
        duration_h=draw(
            st.one_of(st.sampled_from([0.01, 0.25, 4.0, 24.0, 168.0]), st.floats(0.01, 168.0))
        ),
        round_trip_efficiency=draw(st.floats(0.01, 1.0)),
        charge_efficiency=charge,
        discharge_efficiency=discharge,
        min_soc=lo,
        max_soc=hi,
        initial_soc=draw(st.sampled_from([None, lo, hi, 0.5 * (lo + hi)])),
        degradation_cost_mxn_per_mwh=draw(st.sampled_from([0.0, 0.0, 25.0, 300.0])),
        max_cycles_per_day=(
            draw(st.one_of(st.none(), st.sampled_from([0.1, 0.5, 1.0, 2.0, 100.0])))
            if cap
            else None
        ),
    )


# ----------------------------------------------------------------------------- properties


@settings(max_examples=150)
@given(
    prices=st.lists(st.sampled_from([23, 24, 25]).flatmap(hard_day), min_size=1, max_size=3),
    battery=any_battery(small_windows=True),
)
def test_property_daily_equals_reference(prices: list[np.ndarray], battery: Battery) -> None:
    totals = day_totals(days_from(prices), battery)
    for p, total in zip(prices, totals, strict=True):
        assert_exact(total, reference_optimum([p], battery))


def test_the_reference_is_exact_on_revenues_of_micro_pesos() -> None:
    """23 hours of -0.01 MXN/MWh at round trip 0.99999: the optimum burns for 2.2e-6 MXN.
    The reference stopped at 0 within HiGHS's absolute MIP gap (1e-6) until its costs were
    scaled (hypothesis found it once ``any_battery`` drew small windows, stop 30)."""
    battery = Battery(power_mw=2.0, duration_h=4.0, round_trip_efficiency=0.99999)
    prices = np.full(23, -0.01)
    want = reference_optimum([prices], battery)
    assert want == pytest.approx(2.2e-6, rel=1e-4)
    assert day_totals(days_from([prices]), battery)[0] == pytest.approx(want, abs=0.5e-6)


@settings(max_examples=40)
@given(first=hard_day(), second=st.sampled_from([23, 24, 25]).flatmap(hard_day),
       battery=any_battery(cap=False, small_windows=True))  # fmt: skip
def test_property_continuous_equals_reference(
    first: np.ndarray, second: np.ndarray, battery: Battery
) -> None:
    total = sum(day_totals(days_from([first, second]), battery, Horizon.CONTINUOUS))
    assert_exact(total, reference_optimum([first, second], battery, continuous=True))


@settings(max_examples=150)
@given(prices=st.sampled_from([23, 24, 25]).flatmap(hard_day), battery=any_battery(cap=False))
def test_property_chain_of_one_day_equals_lattice(prices: np.ndarray, battery: Battery) -> None:
    # two exact methods that share no code: one day's chain is the daily problem (and the
    # chain's own route, its lattice when small, agrees with both)
    buy, sell = stored_rates(prices, battery)
    piecewise = chain.solve_piecewise(buy, sell, battery)
    routed = solve_chain(buy, sell, battery)
    moves, best = solve(buy[None, :], sell[None, :], np.ones((1, prices.size), bool), battery)
    assert_exact(piecewise.value, float(best[0]))
    assert_exact(routed.value, float(best[0]))
    for path in (piecewise.moves, routed.moves, moves[0]):  # each schedule earns its value
        revenue = np.sum(np.where(path > 0, -buy * path, -sell * path))
        assert_exact(float(revenue), float(best[0]))


@settings(max_examples=60)
@given(
    prices=st.lists(st.sampled_from([23, 24, 25]).flatmap(hard_day), min_size=2, max_size=4),
    battery=any_battery(cap=False),
)
def test_property_chain_shortcuts_equal_the_general_step(
    prices: list[np.ndarray], battery: Battery
) -> None:
    # the chain's slope merges from a concave V (optimizer.chain) against its general window
    # step alone: two exact computations of the same value function must agree, and each
    # schedule must earn its value
    p = np.concatenate(prices)
    buy, sell = stored_rates(p, battery)
    fast = chain.solve_piecewise(buy, sell, battery)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chain, "_concave_pieces", lambda *_: None)
        general = chain.solve_piecewise(buy, sell, battery)
    assert_exact(fast.value, general.value)
    for path in (fast.moves, general.moves):
        revenue = np.sum(np.where(path > 0, -buy * path, -sell * path))
        assert_exact(float(revenue), general.value)


@st.composite
def lattice_battery(draw: st.DrawFn) -> Battery:
    """Batteries whose chain lattice is small: round trips of a few digits (C / D = the round
    trip), any SoC window and start, short durations."""
    lo = draw(st.sampled_from([0.0, 0.1, 0.2]))
    hi = draw(st.sampled_from([0.8, 0.9, 1.0]))
    return Battery(
        power_mw=draw(st.sampled_from([1.0, 10.0, 250.0])),
        duration_h=draw(st.sampled_from([0.01, 0.25, 1.0, 2.0, 4.0])),
        round_trip_efficiency=draw(st.sampled_from([1.0, 0.9, 0.85, 0.81, 0.64, 0.5])),
        min_soc=lo,
        max_soc=hi,
        initial_soc=draw(st.sampled_from([None, lo, hi, 0.5 * (lo + hi), lo + 0.37 * (hi - lo)])),
        degradation_cost_mxn_per_mwh=draw(st.sampled_from([0.0, 25.0, 300.0])),
    )


@settings(max_examples=80)
@given(
    prices=st.lists(st.sampled_from([23, 24, 25]).flatmap(hard_day), min_size=2, max_size=4),
    battery=lattice_battery(),
)
def test_property_chain_lattice_equals_the_piecewise_recursion(
    prices: list[np.ndarray], battery: Battery
) -> None:
    # the chain on its lattice (optimizer.lattice.chain_levels) against the piecewise-linear
    # recursion: two exact methods, the same optimum, each schedule feasible and earning it
    p = np.concatenate(prices)
    buy, sell = stored_rates(p, battery)
    routed = solve_chain(buy, sell, battery)
    assert routed.route.startswith("lattice of")
    piecewise = chain.solve_piecewise(buy, sell, battery)
    assert_exact(routed.value, piecewise.value)
    geometry = chain.Chain.of(battery)
    grid = lattice.chain_lattice(
        geometry.width_mwh, geometry.x0_mwh, geometry.up_mwh, geometry.down_mwh, 4096
    )
    assert grid is not None
    by_reduceat = lattice.chain_values(buy, sell, grid, sparse=False)
    by_table = lattice.chain_values(buy, sell, grid, sparse=True)
    np.testing.assert_array_equal(by_reduceat, by_table)  # two ways to the window maxima
    for path in (routed.moves, piecewise.moves):
        revenue = np.sum(np.where(path > 0, -buy * path, -sell * path))
        assert_exact(float(revenue), piecewise.value)
        assert not settlement_faults(path, battery)  # power, SoC window, back at x0


def settlement_faults(moves: np.ndarray, battery: Battery) -> list[str]:
    """What settlement's own rules find wrong with a chain's stored-energy moves, as one
    ``continuous`` chain, at half of settlement's tolerances (``_days.guard_faults``)."""
    charge, discharge = to_grid(moves[None, :], battery)
    offsets = np.array([0, moves.size])
    return guard_faults(charge[0], discharge[0], offsets, battery, horizon=Horizon.CONTINUOUS)


@pytest.mark.parametrize("round_trip", [0.77777, 0.8736])
def test_a_short_chain_takes_a_lattice_bounded_by_its_hours(round_trip: float) -> None:
    # a round trip whose moves are not commensurate: the whole closure has no end, but a
    # 2-day chain needs only the levels at most 48 whole moves from 0, W and x0 -- a finite
    # lattice, the same optimum as the piecewise recursion and the reference MILP
    prices = with_negative_hours(real_days()[:2], 0.4, seed=11)
    battery = prd_battery(round_trip_efficiency=round_trip, initial_soc=0.37)
    flat = np.concatenate(prices)
    buy, sell = stored_rates(flat, battery)
    geometry = chain.Chain.of(battery)
    whole = (
        geometry.width_mwh,
        geometry.x0_mwh,
        geometry.up_mwh,
        geometry.down_mwh,
        chain.MAX_LATTICE_LEVELS,
    )
    assert chain_levels(*whole) is None  # no end within the limit
    routed = solve_chain(buy, sell, battery)
    assert routed.route.startswith("lattice of")
    assert chain.lattice_of(geometry, flat.size, closed=True) is None
    assert_exact(routed.value, chain.solve_piecewise(buy, sell, battery).value)
    assert_exact(routed.value, reference_optimum(prices, battery, continuous=True))
    assert not settlement_faults(routed.moves, battery)


@pytest.mark.parametrize("horizon", list(Horizon))
def test_a_level_a_hair_from_another_cosets_is_not_one_move_away(horizon: Horizon) -> None:
    # (found in review) x0 9e-10 above empty on a 168-hour battery: its coset's levels lie
    # 1.5e-6 MWh from the empty coset's; with a window slack of 1e-9 of W that counted as a
    # move of C, 1.5e-7 of P over settlement's power limit (PhysicsViolationError)
    battery = Battery(
        power_mw=10.0,
        duration_h=168.0,
        charge_efficiency=1.0,
        discharge_efficiency=0.5,
        initial_soc=9e-10,
    )
    rng = np.random.default_rng(0)
    prices = [np.round(rng.uniform(-1200, 3000, 24), 0) for _ in range(2)]
    run = run_strategy("optimal", days_from(prices), battery, horizon=horizon)
    assert max(float(day.charge_mw.max()) for day in run.days) <= battery.power_mw
    total = sum(day.revenue_mxn for day in run.days)
    assert_exact(
        total, reference_optimum(prices, battery, continuous=horizon is Horizon.CONTINUOUS)
    )


def test_chain_lattice_of_the_prd_battery() -> None:
    # C / D = 0.85 = 17 / 20: the levels reachable from 0, W and x0 by whole moves are
    # D / 20 apart on each of the three cosets, and the set is closed under every move that
    # stays in [0, W]; a 168-hour battery's lattice is too large and takes the piecewise route
    battery = prd_battery(initial_soc=0.37)
    geometry = chain.Chain.of(battery)
    levels = chain_levels(
        geometry.width_mwh, geometry.x0_mwh, geometry.up_mwh, geometry.down_mwh, 10_000
    )
    assert levels is not None
    assert geometry.x0_mwh in levels.tolist()
    assert levels[0] == 0.0
    assert levels[-1] == geometry.width_mwh
    merge = 1e-12 * geometry.width_mwh
    assert (np.diff(levels) > merge).all()
    for step in (geometry.up_mwh, -geometry.down_mwh, -geometry.up_mwh, geometry.down_mwh):
        moved = levels + step
        moved = moved[(moved >= 0.0) & (moved <= geometry.width_mwh)]
        gap = np.abs(levels[levels.searchsorted(moved).clip(0, levels.size - 1)] - moved)
        below = np.abs(levels[(levels.searchsorted(moved) - 1).clip(0)] - moved)
        assert (np.minimum(gap, below) <= 1e-9 * geometry.width_mwh).all()
    spacing = geometry.down_mwh / 20
    for anchor in (0.0, geometry.width_mwh, geometry.x0_mwh):  # each coset is a lattice of D / 20
        offsets = (levels - anchor) / spacing
        on_coset = np.abs(offsets - np.round(offsets)) < 1e-6
        below_anchor, above_anchor = anchor / spacing, (geometry.width_mwh - anchor) / spacing
        assert on_coset.sum() == int(below_anchor) + int(above_anchor) + 1
    assert levels.size <= chain.MAX_LATTICE_LEVELS
    big = chain.Chain.of(prd_battery(duration_h=168.0, initial_soc=0.5))
    assert (
        chain_levels(big.width_mwh, big.x0_mwh, big.up_mwh, big.down_mwh, chain.MAX_LATTICE_LEVELS)
        is None
    )
    prices = np.full(744, -300.0)  # 31 days: too many levels within 744 moves too
    assert solve_chain(prices, prices, prd_battery(duration_h=168.0)).route.startswith("piecewise")


def test_a_long_chain_on_a_large_lattice_takes_the_piecewise_route() -> None:
    # levels x (hours + 1) values are bounded: a chain whose values do not fit keeps every
    # k-th hour's (up to MAX_KEPT_LEVELS levels), and beyond that takes the piecewise
    # recursion -- the same optimum each way
    prices = np.concatenate(with_negative_hours(real_days()[:3], 0.4, seed=5))
    battery = prd_battery(round_trip_efficiency=0.87, initial_soc=0.5)
    buy, sell = stored_rates(prices, battery)
    grid = chain.lattice_of(chain.Chain.of(battery), prices.size)
    assert grid is not None
    levels = grid.levels.size
    small = solve_chain(buy, sell, battery)
    assert small.route == f"lattice of {levels} levels"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chain, "MAX_LATTICE_ENTRIES", levels * prices.size)  # an hour short
        kept = solve_chain(buy, sell, battery)
        patch.setattr(chain, "MAX_KEPT_LEVELS", levels - 1)
        large = solve_chain(buy, sell, battery)
    assert kept.route == f"lattice of {levels} levels, every 2 hours' values kept"
    np.testing.assert_array_equal(kept.moves, small.moves)
    assert kept.value == small.value
    assert large.route.startswith("piecewise")
    assert_exact(large.value, small.value)
    want = reference_optimum(list(np.reshape(prices, (3, 24))), battery, continuous=True)
    assert_exact(small.value, want)


def _chain_keeps_its_rules(moves: np.ndarray, battery: Battery) -> None:
    c = chain.Chain.of(battery)
    levels = c.x0_mwh + np.cumsum(moves)
    assert levels.min() >= -1e-9
    assert levels.max() <= c.width_mwh + 1e-9
    assert abs(levels[-1] - c.x0_mwh) <= 1e-9
    assert (moves <= c.up_mwh + 1e-9).all()
    assert (moves >= -c.down_mwh - 1e-9).all()


def test_a_chain_whose_breakpoints_would_cost_more_gives_way_to_its_lattice() -> None:
    # One-way 0.92 / 0.92 has 2,071 levels, above MAX_KEPT_LEVELS, so the chain starts with
    # the piecewise recursion; over nearly flat very negative prices that meets ~300
    # breakpoints an hour, which the work model prices above the whole lattice, so after
    # CHECK_EVERY hours the chain is solved on the lattice instead (a year: 1.7 -> 0.76 s).
    # The same optimum as the recursion run to its end.
    rng = np.random.default_rng(1)
    prices = -1200.0 + rng.uniform(-1.0, 1.0, 60 * 24)
    battery = prd_battery(charge_efficiency=0.92, discharge_efficiency=0.92)
    buy, sell = stored_rates(prices, battery)
    with pytest.MonkeyPatch.context() as patch:  # values of 60 days held as a year's are
        patch.setattr(chain, "MAX_LATTICE_ENTRIES", 1_000_000)
        assert chain.lattice_of(chain.Chain.of(battery), prices.size) is None
        got = solve_chain(buy, sell, battery)
    assert got.route.startswith("lattice of 2071 levels, every 3 hours' values kept")
    assert "gave way at hour" in got.route
    plain = chain.solve_piecewise(buy, sell, battery)
    assert plain.route.startswith("piecewise")
    assert_exact(got.value, plain.value)
    assert_exact(float(stored_revenue(got.moves, buy, sell)), got.value)
    _chain_keeps_its_rules(got.moves, battery)


def test_the_lattice_forward_pass_checks_the_deadline() -> None:
    # after a switch the forward pass recomputes the kept rows' hours between: on thousands
    # of levels as long as the backward pass (review: 0.67 s past a deadline), so it checks
    # the deadline too
    prices = -1200.0 + np.random.default_rng(2).uniform(-1.0, 1.0, 600)
    battery = prd_battery(charge_efficiency=0.92, discharge_efficiency=0.92)
    buy, sell = stored_rates(prices, battery)
    grid = lattice.chain_lattice(36.0, 0.0, 0.92 * 10.0, 10.0 / 0.92, 9000, prices.size)
    assert grid is not None
    kept = lattice.chain_values(buy, sell, grid, every=4)
    rows = lattice.ChainValues(kept, 4, buy, sell, grid)
    moves = lattice.chain_moves(rows, buy, sell, grid, deadline_s=time.monotonic() + 3600.0)
    assert moves.size == prices.size
    with pytest.raises(DeadlineExceededError, match="deadline passed"):
        lattice.chain_moves(rows, buy, sell, grid, deadline_s=time.monotonic() - 1.0)


def test_a_chain_with_few_breakpoints_stays_with_the_piecewise_recursion() -> None:
    # the same battery over 40 real days with 30 % of hours negative: a few breakpoints, an
    # hour cheaper than the lattice's, so the recursion runs to its end
    prices = np.concatenate(with_negative_hours(real_days()[:40], 0.3, seed=5))
    battery = prd_battery(charge_efficiency=0.92, discharge_efficiency=0.92)
    buy, sell = stored_rates(prices, battery)
    searched: list[int] = []  # the largest lattice each search allowed

    def chain_lattice(*args: Any) -> lattice.Lattice | None:
        searched.append(args[4])
        return lattice_search(*args)

    lattice_search = lattice.chain_lattice
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chain, "MAX_LATTICE_ENTRIES", 1_000_000)
        patch.setattr(lattice, "chain_lattice", chain_lattice)
        got = solve_chain(buy, sell, battery)
        # cheaper than any lattice could be: the lattice to give way to is not looked for
        # (the one search is lattice_of's, for the lattice solved on directly: here up to
        # MAX_KEPT_LEVELS, the values of 40 days on more levels not fitting)
        assert searched == [chain.MAX_KEPT_LEVELS]
        # a lattice that costs nothing: the recursion gives way to it
        patch.setattr(chain, "WORK", chain.WorkModel(lattice_us=0.0, lattice_entry_us=0.0))
        forced = solve_chain(buy, sell, battery)
    assert got.route.startswith("piecewise")
    assert "gave way" in forced.route
    assert_exact(forced.value, got.value)
    _chain_keeps_its_rules(forced.moves, battery)


def test_the_recursion_gives_way_to_a_lattice_of_tens_of_thousands_of_levels() -> None:
    # a 168-h battery at round trip 0.87 has a lattice of 28,206 levels (more than the 9,000
    # once looked for): over prices drifting far below zero the recursion's breakpoints run
    # to thousands (a year: ~34 s; on that lattice ~6 s). Here 25 days, the switch forced by
    # a lattice the model prices at nothing: the lattice's optimum is the recursion's
    battery = prd_battery(duration_h=168.0, round_trip_efficiency=0.87)
    prices = np.cumsum(np.random.default_rng(1).normal(0.0, 5.0, 600)) - 5000.0
    buy, sell = stored_rates(prices, battery)
    plain = chain.solve_piecewise(buy, sell, battery)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chain, "WORK", chain.WorkModel(lattice_us=0.0, lattice_entry_us=0.0))
        forced = solve_chain(buy, sell, battery)
    assert forced.route.startswith("lattice of 28206 levels")
    assert "gave way" in forced.route
    with pytest.MonkeyPatch.context() as patch:  # no margin passes: the rent paid decides
        patch.setattr(chain, "WORK", chain.WorkModel(lattice_us=1.0, lattice_entry_us=0.0))
        patch.setattr(chain, "SWITCH_MARGIN_LEVELS", 1e-9)
        rented = solve_chain(buy, sell, battery)
    assert rented.route == forced.route
    assert_exact(forced.value, plain.value)
    assert_exact(float(stored_revenue(forced.moves, buy, sell)), plain.value)
    _chain_keeps_its_rules(forced.moves, battery)


def test_a_burst_of_breakpoints_that_fades_does_not_send_the_recursion_to_a_huge_lattice() -> None:
    # review: an ordinary year whose last 60 days drift far below zero (processed first by the
    # backward recursion) gives a 168-h battery at round trip 0.87 thousands of breakpoints
    # at the first check, then ten once the burst ends: costing the hours left at the burst's
    # count sent it to its lattice of 47,009 levels (3.7-5.1 s, where the recursion takes
    # ~1.1 s). The margin grows with the lattice; the same year, drifting throughout, still
    # gives way (the rent paid reaching the lattice's price)
    battery = Battery(power_mw=10.0, duration_h=168.0, round_trip_efficiency=0.87, initial_soc=0.5)
    rng = np.random.default_rng(4)
    hours = np.arange(8784)
    prices = 1500.0 + 700.0 * np.sin((hours % 24 - 8) / 24 * 2 * np.pi) + rng.normal(0, 80, 8784)
    prices[-24 * 60 :] = np.cumsum(rng.normal(0.0, 5.0, 24 * 60)) - 5000.0
    buy, sell = stored_rates(prices, battery)
    got = solve_chain(buy, sell, battery)
    assert got.route.startswith("piecewise")
    with pytest.MonkeyPatch.context() as patch:  # without the margin it gives way
        patch.setattr(chain, "SWITCH_MARGIN_LEVELS", 1e12)
        assert "gave way" in solve_chain(buy, sell, battery).route


# ----------------------------------------------------------------------------- named families


def test_flat_very_negative_days() -> None:
    days = days_from([np.full(24, -1200.0)] * 5)
    battery = prd_battery()
    want = reference_optimum([np.full(24, -1200.0)], battery)
    assert want > 0  # cycling is paid
    for total in day_totals(days, battery):
        assert_exact(total, want)


def test_constant_minus_one_cent_for_a_month() -> None:
    prices = np.full(24, -0.01)
    totals = day_totals(days_from([prices] * 31), prd_battery())
    want = reference_optimum([prices], prd_battery())
    for total in totals:
        assert_exact(total, want)


@pytest.mark.parametrize("value", [-1200.0, -40.0])
def test_battery_starting_full_on_flat_negative_days(value: float) -> None:
    battery = prd_battery(initial_soc=1.0)
    prices = np.full(24, value)
    for total in day_totals(days_from([prices, prices]), battery):
        assert_exact(total, reference_optimum([prices], battery))


def solar_dip_days(n: int, seed: int = 9) -> list[np.ndarray]:
    return with_solar_dips(real_days()[100 : 100 + n], seed)


@pytest.mark.parametrize("cap", [1.0, 0.1, 2.5])
def test_solar_dips_with_a_cycle_cap(cap: float) -> None:
    prices = solar_dip_days(6)
    battery = prd_battery(max_cycles_per_day=cap)
    run = run_strategy("optimal", days_from(prices), battery)
    for p, day in zip(prices, run.days, strict=True):
        assert day.cycles <= cap + 1e-9
        assert_exact(day.revenue_mxn, reference_optimum([p], battery))


def test_solar_dips_are_certified_without_highs() -> None:
    # the cap binds on every day and the Lagrangian certificate holds: no MILP fallback
    prices = np.array(solar_dip_days(20))
    battery = prd_battery(max_cycles_per_day=1.0)
    _, unsolved, route = daily_moves(prices, np.ones(prices.shape, bool), battery)
    assert route.capped_days == 20
    assert route.lattice_days == 20
    assert not unsolved.any()
    assert route.milp_days == 0


def test_continuous_with_negative_hours() -> None:
    rng = np.random.default_rng(30)
    prices = []
    for day in real_days()[200:203]:
        p = np.array(day.prices_mxn_per_mwh, dtype=float)
        hit = rng.random(p.size) < 0.3
        p[hit] = rng.uniform(-1200.0, -20.0, int(hit.sum()))
        prices.append(p)
    battery = prd_battery(initial_soc=0.5)
    total = sum(day_totals(days_from(prices), battery, Horizon.CONTINUOUS))
    assert_exact(total, reference_optimum(prices, battery, continuous=True))
    assert total >= sum(day_totals(days_from(prices), battery)) - 1e-6


def test_week_long_battery_over_solar_dips() -> None:
    prices = solar_dip_days(3)
    battery = prd_battery(duration_h=168.0, initial_soc=1.0)
    for p, total in zip(prices, day_totals(days_from(prices), battery), strict=True):
        assert_exact(total, reference_optimum([p], battery))
    chain = sum(day_totals(days_from(prices), battery, Horizon.CONTINUOUS))
    assert_exact(chain, reference_optimum(prices, battery, continuous=True))


@pytest.mark.parametrize("duration_h", [0.25, 4.0, 168.0])
def test_chain_in_and_out_of_concave_stretches(duration_h: float) -> None:
    # ordinary days (every hour concave, V concave: slope merges), a run of very negative
    # hours (V turns non-concave: the general step), and ordinary days again, on the chain
    days = [np.array(d.prices_mxn_per_mwh, dtype=float) for d in real_days()[40:44]]
    days[1][3:20] = [-1200.0, -5.0, -300.0, -0.01, 0.0] * 3 + [-1200.0, 40.0]
    days[2][10:14] = -60.0
    battery = prd_battery(duration_h=duration_h, initial_soc=0.5, degradation_cost_mxn_per_mwh=25.0)
    total = sum(day_totals(days_from(days), battery, Horizon.CONTINUOUS))
    assert_exact(total, reference_optimum(days, battery, continuous=True))


def negative_hour_days(n: int, share: float = 0.3, seed: int = 30) -> list[np.ndarray]:
    return with_negative_hours(real_days()[200 : 200 + n], share, seed)


def test_continuous_cap_that_never_binds_is_the_chain_optimum() -> None:
    # the uncapped chain optimum withdraws less than the cap every day (optimal for the
    # capped problem too): a certificate finds the optimum, no branch and bound is run
    prices = negative_hour_days(3)
    battery = prd_battery(initial_soc=0.5, max_cycles_per_day=50.0)

    with pytest.MonkeyPatch.context() as patch:
        forbid_branch_and_bound(patch)
        run = run_strategy("optimal", days_from(prices), battery, horizon=Horizon.CONTINUOUS)
    total = sum(day.revenue_mxn for day in run.days)
    assert_exact(total, reference_optimum(prices, battery, continuous=True))
    assert all(day.cycles <= 50.0 for day in run.days)


@pytest.mark.parametrize(
    ("value", "cap", "start"),
    [(-1200.0, 1.0, None), (-1200.0, 0.5, 1.0), (-40.0, 2.0, 0.5), (-0.01, 1.0, None)],
)
def test_continuous_cap_on_flat_negative_days_is_certified(
    value: float, cap: float, start: float | None
) -> None:
    # the daily capped schedule meets the bound of the LP relaxation or the chain's
    # Lagrangian one (optimal.chain_with_cap): optimal on the chain, no MILP
    prices = [np.full(24, value)] * 4
    battery = prd_battery(max_cycles_per_day=cap, initial_soc=start)

    with pytest.MonkeyPatch.context() as patch:
        forbid_branch_and_bound(patch)
        run = run_strategy("optimal", days_from(prices), battery, horizon=Horizon.CONTINUOUS)
    assert all(day.cycles <= cap + 1e-9 for day in run.days)
    total = sum(day.revenue_mxn for day in run.days)
    assert_exact(total, reference_optimum(prices, battery, continuous=True))


@settings(max_examples=40)
@given(first=hard_day(), second=st.sampled_from([23, 24, 25]).flatmap(hard_day),
       battery=any_battery(cap=True, small_windows=True))  # fmt: skip
def test_property_continuous_with_caps_equals_reference(
    first: np.ndarray, second: np.ndarray, battery: Battery
) -> None:
    total = sum(day_totals(days_from([first, second]), battery, Horizon.CONTINUOUS))
    assert_exact(total, reference_optimum([first, second], battery, continuous=True))


@pytest.mark.parametrize("cap", [0.5, 1.0])
def test_continuous_binding_cap_over_negative_hours(cap: float) -> None:
    prices = negative_hour_days(3)
    battery = prd_battery(initial_soc=0.5, max_cycles_per_day=cap)
    uncapped = solve_chain(
        np.concatenate(prices) / battery.eta_charge,
        np.concatenate(prices) * battery.eta_discharge,
        battery,
    )
    assert not optimal.within_cap(
        uncapped.moves, np.array([0, 24, 48, 72]), battery.daily_withdrawal_cap_mwh
    )  # the cap binds: this is the HiGHS route
    run = run_strategy("optimal", days_from(prices), battery, horizon=Horizon.CONTINUOUS)
    assert all(day.cycles <= cap + 1e-9 for day in run.days)
    total = sum(day.revenue_mxn for day in run.days)
    assert_exact(total, reference_optimum(prices, battery, continuous=True))


def test_simplify_keeps_two_close_kinks() -> None:
    # each of two neighbouring points lies within tol_v of the chord of its neighbours (one
    # of them is on a straight piece, the other next to a very close point), yet together
    # they are a real kink: dropping both would raise V by 0.5 at x = 1
    x = np.array([0.0, 1.0, 1.0 + 1e-7, 2.0])
    v = np.array([0.0, 0.0, 0.0, 1.0 - 1e-7])
    xs, vs = chain._simplify(x, v, 1e-9, 1e-6)
    assert np.interp(1.0, xs, vs) == pytest.approx(0.0, abs=1e-6)
    assert np.interp(1.5, xs, vs) == pytest.approx(0.5, abs=1e-6)
    assert xs.size == 3  # the straight piece's inner point goes


@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=300),
    st.lists(st.tuples(st.integers(0, 299), st.integers(-5, 300)), min_size=1, max_size=60),
    st.booleans(),
)
@settings(max_examples=300)
def test_window_maxima_of_the_general_step_by_either_method(
    values: list[float], windows: list[tuple[int, int]], sparse: bool
) -> None:
    # the general step's window maxima (reduceat or sparse table) are the brute-force
    # maxima of every non-empty window, to the bit
    f = np.asarray([*values, 0.0])
    begin = np.array([min(b, f.size - 1) for b, _ in windows]).reshape(1, -1)
    end = np.clip(begin + np.array([[n for _, n in windows]]), begin, f.size - 1)  # as counts
    got = chain._window_maxima(f, np.concatenate((begin, end)), sparse)
    assert got.shape == begin.shape
    for b, e, m in zip(begin.ravel(), end.ravel(), got.ravel(), strict=True):
        if e > b:
            assert m == f[b:e].max()


@pytest.mark.parametrize("family", ["-1200 +- 1", "solar dips, 168 h"])
def test_general_step_is_the_same_by_reduceat_and_by_sparse_table(
    family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the whole recursion (values, breakpoints, schedule) does not depend on which method
    # found the window maxima: 20 days where windows hold many breakpoints
    rng = np.random.default_rng(4)
    if family == "-1200 +- 1":
        prices = -1200.0 + rng.uniform(-1.0, 1.0, 480)
        battery = prd_battery(charge_efficiency=0.95, discharge_efficiency=0.95)
    else:
        prices = np.concatenate(with_solar_dips(real_days()[:20]))
        battery = prd_battery(duration_h=168.0, initial_soc=0.5)
    buy, sell = stored_rates(prices, battery)
    solved = []
    for ratio in (0.0, 1e18):  # always the sparse table / always reduceat
        monkeypatch.setattr(chain, "SPARSE_RATIO", ratio)
        solved.append(chain.solve_piecewise(buy, sell, battery))
    table, reduceat = solved
    assert_same_chain(table, reduceat)


@given(
    st.lists(st.integers(-3, 3), min_size=30, max_size=200),
    st.floats(0.0, 1.0),
    st.integers(-4, 1),
    st.integers(0, 3),
)
@settings(max_examples=300)
def test_a_wide_window_picks_the_same_move_in_numpy(
    values: list[int], where: float, rate: int, spread: int
) -> None:
    # the forward pass compares a window of many breakpoints in numpy: the same candidates,
    # arithmetic and tie rule as the Python loop, so the very same level -- ties included
    # (whole values and rates on a grid of quarter MWh: many candidates earn exactly the same)
    xs = np.arange(len(values)) * 0.25
    vs = np.asarray(values, dtype=float)
    width = float(xs[-1])
    x = round(where * width * 4) / 4
    up, down, tol_x = 2.0, 2.5, 1e-9
    a, b = float(rate), float(rate + spread)
    first = int(xs.searchsorted(x - down - tol_x))
    last = int(xs.searchsorted(x + up + tol_x, "right"))
    looped = chain._best_move(xs.tolist(), vs.tolist(), 0.0, width, x, a, b, up, down, tol_x)
    wide = chain._best_move_wide(xs, vs, first, last, x, a, b, up, down)
    assert wide == looped


def test_chain_value_is_what_its_schedule_earns_over_nearly_flat_negative_prices() -> None:
    # 1,000 hours of -1200 +- 50 (the bench's family, hours 3000-4000): ~20 kinks per V, many
    # of them close together. V_0(x0) must be what the forward pass's schedule earns (a
    # lower value means the backward pass lost a kink; once 1.4e-7 of it, 5e-6 over the year)
    rng = np.random.default_rng(1)
    prices = np.concatenate([-1200.0 + rng.uniform(-50.0, 50.0, 24) for _ in range(366)])
    prices = prices[3000:4000]
    battery = prd_battery()
    buy, sell = stored_rates(prices, battery)
    solution = chain.solve_piecewise(buy, sell, battery)
    path = solution.moves
    levels = battery.energy_mwh * (battery.soc_start - battery.min_soc) + np.cumsum(path)
    width = battery.energy_mwh * (battery.max_soc - battery.min_soc)
    assert levels.min() >= -1e-9
    assert levels.max() <= width + 1e-9
    assert levels[-1] == pytest.approx(levels[0] - path[0], abs=1e-9)  # back at x0
    revenue = float(np.sum(np.where(path > 0, -buy * path, -sell * path)))
    assert solution.value == pytest.approx(revenue, rel=1e-10)


@pytest.mark.parametrize("family", ["negative hours", "nearly flat -1200"])
def test_arrival_and_value_functions_meet_at_the_optimum(family: str) -> None:
    # A_t (best revenue from x0 to x at t, the reversed chain's value-to-go) plus V_t peaks
    # at the optimum at every hour: the forward and backward recursions agree (the capped
    # chain re-prices one day between them); at t = n and t = 0 each alone is the optimum
    rng = np.random.default_rng(7)
    if family == "negative hours":
        flat = np.concatenate(with_negative_hours(real_days()[:10], 0.3, seed=3))
    else:
        flat = -1200.0 + rng.uniform(-50.0, 50.0, 24 * 2)
    battery = prd_battery(initial_soc=0.3)
    buy, sell = stored_rates(flat, battery)
    geometry = chain.Chain.of(battery)
    values, _ = chain.value_functions(buy, sell, geometry)
    arrivals, _ = chain.arrival_functions(buy, sell, geometry)
    best = solve_chain(buy, sell, battery).value
    assert best == pytest.approx(
        reference_optimum(list(flat.reshape(-1, 24)), battery, continuous=True), rel=1e-9
    )
    assert float(np.interp(geometry.x0_mwh, *arrivals[-1])) == pytest.approx(best, rel=1e-12)
    assert arrivals[0][0].tolist() == [geometry.x0_mwh]
    # a stretch re-run in front of a later V (``end``) gives the same V at its start
    again, _ = chain.value_functions(buy[24:40], sell[24:40], geometry, end=values[40])
    np.testing.assert_allclose(again[0][0], values[24][0], atol=1e-9)
    np.testing.assert_allclose(again[0][1], values[24][1], rtol=1e-12)
    for t in range(flat.size + 1):
        (xv, vv), (xa, va) = values[t], arrivals[t]
        lo, hi = max(xv[0], xa[0]), min(xv[-1], xa[-1])
        grid = np.union1d(xv, xa)
        grid = grid[(grid >= lo) & (grid <= hi)]
        total = np.interp(grid, xv, vv) + np.interp(grid, xa, va)
        assert float(total.max()) == pytest.approx(best, rel=1e-12)


@pytest.mark.parametrize(
    ("value", "duration_h"), [(-1200.0, 4.0), (-40.0, 4.0), (-1200.0, 0.25), (-300.0, 24.0)]
)
def test_runs_of_one_rate_repeat_their_period(value: float, duration_h: float) -> None:
    # hours of one rate: once V_t = V_{t+k} + c, the chain copies V_{t+k} + c instead of
    # recursing; the same value and schedule as recursing every hour, and ordinary hours
    # (concave merges) recurse on from the copied V again
    day = real_days()[50].prices_mxn_per_mwh
    prices = np.concatenate([day, np.full(96, value), day])
    battery = prd_battery(duration_h=duration_h, initial_soc=0.5)
    buy, sell = stored_rates(prices, battery)
    steps = []
    with pytest.MonkeyPatch.context() as patch:
        for name in ("_general_hour", "_concave_hour", "_split_hour"):
            step = getattr(chain, name)

            def counted(*args: Any, step: Any = step) -> Any:
                steps.append(1)
                return step(*args)

            patch.setattr(chain, name, counted)
        fast = chain.solve_piecewise(buy, sell, battery)
        stepped = len(steps)
        patch.setattr(chain, "MAX_PERIOD", 0)
        slow = chain.solve_piecewise(buy, sell, battery)
    assert stepped < len(steps) - stepped  # hours were copied, not recursed
    assert_exact(fast.value, slow.value)
    for path in (fast.moves, slow.moves):
        revenue = np.sum(np.where(path > 0, -buy * path, -sell * path))
        assert_exact(float(revenue), slow.value)


def test_copied_hours_then_concave_hours() -> None:
    # (found by hypothesis) a tiny battery copies a period through 23 hours of -1200, then
    # recurses through hours of 50 and -20: their merges must start from the copied V's own
    # slopes, not from those of the last V it recursed to
    tail = np.array([50.0] * 7 + [-20.0] * 5 + [-21.0] + [-20.0] * 4 + [50.0] * 6)
    days = [np.full(23, -1200.0), tail]
    battery = Battery(power_mw=7.0, duration_h=0.01, round_trip_efficiency=0.5)
    prices = np.concatenate(days)
    buy, sell = stored_rates(prices, battery)
    solution = chain.solve_piecewise(buy, sell, battery)
    assert_exact(solution.value, reference_optimum(days, battery, continuous=True))
    path = solution.moves
    assert_exact(float(np.sum(np.where(path > 0, -buy * path, -sell * path))), solution.value)


def test_lattice_holds_the_pinned_levels() -> None:
    battery = prd_battery(initial_soc=0.437)
    lattice = make_lattice(battery, 24)
    width = battery.energy_mwh * 0.9
    x0 = battery.energy_mwh * (0.437 - 0.1)
    assert lattice.levels[lattice.start] == x0
    assert lattice.levels[0] == 0.0
    assert lattice.levels[-1] == pytest.approx(width)
    assert (np.diff(lattice.levels) > 0).all()
    # one full-power hour from x0 either way, and back from the bounds, are lattice points
    for point in (x0 + 0.85**0.5 * 10, x0 - 10 / 0.85**0.5, width - 0.85**0.5 * 10):
        assert np.min(np.abs(lattice.levels - point)) < 1e-9


@pytest.mark.parametrize("horizon", list(Horizon))
def test_a_passed_deadline_stops_every_route(horizon: Horizon) -> None:
    prices = solar_dip_days(3)
    for battery in (prd_battery(), prd_battery(max_cycles_per_day=1.0)):
        with pytest.raises(DeadlineExceededError, match="deadline passed"):
            run_strategy("optimal", days_from(prices), battery, horizon=horizon, deadline_s=-1.0)


def test_a_passed_deadline_stops_the_capped_day_search() -> None:
    from optimizer.capped_day import close_gaps
    from testkit.realdata import year_days

    battery = prd_battery(max_cycles_per_day=2.0)
    prices = np.asarray(with_solar_dips(year_days(), 9)[4:5], dtype=float)  # a gap day
    movable = np.ones(prices.shape, dtype=bool)
    moves, unsolved, route = daily_moves(prices, movable, battery)
    assert route.searched_days == 1
    assert not unsolved.any()
    buy, sell = stored_rates(prices, battery)
    optimum = float(stored_revenue(moves[0], buy[0], sell[0]))
    idle = np.zeros(prices.shape)  # the weakest incumbent
    later = time.monotonic() + 3600.0
    found = close_gaps(buy, sell, movable, battery, idle, deadline_s=later)
    assert found.solved.all()
    assert found.nodes[0] > 1
    got = float(stored_revenue(found.moves[0], buy[0], sell[0]))
    assert got == pytest.approx(optimum, rel=1e-9)  # the day's optimum
    np.testing.assert_array_equal(found.moves, close_gaps(buy, sell, movable, battery, idle).moves)
    with pytest.raises(
        DeadlineExceededError, match="closing a duality gap of the daily cycle limit"
    ):
        close_gaps(buy, sell, movable, battery, idle, deadline_s=-1.0)


def _hard_prices(days: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    prices = rng.uniform(-300.0, 3000.0, 24 * days)
    prices[rng.random(prices.size) < 0.4] = -1200.0 + rng.uniform(-1.0, 1.0)
    return prices


@pytest.mark.parametrize("every", [2, 3, 7, 24])
def test_values_kept_every_kth_hour_are_the_full_table_bit_for_bit(every: int) -> None:
    # the rows chain_values keeps every k-th hour, and those ChainValues recomputes between
    # them (going forward, and in any order), are the full table's own bits
    battery = prd_battery()
    buy, sell = stored_rates(_hard_prices(5, every), battery)
    geometry = chain.Chain.of(battery)
    grid = lattice.chain_lattice(
        geometry.width_mwh, geometry.x0_mwh, geometry.up_mwh, geometry.down_mwh, 4096
    )
    assert grid is not None
    full = lattice.chain_values(buy, sell, grid)
    kept = lattice.chain_values(buy, sell, grid, every=every)
    n = buy.size
    hours = [*range(0, n, every), n]
    np.testing.assert_array_equal(kept, full[hours])
    rows = lattice.ChainValues(kept, every, buy, sell, grid)
    assert len(rows) == n + 1
    for t in [*range(n + 1), n - 1, 1, every + 1, n // 2, 0]:
        np.testing.assert_array_equal(rows[t], full[t])
    np.testing.assert_array_equal(
        lattice.chain_moves(rows, buy, sell, grid), lattice.chain_moves(full, buy, sell, grid)
    )


@pytest.mark.parametrize("sliding", [True, False])
@pytest.mark.parametrize("dear_first", [True, False])
@pytest.mark.parametrize(("duration_h", "every"), [(168.0, 9), (168.0, 24), (48.0, 5)])
def test_the_forward_pass_recomputes_rows_only_where_the_path_can_reach(
    duration_h: float, every: int, dear_first: bool, sliding: bool
) -> None:
    # a long battery's windows are a few dozen of thousands of levels: the forward pass
    # recomputes a block's rows only on the levels reachable from where it enters the block,
    # with the full table's bits there, and so the same schedule -- by slices where the
    # windows hold one number of levels each side (these lattices), else by gathers
    # from SoC 0.6, so that an empty battery is worth less than nothing: it must buy x0 back
    battery = prd_battery(duration_h=duration_h, initial_soc=0.6)
    rng = np.random.default_rng(every)
    if not dear_first:  # very negative prices: the path stays near full
        prices = np.cumsum(rng.normal(0.0, 5.0, 24 * 12)) - 5000.0
        prices[::7] = 3000.0  # some hours that pay to discharge
    else:  # dear prices first: the path empties the battery, and must buy x0 back
        prices = np.where(np.arange(24 * 12) < 120, 3000.0, 500.0) + rng.uniform(0, 50, 24 * 12)
    buy, sell = stored_rates(prices, battery)
    geometry = chain.Chain.of(battery)
    grid = lattice.chain_lattice(
        geometry.width_mwh, geometry.x0_mwh, geometry.up_mwh, geometry.down_mwh, 20000, buy.size
    )
    assert grid is not None
    full = lattice.chain_values(buy, sell, grid)
    assert lattice.even_windows(np.arange(grid.levels.size), grid.up_end, grid.down_begin)
    rows = lattice.ChainValues(
        lattice.chain_values(buy, sell, grid, every=every), every, buy, sell, grid, slices=sliding
    )
    at, narrow = grid.start, 0
    for t in range(buy.size):
        lo, hi = int(grid.down_begin[at]), int(grid.up_end[at]) + 1
        np.testing.assert_array_equal(rows.along(t, at)[lo:hi], full[t + 1][lo:hi])
        narrow += rows.reached == (t + 1) // every  # served by a row computed on the reach
        u = grid.levels[lo:hi] - grid.levels[at]
        total = full[t + 1][lo:hi] - np.where(u > 0, buy[t] * u, sell[t] * u)
        at = lo + int(np.argmax(total))
    assert narrow > buy.size // 2
    rows = lattice.ChainValues(
        lattice.chain_values(buy, sell, grid, every=every), every, buy, sell, grid, slices=sliding
    )
    moves = lattice.chain_moves(rows, buy, sell, grid)
    np.testing.assert_array_equal(moves, lattice.chain_moves(full, buy, sell, grid))
    for t in range(buy.size, -1, -1):  # after the pass, whole rows again (review)
        np.testing.assert_array_equal(rows[t], full[t])
    assert_exact(float(stored_revenue(moves, buy, sell)), float(full[0][grid.start]))


def test_a_chain_whose_values_do_not_fit_keeps_every_kth_hour(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # one-way 0.95 / 0.95 (round trip 361/400): 1,369 levels for a year, whose values do not
    # fit MAX_LATTICE_ENTRIES; here a tighter bound makes 5 days do the same. The schedule and
    # value are those of every hour kept, and the piecewise recursion's optimum
    battery = prd_battery(charge_efficiency=0.95, discharge_efficiency=0.95)
    buy, sell = stored_rates(_hard_prices(5, 11), battery)
    full = solve_chain(buy, sell, battery)
    assert full.route.startswith("lattice of")
    assert "kept" not in full.route
    levels = int(full.route.split()[2])
    monkeypatch.setattr(chain, "MAX_LATTICE_ENTRIES", levels * 40)
    kept = solve_chain(buy, sell, battery)
    assert "hours' values kept" in kept.route
    np.testing.assert_array_equal(kept.moves, full.moves)
    assert kept.value == full.value
    assert_exact(kept.value, chain.solve_piecewise(buy, sell, battery).value)
    revenue = np.sum(np.where(kept.moves > 0, -buy * kept.moves, -sell * kept.moves))
    assert_exact(float(revenue), kept.value)
    assert not settlement_faults(kept.moves, battery)


def test_a_crossing_that_rounds_onto_its_interval_end_is_not_split_forever() -> None:
    # review: values near 4.8e8 (one ulp 6e-8) with tol_v 9.1e-9; the crossing of two lines
    # rounded onto the interval's right end and a third line seemed to rise above it by one
    # ulp, so _kinks split the same interval again, forever (no deadline check inside). The
    # inputs of the hour it hung on (hex floats), from a 3-day capped chain
    h = float.fromhex
    xs = np.array(
        [
            h(x)
            for x in [
                "0x0.0p+0",
                "0x1.d033aa36acf00p-1",
                "0x1.74e80a25afd40p+6",
                "0x1.80dd35030322bp+7",
                "0x1.1cc08335d22fep+8",
                "0x1.7ff51b2de7cc4p+8",
                "0x1.dc4703e2386adp+8",
                "0x1.1fbdcded2703ap+9",
                "0x1.4de6c2474f52ep+9",
                "0x1.7f810e435a211p+9",
                "0x1.adaa029d82705p+9",
                "0x1.b5f43302ef4b6p+9",
            ]
        ]
    ).reshape((12,))
    vs = np.array(
        [
            h(x)
            for x in [
                "0x1.c8be506a6e9f3p+29",
                "0x1.c8538c038d638p+29",
                "0x1.9ab15225361b6p+29",
                "0x1.6d0ecd82b614dp+29",
                "0x1.3f6c93a45ecccp+29",
                "0x1.11ca0f01dec60p+29",
                "0x1.c84faa470efbep+28",
                "0x1.6d0aa1020eee7p+28",
                "0x1.11c62d45605e6p+28",
                "0x1.6d024800c0a1cp+27",
                "0x1.6cf2c10ec7030p+26",
                "0x1.2fef543c9ee93p+26",
            ]
        ]
    ).reshape((12,))
    a = h("0x1.9ea5fa9789cfcp+6")
    b = h("0x1.2166df7a8d2bbp+6")
    up = h("0x1.7147a2d1427a2p+6")
    down = h("0x1.8cd25fe056718p+6")
    width = h("0x1.b5f43302ef4b6p+9")
    shifts = np.array(
        [h(x) for x in ["0x1.7147a2d1427a2p+6", "-0x1.8cd25fe056718p+6", "0x0.0p+0"]]
    ).reshape((3, 1))
    spread = np.array(
        [h(x) for x in ["-0x1.7147a2d1427a2p+6", "0x0.0p+0", "0x1.8cd25fe056718p+6"]]
    ).reshape((3, 1))
    bounds = np.array([h(x) for x in ["0x0.0p+0", "0x1.b5f43302ef4b6p+9"]]).reshape((2,))
    tol_v = h("0x1.37fb2567b710bp-27")
    x, v, _ = chain._general_hour(xs, vs, a, b, up, down, width, shifts, spread, bounds, tol_v)
    assert x[0] == 0.0
    assert x[-1] == width
    assert (np.diff(x) >= 0).all()
    assert np.isfinite(v).all()


def test_the_chain_that_hung_in_kinks_has_the_exact_optimum() -> None:
    # the whole request of the review's hang: 3 days, 24-hour battery, cap 1, a day at
    # -1e6 MXN/MWh; continuous, against the reference MILP
    day_3 = [
        float.fromhex(p)
        for p in [
            "0x1.601f60cbaa185p+10",
            "0x1.24dc653440508p+10",
            "0x1.3d76ca1af2339p+11",
            "0x1.69b649f7d36f7p+11",
            "0x1.94b17ffc8e79fp+9",
            "0x1.068259b7cbf02p+11",
            "0x1.1c4b951be4cf5p+11",
            "0x1.a79e0de0d6862p+10",
            "0x1.b4b0010c4b239p+10",
            "0x1.0fe9531743bc5p+11",
            "0x1.f90c8bbfee746p+9",
            "-0x1.53edf8b11c410p+5",
            "-0x1.61cf4bd118962p+6",
            "-0x1.1c9297ec6a968p+8",
            "-0x1.722a0224cc771p+7",
            "0x1.99ecd644b8b51p+9",
            "0x1.79e8f047b78c4p+10",
            "0x1.017e38b546c3ap+11",
            "0x1.25c0ae6b008a4p+11",
            "0x1.52110784a0139p+11",
            "0x1.6d3ed58a5a9cap+10",
            "0x1.3e159ff9261f9p+11",
            "0x1.0c0e2dd220d3ap+11",
            "0x1.2ee67c39a8e45p+10",
            "0x1.217d8f122aaf0p+11",
        ]
    ]
    prices = [np.full(23, 100.0), np.full(24, -1e6), np.array(day_3)]
    battery = Battery(
        power_mw=95.70079579261797,
        duration_h=24.0,
        round_trip_efficiency=0.9305936593873525,
        min_soc=0.43799705049390436,
        max_soc=0.8193539484398432,
        initial_soc=0.43799705049390436,
        degradation_cost_mxn_per_mwh=25.0,
        max_cycles_per_day=1.0,
    )
    run = run_strategy("optimal", days_from(prices), battery, horizon=Horizon.CONTINUOUS)
    got = sum(day.revenue_mxn for day in run.days)
    assert_exact(got, reference_optimum(prices, battery, continuous=True))
