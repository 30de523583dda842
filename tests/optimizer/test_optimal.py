"""``optimal`` is exact: equal to an independent MILP (tests/optimizer/reference.py)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer import Battery, DeadlineExceededError, Horizon, MarketDay, run_strategy
from tests.optimizer.helpers import (
    PUBLISHED,
    PUBLISHED_OPTIMA,
    batteries,
    day_prices,
    days_from,
    prd_battery,
    real_day,
    real_days,
)
from tests.optimizer.reference import reference_optimum


def assert_exact(got: float, want: float) -> None:
    assert got == pytest.approx(want, rel=1e-6, abs=1e-6)


def optimal_total(
    days: list[MarketDay], battery: Battery, horizon: Horizon = Horizon.DAILY
) -> float:
    return run_strategy("optimal", days, battery, horizon=horizon).summary.total_revenue_mxn


@pytest.mark.parametrize(("efficiencies", "published"), PUBLISHED_OPTIMA)
def test_published_vectors(efficiencies: dict, published: float) -> None:
    battery = prd_battery(**efficiencies)
    days = days_from([np.array(PUBLISHED, dtype=float)])
    total = optimal_total(days, battery)
    assert total == pytest.approx(published, abs=0.005)
    assert_exact(total, reference_optimum([PUBLISHED], battery))


def test_hand_checkable_single_cycle() -> None:
    # 1 MW / 1 MWh, lossless: buy the 10 at 03:00, sell the 90 at 20:00 -> 80 MXN
    prices = np.full(24, 50.0)
    prices[3], prices[20] = 10.0, 90.0
    battery = Battery(power_mw=1, duration_h=1, round_trip_efficiency=1.0)
    day = run_strategy("optimal", days_from([prices]), battery).days[0]
    assert day.revenue_mxn == pytest.approx(80.0, abs=1e-9)
    steps = day.schedule
    assert steps[3].action == "charge"
    assert steps[3].power_mw == 1.0
    assert steps[20].action == "discharge"
    assert steps[20].power_mw == 1.0
    assert steps[-1].soc == 0.0


def test_one_spike_day_is_limited_by_stored_energy() -> None:
    # 10 MW / 10 MWh, 90 % each way: 10 MWh stored (11.1 MWh bought at 100) -> 9 MW at 1000
    prices = np.full(24, 100.0)
    prices[18] = 1000.0
    battery = Battery(power_mw=10, duration_h=1, round_trip_efficiency=0.81)
    day = run_strategy("optimal", days_from([prices]), battery).days[0]
    assert day.revenue_mxn == pytest.approx(9 * 1000 - (10 / 0.9) * 100, rel=1e-9)
    assert day.energy_discharged_mwh == pytest.approx(9.0)
    assert day.schedule[18].power_mw == pytest.approx(9.0)


def test_flat_day_idles_cleanly() -> None:
    battery = prd_battery()
    day = run_strategy("optimal", days_from([np.full(24, 700.0)]), battery).days[0]
    assert day.revenue_mxn == 0.0
    assert {s.action for s in day.schedule} == {"idle"}
    assert all(s.power_mw == 0.0 and s.soc == 0.1 for s in day.schedule)
    assert day.avg_charge_price_mxn_per_mwh is None
    assert day.avg_discharge_price_mxn_per_mwh is None
    assert day.cycles == 0.0


@pytest.mark.parametrize("date", ["2016-04-03", "2016-10-30"], ids=["23h", "25h"])
def test_clock_change_days(date: str) -> None:
    day = real_day(date)
    battery = prd_battery()
    result = run_strategy("optimal", [day], battery).days[0]
    assert len(result.schedule) == day.hours
    assert_exact(result.revenue_mxn, reference_optimum([day.prices_mxn_per_mwh], battery))


@pytest.mark.parametrize(
    "battery",
    [
        prd_battery(min_soc=0.30, max_soc=0.31),
        prd_battery(round_trip_efficiency=1.0),
        prd_battery(degradation_cost_mxn_per_mwh=150.0),
        prd_battery(max_cycles_per_day=0.5),
        prd_battery(initial_soc=0.6),
        prd_battery(charge_efficiency=0.95, discharge_efficiency=0.7, initial_soc=1.0),
    ],
    ids=["tight-window", "lossless", "degradation", "cycle-cap", "start-mid", "one-way-full"],
)
def test_real_week_matches_reference(battery: Battery) -> None:
    week = list(real_days()[60:67])
    results = run_strategy("optimal", week, battery).days
    for day, result in zip(week, results, strict=True):
        assert_exact(result.revenue_mxn, reference_optimum([day.prices_mxn_per_mwh], battery))


def test_negative_prices_never_charge_and_discharge_at_once() -> None:
    prices = np.array(PUBLISHED, dtype=float) - 60.0  # about half the hours below zero
    prices[5:9] = [-400.0, -900.0, -120.0, -1500.0]
    battery = prd_battery(initial_soc=1.0)
    day = run_strategy("optimal", days_from([prices]), battery).days[0]
    assert not ((day.charge_mw > 0) & (day.discharge_mw > 0)).any()
    assert_exact(day.revenue_mxn, reference_optimum([prices], battery))
    # a full battery is emptied before the deepest negative hour to be paid to refill
    assert day.discharge_mw[:8].sum() > 0


def test_continuous_horizon_matches_reference_and_beats_daily() -> None:
    days = list(real_days()[100:103])
    battery = prd_battery(initial_soc=0.5)
    continuous = optimal_total(days, battery, Horizon.CONTINUOUS)
    reference = reference_optimum([d.prices_mxn_per_mwh for d in days], battery, continuous=True)
    assert_exact(continuous, reference)
    assert continuous >= optimal_total(days, battery) - 1e-6


def test_outputs_are_clean_of_solver_noise() -> None:
    run = run_strategy("optimal", list(real_days()[:30]), prd_battery())
    for day in run.days:
        for step in day.schedule:
            assert step.power_mw >= 0.0
            assert (step.action == "idle") == (step.power_mw == 0.0)
            assert 0.1 <= step.soc <= 1.0
            assert step.power_mw == 10.0 or abs(step.power_mw - 10.0) > 1e-7
            assert step.power_mw == 0.0 or step.power_mw > 1e-7
        assert day.soc[-1] == 0.1  # back exactly at the start SoC


def test_revenue_identity() -> None:
    battery = prd_battery(degradation_cost_mxn_per_mwh=40.0)
    for day in run_strategy("optimal", list(real_days()[200:210]), battery).days:
        p = day.prices_mxn_per_mwh
        expected = float(
            np.sum(p * (day.discharge_mw - day.charge_mw)) - 40 * day.discharge_mw.sum()
        )
        assert day.revenue_mxn == pytest.approx(expected, rel=1e-12, abs=0.5e-6)  # micro-peso
        if day.energy_charged_mwh > 0:
            weighted = float(np.sum(p * day.charge_mw) / day.charge_mw.sum())
            assert day.avg_charge_price_mxn_per_mwh == pytest.approx(weighted)


@given(prices=day_prices(), battery=batteries())
def test_property_equals_reference_milp(prices: np.ndarray, battery: Battery) -> None:
    total = optimal_total(days_from([prices]), battery)
    assert_exact(total, reference_optimum([prices], battery))


@given(
    prices=st.lists(st.sampled_from([23, 24, 25]).flatmap(day_prices), min_size=2, max_size=3),
    battery=batteries(),
)
def test_property_multi_day_both_horizons(prices: list[np.ndarray], battery: Battery) -> None:
    days = days_from(prices)
    daily = optimal_total(days, battery)
    assert_exact(daily, reference_optimum(prices, battery))
    continuous = optimal_total(days, battery, Horizon.CONTINUOUS)
    assert_exact(continuous, reference_optimum(prices, battery, continuous=True))
    assert continuous >= daily - 1e-6 * max(1.0, abs(daily))


def negative_days() -> list[MarketDay]:
    """Real days shifted so that most hours are negative: every day is non-convex."""
    return [
        MarketDay(d.date, tuple(p - 900.0 for p in d.prices_mxn_per_mwh))
        for d in real_days()[30:34]
    ]


def test_negative_days_match_reference() -> None:
    days = negative_days()
    battery = prd_battery(initial_soc=0.5)
    results = run_strategy("optimal", days, battery).days
    for day, result in zip(days, results, strict=True):
        assert not ((result.charge_mw > 0) & (result.discharge_mw > 0)).any()
        assert_exact(result.revenue_mxn, reference_optimum([day.prices_mxn_per_mwh], battery))


def test_a_passed_deadline_raises_a_typed_truthful_error() -> None:
    with pytest.raises(DeadlineExceededError, match="deadline passed") as caught:
        run_strategy("optimal", negative_days(), prd_battery(), deadline_s=-1.0)
    assert "budget" not in str(caught.value)


def test_a_future_deadline_changes_nothing() -> None:
    days = negative_days()
    battery = prd_battery(max_cycles_per_day=0.5)
    free = run_strategy("optimal", days, battery)
    guarded = run_strategy("optimal", days, battery, deadline_s=time.monotonic() + 3600.0)
    for a, b in zip(free.days, guarded.days, strict=True):
        np.testing.assert_array_equal(a.charge_mw, b.charge_mw)
        np.testing.assert_array_equal(a.discharge_mw, b.discharge_mw)


def test_cycle_cap_with_convex_and_non_convex_days() -> None:
    days = [*negative_days()[:2], *real_days()[40:42]]
    days.sort(key=lambda d: d.date)
    battery = prd_battery(max_cycles_per_day=0.75, degradation_cost_mxn_per_mwh=20.0)
    results = run_strategy("optimal", days, battery).days
    for day, result in zip(days, results, strict=True):
        assert result.cycles <= 0.75 + 1e-9
        assert_exact(result.revenue_mxn, reference_optimum([day.prices_mxn_per_mwh], battery))


def test_integer_parameters_and_a_tight_window_starting_mid_band() -> None:
    # int power with a 1 %-wide window: an integer-typed bound array once truncated 12.4 to 12
    battery = Battery(power_mw=10, duration_h=4, min_soc=0.3, max_soc=0.31, initial_soc=0.3049)
    days = list(real_days()[:3])
    prices = [d.prices_mxn_per_mwh for d in days]
    assert_exact(
        optimal_total(days, battery, Horizon.CONTINUOUS),
        reference_optimum(prices, battery, continuous=True),
    )
    assert_exact(optimal_total(days, battery), reference_optimum(prices, battery))
