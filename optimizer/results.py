"""Results of running a strategy: per-hour steps, per-day economics, run summary, comparison."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class Action(StrEnum):
    CHARGE = "charge"
    DISCHARGE = "discharge"
    IDLE = "idle"


class Horizon(StrEnum):
    """How days are linked (SPEC §2)."""

    DAILY = "daily"
    CONTINUOUS = "continuous"


@dataclass(frozen=True)
class HourStep:
    """One hour of a schedule: ``power_mw`` at the grid (>= 0), ``soc`` after the hour."""

    hour: int
    action: Action
    power_mw: float
    price_mxn_per_mwh: float
    soc: float


@dataclass(frozen=True, eq=False)
class DayResult:
    """One market day settled at its actual prices.

    The hourly arrays are kept as numpy arrays (cleaned of solver noise); ``schedule`` builds
    the per-hour view on demand.
    """

    date: dt.date
    prices_mxn_per_mwh: np.ndarray
    charge_mw: np.ndarray
    discharge_mw: np.ndarray
    soc: np.ndarray
    revenue_mxn: float
    energy_charged_mwh: float
    energy_discharged_mwh: float
    avg_charge_price_mxn_per_mwh: float | None
    avg_discharge_price_mxn_per_mwh: float | None
    cycles: float

    @property
    def schedule(self) -> tuple[HourStep, ...]:
        steps = []
        for hour, (price, c, d, soc) in enumerate(
            zip(
                self.prices_mxn_per_mwh.tolist(),
                self.charge_mw.tolist(),
                self.discharge_mw.tolist(),
                self.soc.tolist(),
                strict=True,
            )
        ):
            if c > 0:
                action, power = Action.CHARGE, c
            elif d > 0:
                action, power = Action.DISCHARGE, d
            else:
                action, power = Action.IDLE, 0.0
            steps.append(HourStep(hour, action, power, price, soc))
        return tuple(steps)


@dataclass(frozen=True)
class DayRevenue:
    date: dt.date
    revenue_mxn: float


@dataclass(frozen=True)
class Summary:
    total_revenue_mxn: float
    avg_daily_revenue_mxn: float
    best_day: DayRevenue
    worst_day: DayRevenue


@dataclass(frozen=True)
class StrategyRun:
    """Every day of one strategy, with the run's totals and the time it took."""

    strategy: str
    horizon: Horizon
    days: tuple[DayResult, ...]
    summary: Summary
    energy_discharged_mwh: float
    cycles: float
    runtime_ms: float


@dataclass(frozen=True)
class ComparisonRow:
    strategy: str
    total_revenue_mxn: float
    #: 100 * total / optimal total; None when the optimal total is not positive.
    pct_of_optimal: float | None
    energy_discharged_mwh: float
    cycles: float
    runtime_ms: float


@dataclass(frozen=True)
class Report:
    """What ``optimize`` returns: the chosen strategy's run and, if asked, the comparison."""

    run: StrategyRun
    comparison: tuple[ComparisonRow, ...] | None
