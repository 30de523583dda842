"""Analyst metrics of a run (SPEC §9): price statistics, TBk spreads and the TBk benchmark,
captured spread, revenue per MW(h)-year, and monthly totals.

Pure domain code over the arrays a run already holds (each day's prices, grid-side charge and
discharge power, the battery); vectorised with numpy, one padded (days x hours) matrix.

Conventions (SPEC §9): the **TBk spread** of a day is the mean of its k highest hourly prices
minus the mean of its k lowest (MXN/MWh); the **TBk benchmark** is the sum over days of
(sum of the k highest - sum of the k lowest) x P x (soc_max - soc_min), with k the battery's
duration rounded half up to a whole hour and clamped to 1..12. Money is rounded to the
micro-peso and other figures to 9 decimals, as settlement does.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from optimizer.battery import Battery
from optimizer.results import DayResult, StrategyRun

#: days in the year used to annualise (revenue x 365 / days)
DAYS_PER_YEAR = 365
#: bounds of the TBk benchmark's k (hours)
TB_K_MIN, TB_K_MAX = 1, 12
_DECIMALS = 9
_MONEY_DECIMALS = 6


@dataclass(frozen=True, kw_only=True)
class BatteryEcho:
    """The battery as resolved (SPEC §9 ``battery``)."""

    capacity_mw: float
    duration_hours: float
    energy_mwh: float
    round_trip_efficiency: float
    charge_efficiency: float
    discharge_efficiency: float
    min_soc: float
    max_soc: float
    initial_soc: float
    degradation_cost_per_mwh: float
    max_cycles_per_day: float | None


@dataclass(frozen=True, kw_only=True)
class DayPriceStats:
    """Per-day price statistics, one entry per day of the run (MXN/MWh)."""

    price_mean: tuple[float, ...]
    price_min: tuple[float, ...]
    price_max: tuple[float, ...]
    tb4_spread: tuple[float, ...]


@dataclass(frozen=True, kw_only=True)
class RunMetrics:
    """What SPEC §9 adds to a run's summary."""

    days: int
    energy_charged_mwh: float
    energy_discharged_mwh: float
    cycles: float
    price_mean: float
    tb1_spread_mean: float
    tb2_spread_mean: float
    tb4_spread_mean: float
    #: energy-weighted discharge price - energy-weighted charge price; None when nothing moved
    captured_spread: float | None
    revenue_per_mw: float
    revenue_per_mw_year: float
    revenue_per_mwh_year: float
    tb_k_hours: int
    tb_benchmark_revenue: float
    #: 100 x total / benchmark; None when the benchmark is not positive
    pct_of_tb: float | None


@dataclass(frozen=True, kw_only=True)
class MonthRow:
    month: str  # YYYY-MM
    days: int
    revenue_mxn: float
    energy_charged_mwh: float
    energy_discharged_mwh: float
    cycles: float
    price_mean: float
    tb4_spread_mean: float


@dataclass(frozen=True, kw_only=True)
class Analysis:
    battery: BatteryEcho
    day_stats: DayPriceStats
    summary: RunMetrics
    monthly: tuple[MonthRow, ...]


# --- prices --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceTable:
    """Days' prices as a (days, width) matrix sorted ascending within each day (padding
    sorted last as +inf), with each day's hour count, sums and extremes."""

    dates: tuple[dt.date, ...]
    hours: np.ndarray
    sorted_prices: np.ndarray
    sums: np.ndarray
    #: k -> each day's k highest minus k lowest prices, computed once (read-only arrays)
    _spans: dict[int, np.ndarray] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def from_arrays(
        cls, dates: Sequence[dt.date], prices: Sequence[np.ndarray | Sequence[float]]
    ) -> PriceTable:
        hours = np.fromiter((len(p) for p in prices), dtype=np.intp, count=len(prices))
        if hours.size == 0 or hours.min() < TB_K_MAX:
            raise ValueError(f"every day needs at least {TB_K_MAX} hourly prices")
        width = int(hours.max())
        if hours.min() == width:  # days of one length: no padding
            matrix = np.array(prices, dtype=float).reshape(hours.size, width)
            flat = matrix.reshape(-1)
        else:
            mask = np.arange(width)[None, :] < hours[:, None]
            matrix = np.full(mask.shape, np.inf)
            flat = np.concatenate([np.asarray(p, dtype=float) for p in prices])
            matrix[mask] = flat
        sums = np.add.reduceat(flat, np.concatenate(([0], np.cumsum(hours)[:-1])))
        return cls(tuple(dates), hours, np.sort(matrix, axis=1), sums)

    @classmethod
    def from_days(cls, days: Sequence[DayResult]) -> PriceTable:
        return cls.from_arrays([d.date for d in days], [d.prices_mxn_per_mwh for d in days])

    def lowest(self, k: int) -> np.ndarray:
        """Sum of each day's ``k`` lowest prices (k no larger than the shortest day)."""
        return np.asarray(self.sorted_prices[:, :k].sum(axis=1))

    def highest(self, k: int) -> np.ndarray:
        """Sum of each day's ``k`` highest prices."""
        index = self.hours[:, None] - 1 - np.arange(k)[None, :]
        return np.asarray(np.take_along_axis(self.sorted_prices, index, axis=1).sum(axis=1))

    def span(self, k: int) -> np.ndarray:
        """Each day's ``k`` highest minus ``k`` lowest prices (computed once per k; the array
        is read-only)."""
        spans = self._spans.get(k)
        if spans is None:
            spans = np.asarray(self.highest(k) - self.lowest(k))
            spans.flags.writeable = False
            self._spans[k] = spans
        return spans

    def tb_spread(self, k: int) -> np.ndarray:
        """Each day's TBk spread: mean of the k highest - mean of the k lowest (MXN/MWh)."""
        return np.asarray(self.span(k) / k)

    @property
    def mins(self) -> np.ndarray:
        return self.sorted_prices[:, 0]

    @property
    def maxs(self) -> np.ndarray:
        return np.asarray(self.sorted_prices[np.arange(self.hours.size), self.hours - 1])


def tb_k(duration_hours: float) -> int:
    """k of the TBk benchmark: the duration rounded half up, clamped to 1..12."""
    return int(min(max(math.floor(duration_hours + 0.5), TB_K_MIN), TB_K_MAX))


def tb_benchmark(table: PriceTable, battery: Battery) -> float:
    """Sum over days of (k highest - k lowest prices) x P x (soc_max - soc_min), in MXN."""
    k = tb_k(battery.duration_h)
    spread_sum = float(np.sum(table.span(k)))
    return _money(spread_sum * battery.power_mw * (battery.max_soc - battery.min_soc))


def per_mw_year(total_mxn: float, power_mw: float, days: int) -> float:
    """Annualised revenue per MW: total / P x 365 / days."""
    return _money(total_mxn / power_mw * DAYS_PER_YEAR / days)


# --- a run ---------------------------------------------------------------------------------


def battery_echo(battery: Battery) -> BatteryEcho:
    return BatteryEcho(
        capacity_mw=battery.power_mw,
        duration_hours=battery.duration_h,
        energy_mwh=_round(battery.energy_mwh),
        round_trip_efficiency=_round(battery.eta_charge * battery.eta_discharge),
        charge_efficiency=_round(battery.eta_charge),
        discharge_efficiency=_round(battery.eta_discharge),
        min_soc=battery.min_soc,
        max_soc=battery.max_soc,
        initial_soc=battery.soc_start,
        degradation_cost_per_mwh=battery.degradation_cost_mxn_per_mwh,
        max_cycles_per_day=battery.max_cycles_per_day,
    )


def run_metrics(
    run: StrategyRun, battery: Battery, *, table: PriceTable | None = None
) -> RunMetrics:
    """The §9 summary figures of ``run`` (``table``: its prices, when already built)."""
    return _summary(run.days, battery, table or PriceTable.from_days(run.days))


def analyse(run: StrategyRun, battery: Battery) -> Analysis:
    """Everything §9 adds to a POST /optimize response for ``run``."""
    days = run.days
    table = PriceTable.from_days(days)
    tb4 = table.tb_spread(4)
    day_stats = DayPriceStats(
        price_mean=_rounded(table.sums / table.hours),
        price_min=_rounded(table.mins),
        price_max=_rounded(table.maxs),
        tb4_spread=_rounded(tb4),
    )
    return Analysis(
        battery=battery_echo(battery),
        day_stats=day_stats,
        summary=_summary(days, battery, table),
        monthly=_monthly(days, table, tb4),
    )


def _summary(days: Sequence[DayResult], battery: Battery, table: PriceTable) -> RunMetrics:
    n = len(days)
    charge = np.concatenate([d.charge_mw for d in days])
    discharge = np.concatenate([d.discharge_mw for d in days])
    prices = np.concatenate([d.prices_mxn_per_mwh for d in days])
    charged = float(charge.sum())
    discharged = float(discharge.sum())
    captured: float | None = None
    if charged > 0 and discharged > 0:
        captured = _round(float(prices @ discharge) / discharged - float(prices @ charge) / charged)
    total = _money(math.fsum(d.revenue_mxn for d in days))
    benchmark = tb_benchmark(table, battery)
    return RunMetrics(
        days=n,
        energy_charged_mwh=_round(charged),
        energy_discharged_mwh=_round(discharged),
        cycles=_round(discharged / battery.eta_discharge / battery.usable_energy_mwh),
        price_mean=_round(float(table.sums.sum()) / int(table.hours.sum())),
        tb1_spread_mean=_round(float(table.tb_spread(1).mean())),
        tb2_spread_mean=_round(float(table.tb_spread(2).mean())),
        tb4_spread_mean=_round(float(table.tb_spread(4).mean())),
        captured_spread=captured,
        revenue_per_mw=_money(total / battery.power_mw),
        revenue_per_mw_year=per_mw_year(total, battery.power_mw, n),
        revenue_per_mwh_year=per_mw_year(total, battery.energy_mwh, n),
        tb_k_hours=tb_k(battery.duration_h),
        tb_benchmark_revenue=benchmark,
        pct_of_tb=_round(100.0 * total / benchmark) if benchmark > 0 else None,
    )


def _monthly(days: Sequence[DayResult], table: PriceTable, tb4: np.ndarray) -> tuple[MonthRow, ...]:
    keys = np.fromiter((d.date.year * 12 + d.date.month - 1 for d in days), dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    counts = np.diff(np.concatenate((starts, [keys.size])))

    def by_month(values: Sequence[float] | np.ndarray) -> np.ndarray:
        return np.add.reduceat(np.asarray(values, dtype=float), starts)

    revenue = by_month([d.revenue_mxn for d in days])
    charged = by_month([d.energy_charged_mwh for d in days])
    discharged = by_month([d.energy_discharged_mwh for d in days])
    cycles = by_month([d.cycles for d in days])
    price_mean = by_month(table.sums) / by_month(table.hours)
    tb4_mean = by_month(tb4) / counts
    return tuple(
        MonthRow(
            month=f"{int(keys[s]) // 12:04d}-{int(keys[s]) % 12 + 1:02d}",
            days=int(counts[i]),
            revenue_mxn=_money(revenue[i]),
            energy_charged_mwh=_round(charged[i]),
            energy_discharged_mwh=_round(discharged[i]),
            cycles=_round(cycles[i]),
            price_mean=_round(price_mean[i]),
            tb4_spread_mean=_round(tb4_mean[i]),
        )
        for i, s in enumerate(starts.tolist())
    )


def _round(x: float) -> float:
    return float(round(float(x), _DECIMALS)) + 0.0


def _money(x: float) -> float:
    return float(round(float(x), _MONEY_DECIMALS)) + 0.0


def _rounded(values: np.ndarray) -> tuple[float, ...]:
    return tuple((np.round(values, _DECIMALS) + 0.0).tolist())
