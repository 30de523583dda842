"""``forecast``: no foresight -- each day scheduled on a mean of earlier days, settled at its
actual prices."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer import (
    STRATEGIES,
    Battery,
    Horizon,
    InvalidPricesError,
    MarketDay,
    optimize,
    run_strategy,
)
from optimizer.clock import hours_in_day, market_hour
from optimizer.strategies.forecast import forecast_profiles, from_24_hours, to_24_hours
from tests.optimizer.baseline_checks import PUBLISHED, check_run, total
from tests.optimizer.helpers import batteries, day_prices, days_from, prd_battery, real_days

NAME = "forecast"


def test_registered_after_the_foresight_strategies() -> None:
    strategy = STRATEGIES[NAME]
    assert strategy.order == 40
    assert not strategy.supports_continuous
    names = list(STRATEGIES)
    assert names.index(NAME) == names.index("learned") - 1


def test_first_day_idles() -> None:
    run, best = check_run(NAME, days_from([np.array(PUBLISHED, float)]), prd_battery())
    assert total(run) == 0.0
    assert total(best) > 0


def test_repeated_day_is_scheduled_optimally() -> None:
    # day 2 repeats day 1, so its forecast is exact and its schedule is optimal's
    days = days_from([np.array(PUBLISHED, float)] * 2)
    run, best = check_run(NAME, days, prd_battery())
    assert run.days[0].revenue_mxn == 0.0
    assert run.days[1].revenue_mxn == pytest.approx(best.days[1].revenue_mxn, rel=1e-9)
    assert run.days[1].revenue_mxn == pytest.approx(2957.14, abs=0.01)


def test_schedule_is_optimal_for_the_forecast_and_settled_at_actual_prices() -> None:
    history = [np.array(PUBLISHED, float), np.array(PUBLISHED[::-1], float)]
    actual = np.roll(np.array(PUBLISHED, float), 3)
    days = days_from([*history, actual])
    run, _ = check_run(NAME, days, prd_battery())
    mean = (history[0] + history[1]) / 2
    planned = run_strategy(
        "optimal", [MarketDay(days[2].date, tuple(mean.tolist()))], prd_battery()
    ).days[0]
    np.testing.assert_allclose(run.days[2].charge_mw, planned.charge_mw, atol=1e-9)
    np.testing.assert_allclose(run.days[2].discharge_mw, planned.discharge_mw, atol=1e-9)
    settled = float(actual @ (planned.discharge_mw - planned.charge_mw))
    assert run.days[2].revenue_mxn == pytest.approx(settled)
    assert run.days[2].revenue_mxn != pytest.approx(planned.revenue_mxn)


def test_forecast_is_the_mean_of_at_most_seven_earlier_days() -> None:
    rng = np.random.default_rng(7)
    prices = [rng.uniform(-50, 500, 24) for _ in range(10)]
    profiles = forecast_profiles(days_from(prices))
    assert np.isnan(profiles[0]).all()
    np.testing.assert_allclose(profiles[1], prices[0])
    np.testing.assert_allclose(profiles[3], np.mean(prices[:3], axis=0))
    np.testing.assert_allclose(profiles[7], np.mean(prices[0:7], axis=0))
    np.testing.assert_allclose(profiles[9], np.mean(prices[2:9], axis=0))


def test_clock_change_days_map_to_24_hours_and_back() -> None:
    short = np.arange(23, dtype=float)  # no 02:00 hour: index 2 is 03:00
    np.testing.assert_allclose(to_24_hours(short), [0, 1, 1.5, *range(2, 23)])
    long = np.arange(25, dtype=float)  # 01:00 twice: indices 1 and 2
    np.testing.assert_allclose(to_24_hours(long), [0, 1.5, *range(3, 25)])
    profile = np.arange(24, dtype=float)
    np.testing.assert_allclose(from_24_hours(profile, 23), [0, 1, *range(3, 24)])
    np.testing.assert_allclose(from_24_hours(profile, 25), [0, 1, 1, *range(2, 24)])
    np.testing.assert_allclose(from_24_hours(profile, 24), profile)


@pytest.mark.parametrize(
    ("system", "day"),
    [("SIN", dt.date(2016, 4, 3)), ("SIN", dt.date(2016, 10, 30)), ("BCA", dt.date(2024, 3, 10))],
    ids=str,
)
def test_24_hour_clock_agrees_with_the_clock_calendar(system: str, day: dt.date) -> None:
    """Every clock hour that exists once on the day lands where optimizer.clock puts it."""
    hours = hours_in_day(system, day)
    prices = np.arange(hours, dtype=float) * 10.0
    profile = np.arange(24, dtype=float)
    on_24 = to_24_hours(prices)
    back = from_24_hours(profile, hours)
    assert on_24.shape == (24,)
    assert back.shape == (hours,)
    for clock_hour in range(24):
        first = market_hour(system, day, clock_hour)
        if first is not None and market_hour(system, day, clock_hour, 1) is None:
            assert on_24[clock_hour] == prices[first]
        for occurrence in (0, 1):
            index = market_hour(system, day, clock_hour, occurrence)
            if index is not None:
                assert back[index] == profile[clock_hour]


def test_real_clock_change_days() -> None:
    # 2016-04-03 has 23 hours and 2016-10-30 has 25: both scheduled on 24-hour history
    by_date = {d.date: i for i, d in enumerate(real_days())}
    for date in (dt.date(2016, 4, 3), dt.date(2016, 10, 30)):
        i = by_date[date]
        days = list(real_days()[i - 7 : i + 2])
        run, _ = check_run(NAME, days, prd_battery())
        assert len(run.days[7].schedule) == days[7].hours
        assert run.days[7].energy_discharged_mwh > 0


def test_continuous_horizon_gets_daily_schedules() -> None:
    days = list(real_days()[:5])
    daily, _ = check_run(NAME, days, prd_battery())
    carried, _ = check_run(NAME, days, prd_battery(), horizon=Horizon.CONTINUOUS)
    for a, b in zip(daily.days, carried.days, strict=True):
        np.testing.assert_array_equal(a.charge_mw, b.charge_mw)
        assert b.soc[-1] == pytest.approx(0.1)


def test_tight_window_caps_and_degradation() -> None:
    days = list(real_days()[:10])
    for battery in (
        prd_battery(min_soc=0.30, max_soc=0.31),
        prd_battery(max_cycles_per_day=0.5),
        prd_battery(degradation_cost_mxn_per_mwh=100.0, round_trip_efficiency=1.0),
    ):
        run, best = check_run(NAME, days, battery)
        assert total(run) < total(best)


def test_real_month_worth_less_than_foresight() -> None:
    report = optimize(list(real_days()[:31]), prd_battery(), strategy=NAME)
    assert report.comparison is not None
    row = next(r for r in report.comparison if r.strategy == NAME)
    assert row.pct_of_optimal is not None
    assert 30.0 < row.pct_of_optimal < 100.0


@given(
    battery=batteries(),
    prices=st.lists(st.integers(23, 25).flatmap(day_prices), min_size=1, max_size=4),
    horizon=st.sampled_from(Horizon),
)
def test_property_valid_and_never_beats_optimal(
    battery: Battery, prices: list[np.ndarray], horizon: Horizon
) -> None:
    check_run(NAME, days_from(prices), battery, horizon=horizon)


@given(
    battery=batteries(),
    prices=st.lists(day_prices(24), min_size=2, max_size=4),
    last=day_prices(24),
)
def test_property_no_foresight(
    battery: Battery, prices: list[np.ndarray], last: np.ndarray
) -> None:
    # changing the last day's prices changes no schedule: no day sees its own prices
    # (or later ones)
    first = run_strategy(NAME, days_from(prices), battery)
    second = run_strategy(NAME, days_from([*prices[:-1], last]), battery)
    for a, b in zip(first.days, second.days, strict=True):
        np.testing.assert_array_equal(a.charge_mw, b.charge_mw)
        np.testing.assert_array_equal(a.discharge_mw, b.discharge_mw)


def test_history_gives_the_first_day_a_forecast() -> None:
    every = list(real_days()[:40])
    history, days = every[:10], every[10:]
    alone = run_strategy(NAME, days, prd_battery())
    after = run_strategy(NAME, days, prd_battery(), history=history)
    whole = run_strategy(NAME, every, prd_battery())
    assert alone.days[0].energy_discharged_mwh == 0.0
    assert after.days[0].energy_discharged_mwh > 0
    assert [d.date for d in after.days] == [d.date for d in days]  # history never reported
    for a, b in zip(whole.days[10:], after.days, strict=True):
        np.testing.assert_array_equal(a.charge_mw, b.charge_mw)
        np.testing.assert_array_equal(a.discharge_mw, b.discharge_mw)
    # day 7 on: the 7 days before lie inside the request, and history changes nothing
    for a, b in zip(alone.days[7:], after.days[7:], strict=True):
        np.testing.assert_array_equal(a.charge_mw, b.charge_mw)


def test_history_changes_no_other_strategy() -> None:
    every = list(real_days()[:12])
    for name in ("optimal", "spread", "cycle", "dp"):
        plain = run_strategy(name, every[5:], prd_battery())
        with_history = run_strategy(name, every[5:], prd_battery(), history=every[:5])
        assert plain.summary.total_revenue_mxn == with_history.summary.total_revenue_mxn


def test_history_must_come_before_the_days() -> None:
    every = list(real_days()[:6])
    with pytest.raises(InvalidPricesError, match="increasing date order"):
        run_strategy(NAME, every[:3], prd_battery(), history=every[2:4])
    with pytest.raises(InvalidPricesError, match="increasing date order"):
        run_strategy(NAME, every[4:], prd_battery(), history=[every[1], every[0]])


@given(
    battery=batteries(),
    history=st.lists(day_prices(24), min_size=1, max_size=8),
    prices=st.lists(day_prices(24), min_size=2, max_size=4),
    last=day_prices(24),
)
def test_property_no_foresight_with_history(
    battery: Battery, history: list[np.ndarray], prices: list[np.ndarray], last: np.ndarray
) -> None:
    every = days_from([*history, *prices])
    changed = days_from([*history, *prices[:-1], last])
    cut = len(history)
    first = run_strategy(NAME, every[cut:], battery, history=every[:cut])
    second = run_strategy(NAME, changed[cut:], battery, history=changed[:cut])
    for a, b in zip(first.days, second.days, strict=True):
        np.testing.assert_array_equal(a.charge_mw, b.charge_mw)
        np.testing.assert_array_equal(a.discharge_mw, b.discharge_mw)


def test_caller_forecast_replaces_the_mean() -> None:
    days = list(real_days()[:10])
    rng = np.random.default_rng(5)
    mine = [MarketDay.from_array(d.date, d.prices + rng.normal(0, 200, d.hours)) for d in days]
    run = run_strategy(NAME, days, prd_battery(), caller_forecast=mine)
    assert run.days[0].energy_discharged_mwh > 0  # a forecast from the first day on
    for day, planned_on, got in zip(days, mine, run.days, strict=True):
        planned = run_strategy("optimal", [planned_on], prd_battery()).days[0]
        np.testing.assert_allclose(got.charge_mw, planned.charge_mw, atol=1e-9)
        np.testing.assert_allclose(got.discharge_mw, planned.discharge_mw, atol=1e-9)
        settled = float(day.prices @ (planned.discharge_mw - planned.charge_mw))
        assert got.revenue_mxn == pytest.approx(settled)


def test_perfect_caller_forecast_earns_the_optimum() -> None:
    days = list(real_days()[:10])
    report = optimize(days, prd_battery(), caller_forecast=days)
    assert report.comparison is not None
    rows = {r.strategy: r for r in report.comparison}
    assert rows[NAME].total_revenue_mxn == pytest.approx(rows["optimal"].total_revenue_mxn)
    plain = optimize(days, prd_battery())
    assert plain.comparison is not None
    for row in plain.comparison:  # no other strategy looks at it
        if row.strategy != NAME:
            assert rows[row.strategy].total_revenue_mxn == row.total_revenue_mxn


def test_caller_forecast_of_another_length_and_missing_days() -> None:
    # the 23-hour 2016-04-03 forecast with a 24-hour day; a day left out keeps the mean
    days = list(real_days()[70:80])
    short = next(d for d in real_days() if d.date == dt.date(2016, 4, 3))
    assert short.hours == 23
    forecast = [MarketDay(days[5].date, short.prices_mxn_per_mwh)]
    run = run_strategy(NAME, days, prd_battery(), caller_forecast=forecast)
    mean = run_strategy(NAME, days, prd_battery())
    assert len(run.days[5].charge_mw) == days[5].hours == 24
    planned = run_strategy(
        "optimal", [MarketDay.from_array(days[5].date, to_24_hours(short.prices))], prd_battery()
    ).days[0]
    np.testing.assert_allclose(run.days[5].discharge_mw, planned.discharge_mw, atol=1e-9)
    for i in (0, 4, 6):
        np.testing.assert_array_equal(run.days[i].charge_mw, mean.days[i].charge_mw)
