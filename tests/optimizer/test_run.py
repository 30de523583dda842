from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import optimizer
from optimizer import InvalidPricesError, MarketDay, UnknownStrategyError, optimize
from optimizer.market import MarketDays, market_days
from optimizer.run import run_strategy
from optimizer.strategies.forecast import ProfileStrategy
from tests.optimizer.helpers import days_from, prd_battery, real_days


def test_optimize_compares_every_registered_strategy() -> None:
    days = list(real_days()[:7])
    report = optimize(days, prd_battery(), strategy="optimal")
    assert report.comparison is not None
    names = [row.strategy for row in report.comparison]
    assert names == list(optimizer.STRATEGIES)
    assert names[0] == "optimal"
    best = report.comparison[0]
    assert best.pct_of_optimal == 100.0
    assert best.total_revenue_mxn == report.run.summary.total_revenue_mxn
    for row in report.comparison:
        assert row.total_revenue_mxn <= best.total_revenue_mxn + 1e-6
        assert row.pct_of_optimal is not None
        assert row.pct_of_optimal <= 100.0 + 1e-6
        assert row.runtime_ms >= 0
        assert row.energy_discharged_mwh >= 0


def test_without_comparison_only_the_chosen_strategy_runs() -> None:
    report = optimize(list(real_days()[:2]), prd_battery(), compare=False)
    assert report.comparison is None
    assert report.run.strategy == "optimal"


def test_pct_of_optimal_is_none_when_nothing_can_be_earned() -> None:
    report = optimize(days_from([np.full(24, 500.0)]), prd_battery())
    assert report.comparison is not None
    assert all(row.pct_of_optimal is None for row in report.comparison)


def test_unknown_strategy_and_bad_day_order() -> None:
    days = list(real_days()[:2])
    with pytest.raises(UnknownStrategyError, match="optimal"):
        optimize(days, prd_battery(), strategy="magic")
    with pytest.raises(InvalidPricesError, match="increasing"):
        optimize(days[::-1], prd_battery())
    with pytest.raises(InvalidPricesError):
        optimize([], prd_battery())


@pytest.mark.parametrize(
    "prices",
    [(1.0,) * 22, (1.0,) * 26, (float("nan"),) * 24, (1.0,) * 23 + ("1",), (True,) * 24],
)
def test_market_day_rejects_bad_prices(prices: tuple[float, ...]) -> None:
    with pytest.raises(InvalidPricesError):
        MarketDay(real_days()[0].date, prices)


def test_importing_optimizer_loads_no_web_stack() -> None:
    code = (
        "import sys, optimizer\n"
        "web = {'flask', 'marshmallow', 'requests'}\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & web)\n"
        "print(','.join(bad))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""
    assert "optimal" in optimizer.STRATEGIES


@pytest.mark.parametrize(
    "prices",
    [np.ones(22), np.ones(26), np.full(24, np.nan), np.array([1.0] * 23 + [np.inf]),
     np.ones((2, 24))],
    ids=["22-hours", "26-hours", "nan", "inf", "2-d"],
)  # fmt: skip
def test_market_day_from_an_array_rejects_bad_prices(prices: np.ndarray) -> None:
    with pytest.raises(InvalidPricesError):
        MarketDay.from_array(real_days()[0].date, prices)


def test_market_day_from_an_array_is_the_same_day() -> None:
    day = real_days()[0]
    source = np.array(day.prices_mxn_per_mwh)
    copy = MarketDay.from_array(day.date, source)
    source[0] = -1.0  # the day holds its own copy
    assert copy == day
    assert all(type(p) is float for p in copy.prices_mxn_per_mwh)
    np.testing.assert_array_equal(copy.prices, day.prices)
    assert not copy.prices.flags.writeable
    assert not day.prices.flags.writeable


def test_days_are_laid_out_once_and_shared() -> None:
    """Every strategy and the settlement of one run see the same read-only layout."""
    days = [*real_days()[:3], MarketDay(real_days()[3].date, (50.0,) * 23)]
    layout = market_days(days)
    assert market_days(layout) is layout
    assert layout == tuple(days)
    np.testing.assert_array_equal(layout.hours, [24, 24, 24, 23])
    np.testing.assert_array_equal(layout.offsets, [0, 24, 48, 72, 95])
    np.testing.assert_array_equal(layout.flat, np.concatenate([d.prices for d in days]))
    assert layout.matrix.shape == (4, 24)
    np.testing.assert_array_equal(layout.matrix[layout.mask], layout.flat)
    assert layout.matrix[3, 23] == 0.0
    assert not layout.mask[3, 23]
    for array in (layout.hours, layout.offsets, layout.flat, layout.mask, layout.matrix):
        assert not array.flags.writeable
    assert layout.matrix is layout.matrix  # built once


def test_every_strategy_gets_the_same_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, object]] = []
    for name, strategy in optimizer.STRATEGIES.items():
        # strategies without foresight hand their forecasts in (``profiles``), the others
        # their schedule (``dispatch``)
        entry = "profiles" if isinstance(strategy, ProfileStrategy) else "dispatch"
        original = getattr(strategy, entry)

        def spy(
            days: Any, *args: Any, _original: Any = original, _name: str = name, **kwargs: Any
        ) -> Any:
            seen.append((_name, days))
            return _original(days, *args, **kwargs)

        monkeypatch.setattr(strategy, entry, spy)
    requested = real_days()[:5]
    optimize(requested, prd_battery(), compare=True)
    layout = seen[0][1]
    assert isinstance(layout, MarketDays)
    assert list(layout) == list(requested)
    others = [days for name, days in seen if name != "optimal"]
    assert len(others) == len(optimizer.STRATEGIES) - 1
    assert all(days is layout for days in others)
    # optimal schedules its own days and the forecast days of the others in one call
    (combined,) = [days for name, days in seen if name == "optimal"]
    assert isinstance(combined, MarketDays)
    assert list(combined[: len(requested)]) == list(requested)
    assert len(combined) > len(requested)


@pytest.mark.parametrize("cap", [None, 1.0])
def test_comparison_runs_are_the_single_runs(cap: float | None) -> None:
    """The comparison schedules optimal, forecast and learned in one call of optimal: every
    run must still be what the strategy gives alone."""
    days, history = real_days()[120:150], real_days()[60:120]
    battery = prd_battery(max_cycles_per_day=cap, degradation_cost_mxn_per_mwh=25.0)
    report = optimize(days, battery, compare=True, history=history)
    assert report.comparison is not None
    for row in report.comparison:
        alone = run_strategy(row.strategy, days, battery, history=history)
        compared = optimize(days, battery, strategy=row.strategy, history=history).run
        assert row.total_revenue_mxn == alone.summary.total_revenue_mxn
        for mine, single in zip(compared.days, alone.days, strict=True):
            assert mine.revenue_mxn == pytest.approx(single.revenue_mxn, rel=1e-9, abs=1e-6)
            np.testing.assert_allclose(mine.charge_mw, single.charge_mw, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(mine.discharge_mw, single.discharge_mw, rtol=1e-9, atol=1e-9)


def test_market_days_split_from_one_array() -> None:
    first, second = real_days()[:2]
    flat = np.concatenate([first.prices, second.prices[:23]])
    days = MarketDay.split([first.date, second.date], flat, [0, 24, 47])
    assert days == (first, MarketDay(second.date, second.prices_mxn_per_mwh[:23]))
    flat[0] = -1.0  # the days hold their own copy
    assert days[0].prices[0] == first.prices[0]
    assert not days[0].prices.flags.writeable


@pytest.mark.parametrize(
    ("prices", "offsets", "message"),
    [(np.ones(46), [0, 24, 46], "not 22"), (np.r_[np.ones(47), np.nan], [0, 24, 48], "hour 23"),
     (np.ones(48), [0, 24], "same days")],
    ids=["short-day", "nan", "offsets"],
)  # fmt: skip
def test_market_days_split_rejects_bad_days(
    prices: np.ndarray, offsets: list[int], message: str
) -> None:
    dates = [day.date for day in real_days()[:2]]
    with pytest.raises(InvalidPricesError, match=message):
        MarketDay.split(dates, prices, offsets)
