"""``cycle``: one full cycle a day, cheapest filling window then dearest window after it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer import STRATEGIES, Battery, DayResult, Horizon, optimize
from tests.optimizer.baseline_checks import PUBLISHED, check_run, total
from tests.optimizer.helpers import batteries, day_prices, days_from, prd_battery, real_days

NAME = "cycle"


def blocks(active: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of True as (first, last) hour pairs."""
    edges = np.diff(np.concatenate(([0], active.astype(int), [0])))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))


def assert_one_cycle(day: DayResult) -> None:
    """At most one charging block, then at most one discharging block after it."""
    charging, discharging = blocks(day.charge_mw > 0), blocks(day.discharge_mw > 0)
    assert len(charging) == len(discharging) <= 1
    if charging:
        assert charging[0][1] < discharging[0][0]
        # every hour runs at full power except at most one per window
        power = day.charge_mw.max()
        assert (np.isclose(day.charge_mw[day.charge_mw > 0], power)).sum() >= (
            charging[0][1] - charging[0][0]
        )


def test_registered_with_its_place_in_listings() -> None:
    strategy = STRATEGIES[NAME]
    assert strategy.order == 30
    assert strategy.description
    assert list(STRATEGIES).index(NAME) > list(STRATEGIES).index("spread")


@pytest.mark.parametrize("price", [0.0, 37.5, -20.0], ids=["zero", "positive", "negative"])
def test_flat_prices_idle(price: float) -> None:
    # a cycle on a flat day loses its round-trip losses -- unless the price is negative: then
    # buying is paid for more MWh than selling costs
    run, best = check_run(NAME, days_from([np.full(24, price)]), prd_battery())
    if price >= 0:
        assert total(run) == 0.0
        assert not run.days[0].charge_mw.any()
    else:
        assert 0 < total(run) <= total(best)


def test_published_vector_by_hand() -> None:
    # fill 0.1 -> 1.0 of 40 MWh = 36 MWh stored: 36 / sqrt(.85) MWh bought, 36 * sqrt(.85) sold
    battery = prd_battery()
    run, best = check_run(NAME, days_from([np.array(PUBLISHED, float)]), battery)
    eta = math.sqrt(0.85)
    bought, sold = 36 / eta, 36 * eta
    want_c, want_d = np.zeros(24), np.zeros(24)
    # cheapest 4-hour window is hours 1-4 (15, 10, 12, 15); the part-hour is its dearest hour
    want_c[1:5] = 10.0
    want_c[1] = bought - 30.0
    # dearest 4-hour window after it is hours 16-19 (60, 90, 85, 70); part-hour the cheapest
    want_d[16:20] = 10.0
    want_d[16] = sold - 30.0
    np.testing.assert_allclose(run.days[0].charge_mw, want_c, atol=1e-9)
    np.testing.assert_allclose(run.days[0].discharge_mw, want_d, atol=1e-9)
    prices = np.array(PUBLISHED, float)
    assert total(run) == pytest.approx(prices @ (want_d - want_c))
    assert run.days[0].cycles == pytest.approx(1.0)
    assert 0 < total(run) < total(best)
    assert run.days[0].soc[4] == pytest.approx(1.0)


def test_cheapest_window_without_a_later_dear_window_is_skipped() -> None:
    # the cheapest hours are the last ones: nothing dear comes after them
    prices = np.full(24, 50.0)
    prices[20:24] = 1.0
    prices[2:6] = 10.0
    prices[12:16] = 100.0
    run, _ = check_run(NAME, days_from([prices]), prd_battery())
    day = run.days[0]
    assert blocks(day.charge_mw > 0) == [(2, 5)]
    assert blocks(day.discharge_mw > 0) == [(12, 15)]


def test_idles_when_losses_and_degradation_eat_the_spread() -> None:
    prices = np.array(PUBLISHED, float)
    run, _ = check_run(NAME, days_from([prices]), prd_battery(degradation_cost_mxn_per_mwh=80))
    assert total(run) == 0.0
    cheap, _ = check_run(NAME, days_from([prices]), prd_battery(degradation_cost_mxn_per_mwh=5))
    assert total(cheap) > 0


def test_full_battery_has_no_room() -> None:
    run, _ = check_run(NAME, days_from([np.array(PUBLISHED, float)]), prd_battery(initial_soc=1.0))
    assert total(run) == 0.0


def test_initial_soc_in_the_middle_fills_only_the_room() -> None:
    run, _ = check_run(NAME, days_from([np.array(PUBLISHED, float)]), prd_battery(initial_soc=0.55))
    day = run.days[0]
    assert day.soc.max() == pytest.approx(1.0)
    assert day.soc[-1] == pytest.approx(0.55)
    assert day.cycles == pytest.approx(0.5)


def test_cycle_cap_scales_the_cycle_down() -> None:
    run, _ = check_run(
        NAME, days_from([np.array(PUBLISHED, float)]), prd_battery(max_cycles_per_day=0.25)
    )
    assert run.days[0].cycles == pytest.approx(0.25)
    assert run.days[0].soc.max() == pytest.approx(0.1 + 0.25 * 0.9)


def test_long_duration_fits_both_windows_in_the_day() -> None:
    # 1 MW, 30 h: a full cycle would need 60+ hours; the cycle shrinks to what 24 hours hold
    battery = Battery(power_mw=1.0, duration_h=30.0, round_trip_efficiency=1.0)
    run, _ = check_run(NAME, days_from([np.array(PUBLISHED, float)]), battery)
    day = run.days[0]
    assert_one_cycle(day)
    assert day.energy_charged_mwh == pytest.approx(12.0)
    assert day.energy_discharged_mwh == pytest.approx(12.0)


@pytest.mark.parametrize("hours", [23, 25])
def test_clock_change_days(hours: int) -> None:
    prices = np.array([*PUBLISHED, 90.0], float)[:hours]
    run, _ = check_run(NAME, days_from([prices, np.array(PUBLISHED, float)]), prd_battery())
    assert [len(d.schedule) for d in run.days] == [hours, 24]
    for day in run.days:
        assert_one_cycle(day)
        assert day.cycles == pytest.approx(1.0)


def test_tight_window_and_unit_efficiency() -> None:
    battery = prd_battery(min_soc=0.30, max_soc=0.31, round_trip_efficiency=1.0)
    run, _ = check_run(NAME, days_from([np.array(PUBLISHED, float)]), battery)
    day = run.days[0]
    # 0.4 MWh: one part-hour each way, at the cheapest hour and the dearest hour after it
    assert blocks(day.charge_mw > 0) == [(2, 2)]
    assert blocks(day.discharge_mw > 0) == [(17, 17)]
    assert total(run) == pytest.approx(0.4 * (90 - 10))


def test_real_days_through_the_comparison() -> None:
    report = optimize(list(real_days()[:31]), prd_battery(), strategy=NAME)
    assert report.comparison is not None
    row = next(r for r in report.comparison if r.strategy == NAME)
    assert row.pct_of_optimal is not None
    assert 80.0 < row.pct_of_optimal <= 100.0 + 1e-6
    for day in report.run.days:
        assert_one_cycle(day)


@given(
    battery=batteries(),
    prices=st.lists(st.integers(23, 25).flatmap(day_prices), min_size=1, max_size=3),
    horizon=st.sampled_from(Horizon),
)
def test_property_valid_one_cycle_never_beats_optimal(
    battery: Battery, prices: list[np.ndarray], horizon: Horizon
) -> None:
    run, _ = check_run(NAME, days_from(prices), battery, horizon=horizon)
    for day in run.days:
        assert_one_cycle(day)
        assert day.cycles <= 1.0 + 1e-6  # settlement rounds energies to 1e-9 MWh


@pytest.mark.parametrize("width", range(1, 13))
def test_window_sums_and_extremes_are_numpys_to_the_bit(width: int) -> None:
    """Short windows are summed by adding shifted columns: the very sums (and maxima, minima)
    numpy gives over the windows, cancellation-prone values included."""
    from numpy.lib.stride_tricks import sliding_window_view

    from optimizer.strategies.cycle import _window_sum_and

    rng = np.random.default_rng(width)
    values = rng.normal(size=(40, 24)) * 10.0 ** rng.integers(-3, 6, size=(40, 1))
    values[0, :4] = [1e16, 1.0, 1.0, -1e16]  # a sum whose order shows
    windows = sliding_window_view(values, width, axis=1)
    for pick, reduce in ((np.maximum, windows.max), (np.minimum, windows.min)):
        total, extreme = _window_sum_and(pick, values, width)
        assert np.array_equal(total, windows.sum(axis=2))
        assert np.array_equal(extreme, reduce(axis=2))
