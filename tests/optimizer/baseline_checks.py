"""Checks shared by the baseline strategies' tests (spread, cycle, dp, forecast)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from optimizer import Battery, Horizon, MarketDay, StrategyRun, run_strategy
from tests.optimizer.helpers import PUBLISHED

__all__ = ["PUBLISHED", "check_run", "total"]


def total(run: StrategyRun) -> float:
    return run.summary.total_revenue_mxn


def check_run(
    name: str,
    days: Sequence[MarketDay],
    battery: Battery,
    *,
    horizon: Horizon = Horizon.DAILY,
) -> tuple[StrategyRun, StrategyRun]:
    """Run ``name`` and ``optimal`` through the full path (settlement checks the physics) and
    assert what settlement does not: the daily cycle cap, the revenue identity, and that the
    strategy does not beat the optimum. Returns (strategy run, optimal run)."""
    run = run_strategy(name, days, battery, horizon=horizon)
    best = run_strategy("optimal", days, battery, horizon=horizon)
    energy_tol = max(1e-7 * battery.energy_mwh, 1e-9)
    cap = battery.daily_withdrawal_cap_mwh
    kappa = battery.degradation_cost_mxn_per_mwh
    for day, result in zip(days, run.days, strict=True):
        assert result.charge_mw.shape == (day.hours,)
        assert ((result.charge_mw == 0) | (result.discharge_mw == 0)).all()
        if cap is not None:
            assert result.discharge_mw.sum() / battery.eta_discharge <= cap + energy_tol
        prices = np.asarray(day.prices_mxn_per_mwh)
        revenue = float(
            prices @ (result.discharge_mw - result.charge_mw) - kappa * result.discharge_mw.sum()
        )
        scale = max(1.0, float(np.abs(prices).max()) * battery.power_mw * day.hours)
        # revenues are reported to the micro-peso (optimizer.settle.MONEY_DECIMALS)
        assert abs(result.revenue_mxn - revenue) <= 1e-9 * scale + 0.5e-6
    assert total(run) <= total(best) + 1e-6 * max(1.0, abs(total(best)))
    return run, best
