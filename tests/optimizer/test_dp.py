"""``dp``: dynamic programming over a discretised SoC, a second route to near-optimal
schedules."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer import STRATEGIES, Battery, Horizon, optimize, run_strategy
from optimizer.settle import day_offsets
from optimizer.strategies._days import chain_is_valid, flatten, hour_mask, price_matrix
from optimizer.strategies.dp import (
    FINE_LEVELS,
    LEVELS,
    Grid,
    _capped_chain_exact,
    _mix_weights,
    _powers,
    _revenue,
    _solve,
    _solve_chain,
    _tie_tolerance,
    chain_grid,
    day_reach_mwh,
    dp_dispatch,
    make_grid,
)
from tests.optimizer.baseline_checks import PUBLISHED, check_run, total
from tests.optimizer.helpers import (
    PUBLISHED_OPTIMA,
    batteries,
    day_prices,
    days_from,
    prd_battery,
    real_day,
    real_days,
)

NAME = "dp"


def share(run_total: float, best_total: float) -> float:
    return run_total / best_total


def test_registered_first_after_optimal_and_continuous() -> None:
    strategy = STRATEGIES[NAME]
    assert strategy.order == 10
    assert strategy.supports_continuous
    assert list(STRATEGIES)[:2] == ["optimal", NAME]


@pytest.mark.parametrize("battery", [prd_battery(), prd_battery(round_trip_efficiency=1.0)])
def test_flat_prices_idle(battery: Battery) -> None:
    run, _ = check_run(NAME, days_from([np.full(24, 37.5)]), battery)
    assert not run.days[0].charge_mw.any()
    assert not run.days[0].discharge_mw.any()


def test_one_cheap_hour_then_one_dear_hour_exactly() -> None:
    # lossless: hour 3 at 10, hour 20 at 500, 450 elsewhere. Full power in and out is the
    # optimum (4900); anything more only moves energy between 450-hours for nothing, and ties
    # idle, so the schedule is exactly two hours at 10 MW.
    prices = np.full(24, 450.0)
    prices[3], prices[20] = 10.0, 500.0
    battery = prd_battery(round_trip_efficiency=1.0, min_soc=0.0)
    run, best = check_run(NAME, days_from([prices]), battery)
    want_c, want_d = np.zeros(24), np.zeros(24)
    want_c[3], want_d[20] = 10.0, 10.0
    np.testing.assert_allclose(run.days[0].charge_mw, want_c, atol=1e-9)
    np.testing.assert_allclose(run.days[0].discharge_mw, want_d, atol=1e-9)
    assert total(run) == pytest.approx(4900.0)
    assert total(best) == pytest.approx(4900.0)


def test_grid_holds_the_start_and_feasible_moves() -> None:
    battery = prd_battery(initial_soc=0.437)
    grid = make_grid(battery)
    energy = battery.energy_mwh
    bottom = 0.437 * energy - grid.start * grid.step_mwh
    top = bottom + (grid.levels - 1) * grid.step_mwh
    assert battery.min_soc * energy - 1e-9 <= bottom < battery.min_soc * energy + grid.step_mwh
    assert battery.max_soc * energy - grid.step_mwh < top <= battery.max_soc * energy + 1e-9
    assert grid.up * grid.step_mwh / battery.eta_charge <= battery.power_mw * (1 + 1e-9)
    assert grid.down * grid.step_mwh * battery.eta_discharge <= battery.power_mw * (1 + 1e-9)
    assert (grid.up + 1) * grid.step_mwh / battery.eta_charge > battery.power_mw
    assert LEVELS.start <= grid.levels <= FINE_LEVELS + 1


@pytest.mark.parametrize(("efficiencies", "published"), PUBLISHED_OPTIMA)
def test_published_vectors_nearly_reached(efficiencies: dict[str, float], published: float) -> None:
    run, best = check_run(
        NAME, days_from([np.array(PUBLISHED, float)]), prd_battery(**efficiencies)
    )
    assert total(best) == pytest.approx(published, abs=0.01)
    assert 0.995 * total(best) <= total(run) <= total(best)


def test_negative_prices_and_losses_never_charge_and_discharge_together() -> None:
    # burning energy pays at -300 (losses are bought), but only hour by hour, one direction
    prices = np.array(PUBLISHED, float)
    prices[10:14] = -300.0
    run, best = check_run(NAME, days_from([prices]), prd_battery())
    assert share(total(run), total(best)) >= 0.99


@pytest.mark.parametrize("hours", [23, 25])
def test_clock_change_days_and_padding(hours: int) -> None:
    short = np.array([*PUBLISHED, 90.0], float)[:hours]
    both = days_from([short, np.array(PUBLISHED, float)])
    run, best = check_run(NAME, both, prd_battery())
    assert [len(d.schedule) for d in run.days] == [hours, 24]
    assert share(total(run), total(best)) >= 0.995
    # padding a day to the longest day of the request cannot change its schedule
    alone = run_strategy(NAME, both[1:], prd_battery())
    np.testing.assert_array_equal(alone.days[0].charge_mw, run.days[1].charge_mw)
    np.testing.assert_array_equal(alone.days[0].discharge_mw, run.days[1].discharge_mw)


@pytest.mark.parametrize("initial", [None, 0.305, 0.31], ids=["min", "middle", "max"])
def test_tight_window(initial: float | None) -> None:
    battery = prd_battery(min_soc=0.30, max_soc=0.31, initial_soc=initial)
    run, best = check_run(NAME, days_from([np.array(PUBLISHED, float)]), battery)
    assert share(total(run), total(best)) >= 0.995


def test_unit_efficiency_and_degradation() -> None:
    battery = prd_battery(round_trip_efficiency=1.0, degradation_cost_mxn_per_mwh=30.0)
    run, best = check_run(NAME, days_from([np.array(PUBLISHED, float)]), battery)
    assert share(total(run), total(best)) >= 0.995
    # selling at 40 or less never covers 30 of degradation on energy bought at 10 or more
    prices = np.array(PUBLISHED, float)
    assert (prices[run.days[0].discharge_mw > 0] > 40).all()


@pytest.mark.parametrize("cycles", [0.25, 0.5, 1.0, 1.5])
def test_cycle_cap_respected_and_nearly_optimal(cycles: float) -> None:
    battery = prd_battery(max_cycles_per_day=cycles)
    days = days_from([np.array(PUBLISHED, float), np.array(PUBLISHED[::-1], float)])
    run, best = check_run(NAME, days, battery)
    for day in run.days:
        assert day.cycles <= cycles + 1e-6
    assert share(total(run), total(best)) >= 0.995


def test_continuous_carries_a_cheap_night_into_the_next_day() -> None:
    # day 1 is cheap late, day 2 is dear early: only carrying energy over midnight pays
    night = np.full(24, 50.0)
    night[20:24] = 5.0
    morning = np.full(24, 50.0)
    morning[0:4] = 200.0
    days = days_from([night, morning])
    daily, _ = check_run(NAME, days, prd_battery())
    carried, best = check_run(NAME, days, prd_battery(), horizon=Horizon.CONTINUOUS)
    assert total(daily) == 0.0
    assert total(carried) > 0
    assert share(total(carried), total(best)) >= 0.995
    assert carried.days[0].soc[-1] > 0.9


@pytest.mark.parametrize(
    "battery",
    [prd_battery(), prd_battery(min_soc=0.30, max_soc=0.31, initial_soc=0.305)],
    ids=["prd", "tight"],
)
def test_chain_solver_matches_the_vectorised_solver(battery: Battery) -> None:
    # the continuous fast path must make exactly the moves of the general solver
    prices = np.concatenate([d.prices_mxn_per_mwh for d in real_days()[:5]])
    prices[30:34] = -200.0
    grid = make_grid(battery)
    general = _solve(
        prices[None, :], np.ones((1, prices.size), bool), battery, grid, 0 * prices[None, :]
    )
    np.testing.assert_array_equal(_solve_chain(prices, battery, grid, 0 * prices), general.moves[0])
    assert np.abs(general.moves).sum() > 0


@pytest.mark.parametrize("initial", [None, 0.55, 1.0])
def test_daily_rows_match_the_chain_solver_day_by_day(initial: float | None) -> None:
    """The vectorised solver works on the levels each hour can reach and still get back from
    only; every day's moves are those of the chain solver (all levels) on that day alone."""
    battery = prd_battery(initial_soc=initial, degradation_cost_mxn_per_mwh=25.0)
    prices = np.array([d.prices_mxn_per_mwh for d in real_days()[:6] if d.hours == 24])
    prices[1, 3:6] = -300.0
    grid = make_grid(battery, reach_mwh=day_reach_mwh(battery, 24))
    rows = _solve(prices, np.ones(prices.shape, bool), battery, grid, 0 * prices)
    for day, row in zip(prices, rows.moves, strict=True):
        np.testing.assert_array_equal(_solve_chain(day, battery, grid, 0 * day), row)
    assert np.abs(rows.moves).sum() > 0


def test_continuous_with_cycle_cap_stays_valid() -> None:
    days = list(real_days()[:7])
    battery = prd_battery(max_cycles_per_day=0.5)
    daily, _ = check_run(NAME, days, battery)
    carried, best = check_run(NAME, days, battery, horizon=Horizon.CONTINUOUS)
    assert total(daily) - 1e-6 <= total(carried) <= total(best) + 1e-6


# measured when this was written: 99.979 % of optimal over these days
REAL_DATES = ["2016-01-29", "2016-02-15", "2016-04-03", "2016-07-14", "2016-10-30"]


def test_real_apatzingan_days_near_optimal() -> None:
    days = [real_day(d) for d in REAL_DATES]  # includes the 23- and the 25-hour day
    assert {d.hours for d in days} == {23, 24, 25}
    report = optimize(days, prd_battery(), strategy=NAME)
    assert report.comparison is not None
    row = next(r for r in report.comparison if r.strategy == NAME)
    assert row.pct_of_optimal is not None
    assert 99.9 <= row.pct_of_optimal <= 100.0 + 1e-6


def _valid_and_within_one_percent(
    battery: Battery, prices: list[np.ndarray], horizon: Horizon
) -> None:
    run, best = check_run(NAME, days_from(prices), battery, horizon=horizon)
    # the grid loses a few grid steps' worth; a cap along a continuous chain is solved on
    # the grid exactly too (its withdrawal so far today a second state dimension), within
    # MAX_CAPPED_STATE_HOURS. dp takes moves within its tie tolerance of an hour's best as
    # ties and idles (documented), so it may leave that much per hour: prices of 1e-7
    # MXN/MWh around one hour at 0 give the optimum 4e-6 MXN and dp 0.
    every = np.concatenate(prices)
    slack = max(1e-6 * max(1.0, abs(total(best))), every.size * _tie_tolerance(every, battery))
    assert total(run) >= 0.99 * total(best) - slack


PROPERTY_PRICES = st.lists(st.integers(23, 25).flatmap(day_prices), min_size=1, max_size=3)


@given(battery=batteries(), prices=PROPERTY_PRICES, horizon=st.sampled_from(Horizon))
def test_property_valid_and_never_beats_optimal(
    battery: Battery, prices: list[np.ndarray], horizon: Horizon
) -> None:
    _valid_and_within_one_percent(battery, prices, horizon)


@pytest.mark.slow
@settings(max_examples=800)
@given(battery=batteries(), prices=PROPERTY_PRICES, horizon=st.sampled_from(Horizon))
def test_property_over_many_more_examples(
    battery: Battery, prices: list[np.ndarray], horizon: Horizon
) -> None:
    # the same property over 800 other examples (unseeded runs of 3,300-3,400 examples each
    # found none below 99 %; before the grid held the SoC bounds, 12 of 1,215 were)
    _valid_and_within_one_percent(battery, prices, horizon)


def test_capped_chain_carries_a_charge_into_the_next_day() -> None:
    # Day 1 has two cheap hours and dear ones around them; day 2 is flat and a little less
    # dear. With one cycle a day, the optimum cycles once on day 1 (charge at 0, sell at
    # 4,754) and carries a second charge (at -50) into day 2: the daily multipliers leave
    # day 1 unpriced and the uncapped chain cycles twice on it: it takes the exact recursion
    # over (level, withdrawn today) or a multiplier searched along the chain (the daily
    # schedules alone earned 59 % of the optimum)
    day_1 = [4754.0] * 23
    day_1[13], day_1[15] = 0.0, -50.0
    day_2 = [3401.0] * 23
    battery = Battery(
        power_mw=64.9,
        duration_h=1.4826,
        round_trip_efficiency=0.739,
        min_soc=0.40315,
        max_soc=0.41315,
        initial_soc=0.40315,
        degradation_cost_mxn_per_mwh=25.0,
        max_cycles_per_day=1.0,
    )
    run, best = check_run(
        NAME, days_from([np.array(day_1), np.array(day_2)]), battery, horizon=Horizon.CONTINUOUS
    )
    daily, _ = check_run(NAME, days_from([np.array(day_1), np.array(day_2)]), battery)
    assert total(daily) < 0.7 * total(best)  # the case needs the chain
    assert total(run) >= 0.99 * total(best)
    assert run.days[1].discharge_mw.sum() > 0  # day 2 sells the carried charge


def test_mix_weights_keep_every_day_within_the_cap() -> None:
    # over the cap on day 1 (first) and on day 2 (second): only mixes near half and half
    # keep both days within it
    first, second = np.array([2.0, 0.0]), np.array([0.0, 2.0])
    weights = _mix_weights(first, second, 1.0)
    assert weights == [0.5]
    assert _mix_weights(np.array([0.5, 0.5]), np.array([3.0, 0.2]), 1.0) == [0.8, 1.0]
    for theta in _mix_weights(np.array([0.5, 0.5]), np.array([3.0, 0.2]), 1.0):
        mixed = theta * np.array([0.5, 0.5]) + (1 - theta) * np.array([3.0, 0.2])
        assert (mixed <= 1.0 + 1e-12).all()
    assert _mix_weights(np.array([2.0, 0.0]), np.array([2.0, 0.0]), 1.0) == []  # none can


def _chain_parts(
    prices: list[np.ndarray], battery: Battery
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Grid]:
    days = days_from(prices)
    matrix, hours = price_matrix(days)
    flat = flatten(matrix, hours)
    grid = chain_grid(battery, flat.size)
    return matrix, hour_mask(hours, matrix.shape[1]), flat, day_offsets(days), grid


@settings(max_examples=30)
@given(
    battery=batteries().filter(lambda b: b.max_cycles_per_day is not None),
    prices=st.lists(st.integers(23, 25).flatmap(day_prices), min_size=2, max_size=2),
)
def test_exact_capped_chain_dominates_every_searched_chain(
    battery: Battery, prices: list[np.ndarray]
) -> None:
    # the Bellman recursion over (level, withdrawn today) is the grid's optimum under the
    # cap: no chain on the same grid (here under per-day multipliers), kept within the cap,
    # earns more, and its own schedule keeps the cap and the chain's rules
    _, _, flat, offsets, grid = _chain_parts(prices, battery)
    exact = _capped_chain_exact(flat, offsets, battery, grid)
    assert exact is not None  # two days always fit MAX_CAPPED_STATE_HOURS
    cap = battery.daily_withdrawal_cap_mwh
    assert cap is not None
    kappa = battery.degradation_cost_mxn_per_mwh
    charge, discharge = _powers(exact, battery, grid)
    withdrawn = np.add.reduceat(discharge, offsets[:-1]) / battery.eta_discharge
    assert (withdrawn <= cap + 1e-9 * max(cap, 1.0)).all()
    assert chain_is_valid(charge, discharge, offsets, battery)
    best = float(_revenue(flat, charge, discharge, kappa))
    hours = np.diff(offsets)
    for lam in ([0.0, 0.0], [500.0, 0.0], [0.0, 500.0], [3000.0, 3000.0], [1e5, 1e5]):
        moves = _solve_chain(flat, battery, grid, np.repeat(lam, hours))
        c, d = _powers(moves, battery, grid)
        w = np.add.reduceat(d, offsets[:-1]) / battery.eta_discharge
        if (w <= cap + 1e-12 * max(cap, 1.0)).all():
            assert float(_revenue(flat, c, d, kappa)) <= best + 1e-9 * max(1.0, abs(best))


def test_exact_capped_chain_with_a_cap_that_never_binds_is_the_uncapped_chain() -> None:
    # an 8-hour battery cannot cycle twice a day: a cap of 2 never binds, and the recursion
    # over (level, withdrawn today) earns what the 1-D chain earns on the same grid
    rng = np.random.default_rng(5)
    prices = [rng.uniform(-300.0, 3000.0, 24) for _ in range(2)]
    battery = prd_battery(duration_h=8.0, max_cycles_per_day=2.0)
    _, _, flat, offsets, grid = _chain_parts(prices, battery)
    exact = _capped_chain_exact(flat, offsets, battery, grid)
    assert exact is not None
    free = _solve_chain(flat, battery, grid, 0 * flat)
    kappa = battery.degradation_cost_mxn_per_mwh
    got = float(_revenue(flat, *_powers(exact, battery, grid), kappa))
    want = float(_revenue(flat, *_powers(free, battery, grid), kappa))
    assert got == pytest.approx(want, rel=1e-12)
    assert want > 0


def test_a_long_capped_chain_can_scale_a_chain_down_to_the_cap() -> None:
    # review: 120 days beyond the exact recursion's bound, a full 1-hour battery with half a
    # cycle a day, dear days and free days in turn. Every chain searched sells a whole
    # charge on a dear day (twice the cap); idling mixed in halves it, within the cap on
    # every day (without that candidate dp earned 10 % of the optimum)
    prices = [np.array([1000.0] + [900.0] * 23) if i % 2 == 0 else np.zeros(24) for i in range(120)]
    battery = Battery(
        power_mw=3.0,
        duration_h=1.0,
        round_trip_efficiency=1.0,
        min_soc=0.0,
        max_soc=1.0,
        initial_soc=1.0,
        max_cycles_per_day=0.5,
    )
    run, best = check_run(NAME, days_from(prices), battery, horizon=Horizon.CONTINUOUS)
    assert total(run) >= 0.99 * total(best)


def test_a_cap_a_hair_below_a_whole_grid_step_keeps_the_exact_chain() -> None:
    # review: 0.499999999995 cycles is a whole number of grid steps less 1e-9 of one; the
    # exact recursion rounds up to it, 1e-11 of the cap over (far inside settlement's slack),
    # and that schedule is the one dp returns, not dropped for a later candidate
    battery = Battery(
        power_mw=3.0,
        duration_h=1.0,
        round_trip_efficiency=1.0,
        min_soc=0.0,
        max_soc=1.0,
        initial_soc=1.0,
        max_cycles_per_day=0.499999999995,
    )
    days = days_from([np.array([1000.0] + [900.0] * 23), np.zeros(24)])
    _, _, flat, offsets, grid = _chain_parts([np.array(d.prices) for d in days], battery)
    exact = _capped_chain_exact(flat, offsets, battery, grid)
    assert exact is not None
    charge, discharge = _powers(exact, battery, grid)
    cap = battery.daily_withdrawal_cap_mwh
    assert cap is not None
    over = np.add.reduceat(discharge, offsets[:-1]).max() / battery.eta_discharge - cap
    assert 0 < over <= 1e-9 * cap  # rounded up, by far less than settlement allows
    dispatch = dp_dispatch(days, battery, horizon=Horizon.CONTINUOUS)
    np.testing.assert_array_equal(dispatch.charge_mw, charge)
    np.testing.assert_array_equal(dispatch.discharge_mw, discharge)
    run, best = check_run(NAME, days, battery, horizon=Horizon.CONTINUOUS)
    assert total(run) >= 0.99 * total(best)


@pytest.mark.parametrize("horizon", list(Horizon))
@pytest.mark.parametrize("initial_soc", [0.1037, 0.1123, 0.2051])
def test_a_start_just_above_the_floor_can_still_be_emptied(
    initial_soc: float, horizon: Horizon
) -> None:
    # One dear hour, then free energy: the optimum sells what is stored above the floor and
    # buys it back. Steps of span / n from the start put the floor between two levels: with
    # the start 0.37 % of the window above the floor dp sold nothing (0 %), at 1.2 % it
    # earned 83 %, at 11.7 % 97 %. The grid now reaches the floor, or within 1 % of the room
    # below the start where a step that loses less of the full-power moves is worth it.
    battery = prd_battery(initial_soc=initial_soc)
    prices = np.zeros(24)
    prices[0] = 3000.0
    run, best = check_run(NAME, days_from([prices]), battery, horizon=horizon)
    assert total(best) > 0
    assert total(run) >= 0.99 * total(best)
    for reach in (day_reach_mwh(battery, 24), np.inf):
        grid = make_grid(battery, reach_mwh=reach)
        room = (initial_soc - battery.min_soc) * battery.energy_mwh
        assert grid.start * grid.step_mwh <= room + 1e-9
        assert grid.start * grid.step_mwh >= 0.99 * room


def test_a_capped_two_day_chain_starting_between_grid_steps_is_near_optimal() -> None:
    # found by an unseeded run of the property test: the start 0.09375 of the window above
    # the floor on steps that did not divide it kept dp at 98.998 % of optimal
    battery = Battery(
        power_mw=2.0,
        duration_h=7.0,
        round_trip_efficiency=1.0,
        min_soc=0.0,
        max_soc=1.0,
        initial_soc=0.09375,
        max_cycles_per_day=0.5,
    )
    prices = [np.array([312.0] + [59.0] * 22), np.full(23, 155.0)]
    run, best = check_run(NAME, days_from(prices), battery, horizon=Horizon.CONTINUOUS)
    assert total(best) > 0
    assert total(run) >= 0.99 * total(best)


# four days at 2 cycles a day: over the exact recursion's bound at 150-200 levels, so only
# searched (96.9 % of optimal); a grid of fewer levels keeps it within the bound (99.7 %)
FOUR_DAYS = [
    [-50, 100, 0, 0, 1975, 100, 3517, 968, 2869, 9000, 0, -50, 3961, 9000, 837, 0, -98, -50,
     -426, -50, 100, -50, 2294],
    [3840, 3906, 3476, 0, 2422, 3382, 100, 9000, -50, -428, 1709, 100, 4103, 100, 1945, 3170,
     1764, 0, 1762, 4458, 1431, 100, 912, 4795],
    [458, 100, 2506, 4756, 2093, 2637, 3330, 1641, 608, 100, 2120, 1332, 1738, 100, 1271, 3900,
     -474, 2086, -50, -50, 2447, 675, 3845],
    [-50, 3050, 0, 2744, 3069, 2895, 0, 100, -199, 2945, 1076, 2138, -50, -92, 0, -50, 0, 4802,
     0, 3279, 0, 100, 3193, -50, -60],
]  # fmt: skip


def test_a_four_day_chain_at_two_cycles_fits_the_exact_recursion() -> None:
    battery = Battery(
        power_mw=27.59638243799987,
        duration_h=6.814346426741384,
        round_trip_efficiency=0.7487144146631505,
        charge_efficiency=0.636224501147503,
        discharge_efficiency=0.7257485010259128,
        min_soc=0.15795498504701647,
        max_soc=0.7532987287494158,
        max_cycles_per_day=2.0,
    )
    prices = [np.array(day, dtype=float) for day in FOUR_DAYS]
    _, _, flat, offsets, grid = _chain_parts(prices, battery)
    assert _capped_chain_exact(flat, offsets, battery, grid) is not None
    run, best = check_run(NAME, days_from(prices), battery, horizon=Horizon.CONTINUOUS)
    assert total(run) >= 0.99 * total(best)


def test_a_capped_chain_starting_just_below_the_ceiling_keeps_its_full_moves() -> None:
    # found by an unseeded run: the start one step below the ceiling, a grid bounded by the
    # exact recursion (~186 levels), and a score that preferred holding the ceiling to
    # rounding every full-power move by ~1 %: 98.4 % of optimal; a room smaller than a
    # full-power move now counts for what such a move would lose there
    battery = Battery(
        power_mw=1.1,
        duration_h=4.14,
        charge_efficiency=0.744,
        discharge_efficiency=0.992,
        min_soc=0.01,
        max_soc=0.754,
        initial_soc=0.748,
        degradation_cost_mxn_per_mwh=300.0,
        max_cycles_per_day=2.0,
    )
    second, third = np.zeros(25), np.zeros(23)
    second[[2, 8, 14, 22, 23]] = [100.0, 1164.6, 1415.6, -50.0, 1341.2]
    third[[2, 5, 6, 15, 17, 19, 20, 21]] = [0.1, 100.0, 100.0, 421.7, 100.0, 9000.0, 100.0, 1326.7]
    prices = [np.zeros(24), second, third]
    run, best = check_run(NAME, days_from(prices), battery, horizon=Horizon.CONTINUOUS)
    assert total(run) >= 0.99 * total(best)


def test_a_capped_grid_holds_a_whole_number_of_cap_steps_where_it_can() -> None:
    # without a cap the grid's size keeps the most of the full-power moves; with half a cycle
    # a day it also keeps the cap whole: here 85 steps instead of 80.5
    free = Battery(
        power_mw=3.0, duration_h=2.5, round_trip_efficiency=0.8, min_soc=0.1, max_soc=0.9
    )
    capped = dataclasses.replace(free, max_cycles_per_day=0.5)
    cap = capped.daily_withdrawal_cap_mwh
    assert cap is not None
    free_steps = cap / make_grid(free).step_mwh
    steps = cap / make_grid(capped).step_mwh
    assert abs(free_steps - round(free_steps)) > 0.1
    assert steps == pytest.approx(round(steps), abs=1e-9)


def test_a_long_capped_chain_of_a_week_long_battery_is_searched_on_a_fine_grid() -> None:
    # 30 days at one cycle a day leave the exact recursion's bound fewer than LEVELS.start
    # levels; capped at 200 levels (as before), a 168-h battery's full-power hour was one
    # step each way (82 % and 70 % of its moves) and dp earned 77.6 % here
    battery = prd_battery(duration_h=168.0, max_cycles_per_day=1.0)
    days = list(real_days())[:30]
    grid = chain_grid(battery, sum(len(day.prices_mxn_per_mwh) for day in days))
    assert grid.up >= 3
    assert grid.down >= 3
    run, best = check_run(NAME, days, battery, horizon=Horizon.CONTINUOUS)
    assert total(run) >= 0.99 * total(best)
