"""SPEC §9 metrics against figures computed here independently, hour by hour in plain Python."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from typing import Any

import pytest

from optimizer import Battery, Horizon, MarketDay, StrategyRun, run_strategy
from optimizer.metrics import analyse, battery_echo, run_metrics, tb_k
from tests.optimizer.helpers import PUBLISHED, prd_battery, real_days


def _spans_clock_changes() -> tuple[MarketDay, ...]:
    """Real APATZINGAN days from 2016-03-20 to 2016-05-10 and 2016-10-20 to 2016-11-10: two
    23-/25-hour days, four calendar months."""
    days = real_days("APATZINGAN")
    keep = [
        d
        for d in days
        if dt.date(2016, 3, 20) <= d.date <= dt.date(2016, 5, 10)
        or dt.date(2016, 10, 20) <= d.date <= dt.date(2016, 11, 10)
    ]
    assert {d.hours for d in keep} == {23, 24, 25}
    return tuple(keep)


def _tb(prices: list[float], k: int) -> tuple[float, float]:
    """(sum of the k highest - sum of the k lowest, TBk spread), by sorting a Python list."""
    ordered = sorted(prices)
    top = sum(ordered[len(ordered) - k :])
    bottom = sum(ordered[:k])
    return top - bottom, (top - bottom) / k


def _reference(run: StrategyRun, battery: Battery) -> dict[str, Any]:
    """Every §9 figure of ``run`` with loops over hours."""
    k = max(1, min(12, int(battery.duration_h + 0.5)))
    hours = 0
    price_sum = 0.0
    charged = discharged = charge_cost = discharge_income = 0.0
    benchmark = 0.0
    tb: dict[int, list[float]] = {1: [], 2: [], 4: []}
    per_day = []
    months: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(float))
    for day in run.days:
        prices = day.prices_mxn_per_mwh.tolist()
        day_charged = day_discharged = 0.0
        for price, c, d in zip(
            prices, day.charge_mw.tolist(), day.discharge_mw.tolist(), strict=True
        ):
            hours += 1
            price_sum += price
            day_charged += c
            day_discharged += d
            charge_cost += price * c
            discharge_income += price * d
        charged += day_charged
        discharged += day_discharged
        benchmark += _tb(prices, k)[0] * battery.power_mw * (battery.max_soc - battery.min_soc)
        for width in tb:
            tb[width].append(_tb(prices, width)[1])
        per_day.append(
            {
                "price_mean": sum(prices) / len(prices),
                "price_min": min(prices),
                "price_max": max(prices),
                "tb4_spread": _tb(prices, 4)[1],
            }
        )
        month = months[day.date.strftime("%Y-%m")]
        month["days"] += 1
        month["revenue"] += day.revenue_mxn
        month["energy_charged"] += day_charged
        month["energy_discharged"] += day_discharged
        month["cycles"] += day_discharged / battery.eta_discharge / battery.usable_energy_mwh
        month["price_sum"] += sum(prices)
        month["hours"] += len(prices)
        month["tb4_sum"] += _tb(prices, 4)[1]
    total = sum(day.revenue_mxn for day in run.days)
    n = len(run.days)
    return {
        "per_day": per_day,
        "energy_charged": charged,
        "energy_discharged": discharged,
        "cycles": discharged / battery.eta_discharge / battery.usable_energy_mwh,
        "price_mean": price_sum / hours,
        "tb1": sum(tb[1]) / n,
        "tb2": sum(tb[2]) / n,
        "tb4": sum(tb[4]) / n,
        "captured": discharge_income / discharged - charge_cost / charged,
        "per_mw": total / battery.power_mw,
        "per_mw_year": total / battery.power_mw * 365 / n,
        "per_mwh_year": total / (battery.power_mw * battery.duration_h) * 365 / n,
        "benchmark": benchmark,
        "pct_of_tb": 100 * total / benchmark,
        "months": {
            m: {
                "days": v["days"],
                "revenue": v["revenue"],
                "energy_charged": v["energy_charged"],
                "energy_discharged": v["energy_discharged"],
                "cycles": v["cycles"],
                "price_mean": v["price_sum"] / v["hours"],
                "tb4_spread_mean": v["tb4_sum"] / v["days"],
            }
            for m, v in months.items()
        },
    }


def close(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


@pytest.mark.parametrize(
    ("strategy", "horizon", "battery"),
    [
        ("optimal", Horizon.DAILY, prd_battery()),
        ("spread", Horizon.DAILY, prd_battery(degradation_cost_mxn_per_mwh=15.0)),
        ("optimal", Horizon.CONTINUOUS, prd_battery(duration_h=2.5, min_soc=0.0)),
        ("cycle", Horizon.DAILY, prd_battery(duration_h=30.0, max_cycles_per_day=1.0)),
    ],
    ids=["optimal", "spread-degradation", "continuous-k3", "long-k12"],
)
def test_metrics_match_hour_by_hour_reference(
    strategy: str, horizon: Horizon, battery: Battery
) -> None:
    run = run_strategy(strategy, _spans_clock_changes(), battery, horizon=horizon)
    ref = _reference(run, battery)
    got = analyse(run, battery)
    summary = got.summary

    for i, expected in enumerate(ref["per_day"]):
        assert close(got.day_stats.price_mean[i], expected["price_mean"])
        assert close(got.day_stats.price_min[i], expected["price_min"])
        assert close(got.day_stats.price_max[i], expected["price_max"])
        assert close(got.day_stats.tb4_spread[i], expected["tb4_spread"])
    assert len(got.day_stats.price_mean) == len(run.days)

    assert summary.days == len(run.days)
    for field, key in [
        ("energy_charged_mwh", "energy_charged"),
        ("energy_discharged_mwh", "energy_discharged"),
        ("cycles", "cycles"),
        ("price_mean", "price_mean"),
        ("tb1_spread_mean", "tb1"),
        ("tb2_spread_mean", "tb2"),
        ("tb4_spread_mean", "tb4"),
        ("captured_spread", "captured"),
        ("revenue_per_mw", "per_mw"),
        ("revenue_per_mw_year", "per_mw_year"),
        ("revenue_per_mwh_year", "per_mwh_year"),
        ("tb_benchmark_revenue", "benchmark"),
        ("pct_of_tb", "pct_of_tb"),
    ]:
        assert close(getattr(summary, field), ref[key]), field
    assert summary.tb_k_hours == max(1, min(12, int(battery.duration_h + 0.5)))

    assert [row.month for row in got.monthly] == list(ref["months"])
    for row in got.monthly:
        expected = ref["months"][row.month]
        assert row.days == expected["days"]
        for field, key in [
            ("revenue_mxn", "revenue"),
            ("energy_charged_mwh", "energy_charged"),
            ("energy_discharged_mwh", "energy_discharged"),
            ("cycles", "cycles"),
            ("price_mean", "price_mean"),
            ("tb4_spread_mean", "tb4_spread_mean"),
        ]:
            assert close(getattr(row, field), expected[key]), (row.month, field)


def test_monthly_rows_add_up_to_the_daily_figures() -> None:
    battery = prd_battery()
    run = run_strategy("optimal", _spans_clock_changes(), battery)
    got = analyse(run, battery)
    assert sum(row.days for row in got.monthly) == len(run.days)
    assert math.isclose(
        sum(row.revenue_mxn for row in got.monthly), run.summary.total_revenue_mxn, abs_tol=1e-5
    )
    assert math.isclose(
        sum(row.energy_discharged_mwh for row in got.monthly),
        sum(d.energy_discharged_mwh for d in run.days),
        abs_tol=1e-6,
    )
    assert math.isclose(sum(row.cycles for row in got.monthly), run.cycles, abs_tol=1e-6)


def test_published_vector_tb4_and_benchmark() -> None:
    """The SPEC §2 day: 4 dearest hours 90, 85, 70, 60 (or 60); 4 cheapest 10, 12, 15, 15."""
    battery = prd_battery()
    run = run_strategy("optimal", [MarketDay(dt.date(2024, 1, 1), tuple(PUBLISHED))], battery)
    got = analyse(run, battery)
    assert got.day_stats.tb4_spread == ((90 + 85 + 70 + 60 - (10 + 12 + 15 + 15)) / 4,)
    # k = 4, P = 10 MW, soc range 0.9
    assert close(got.summary.tb_benchmark_revenue, (305 - 52) * 10 * 0.9)
    assert math.isclose(run.summary.total_revenue_mxn, 2957.14, abs_tol=0.005)
    assert close(got.summary.pct_of_tb, 100 * run.summary.total_revenue_mxn / ((305 - 52) * 9.0))
    assert got.monthly[0].month == "2024-01"


@pytest.mark.parametrize(
    ("duration", "k"),
    [(0.01, 1), (0.5, 1), (1.49, 1), (1.5, 2), (2.5, 3), (4.0, 4), (11.6, 12), (168.0, 12)],
)
def test_tb_k_rounds_half_up_and_clamps(duration: float, k: int) -> None:
    assert tb_k(duration) == k


def test_idle_run_has_no_captured_spread_and_flat_prices_no_pct_of_tb() -> None:
    battery = prd_battery()
    flat = [MarketDay(dt.date(2024, 2, d), (500.0,) * 24) for d in (1, 2)]
    metrics = run_metrics(run_strategy("optimal", flat, battery), battery)
    assert metrics.captured_spread is None
    assert metrics.tb_benchmark_revenue == 0.0
    assert metrics.pct_of_tb is None
    assert metrics.energy_discharged_mwh == 0.0


def test_battery_echo_resolves_defaults_and_one_way_efficiencies() -> None:
    echo = battery_echo(prd_battery())
    assert (echo.capacity_mw, echo.duration_hours, echo.energy_mwh) == (10.0, 4.0, 40.0)
    assert close(echo.charge_efficiency, math.sqrt(0.85))
    assert close(echo.round_trip_efficiency, 0.85)
    assert (echo.initial_soc, echo.max_cycles_per_day) == (0.1, None)
    one_way = battery_echo(prd_battery(charge_efficiency=0.9, discharge_efficiency=0.8))
    assert (one_way.charge_efficiency, one_way.discharge_efficiency) == (0.9, 0.8)
    assert close(one_way.round_trip_efficiency, 0.72)
