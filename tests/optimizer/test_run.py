from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import optimizer
from optimizer import InvalidPricesError, MarketDay, UnknownStrategyError, optimize
from tests.optimizer.helpers import days_from, prd_battery, real_days


def test_optimize_compares_every_registered_strategy() -> None:
    days = list(real_days()[:7])
    report = optimize(days, prd_battery(), strategy="optimal")
    assert report.comparison is not None
    names = [row.strategy for row in report.comparison]
    assert names == list(optimizer.STRATEGIES) and names[0] == "optimal"
    best = report.comparison[0]
    assert best.pct_of_optimal == 100.0
    assert best.total_revenue_mxn == report.run.summary.total_revenue_mxn
    for row in report.comparison:
        assert row.total_revenue_mxn <= best.total_revenue_mxn + 1e-6
        assert row.pct_of_optimal is not None and row.pct_of_optimal <= 100.0 + 1e-6
        assert row.runtime_ms >= 0 and row.energy_discharged_mwh >= 0


def test_without_comparison_only_the_chosen_strategy_runs() -> None:
    report = optimize(list(real_days()[:2]), prd_battery(), compare=False)
    assert report.comparison is None and report.run.strategy == "optimal"


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
