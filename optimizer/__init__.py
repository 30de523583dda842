"""Battery arbitrage optimizer: pure domain code (standard library, numpy, scipy only)."""

from __future__ import annotations

from optimizer.battery import Battery
from optimizer.errors import (
    DeadlineExceededError,
    InfeasibleProblemError,
    InvalidBatteryError,
    InvalidPricesError,
    OptimizerError,
    PhysicsViolationError,
    SolverError,
    UnknownStrategyError,
)
from optimizer.market import ALLOWED_HOURS_PER_DAY, MarketDay
from optimizer.results import (
    Action,
    ComparisonRow,
    DayResult,
    DayRevenue,
    Horizon,
    HourStep,
    Report,
    StrategyRun,
    Summary,
)
from optimizer.run import optimize, run_strategy
from optimizer.strategies import STRATEGIES, Strategy, get_strategy

__all__ = [
    "ALLOWED_HOURS_PER_DAY",
    "STRATEGIES",
    "Action",
    "Battery",
    "ComparisonRow",
    "DayResult",
    "DayRevenue",
    "DeadlineExceededError",
    "Horizon",
    "HourStep",
    "InfeasibleProblemError",
    "InvalidBatteryError",
    "InvalidPricesError",
    "MarketDay",
    "OptimizerError",
    "PhysicsViolationError",
    "Report",
    "SolverError",
    "Strategy",
    "StrategyRun",
    "Summary",
    "UnknownStrategyError",
    "get_strategy",
    "optimize",
    "run_strategy",
]
