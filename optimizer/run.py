"""Running strategies over market days and comparing them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from optimizer.battery import Battery
from optimizer.errors import InvalidPricesError
from optimizer.market import MarketDay, MarketDays, market_days
from optimizer.results import ComparisonRow, Horizon, Report, StrategyRun
from optimizer.settle import Dispatch, settle, settle_totals_many, summarise, total_mxn
from optimizer.strategies import STRATEGIES, get_strategy
from optimizer.strategies.forecast import ProfileStrategy, schedule_plans

OPTIMAL = "optimal"


def run_strategy(
    name: str,
    days: Sequence[MarketDay],
    battery: Battery,
    *,
    horizon: Horizon = Horizon.DAILY,
    deadline_s: float | None = None,
    history: Sequence[MarketDay] = (),
    caller_forecast: Sequence[MarketDay] | None = None,
) -> StrategyRun:
    """Schedule and settle ``days`` with one strategy.

    ``deadline_s``: the request's absolute deadline (``time.monotonic()``), or None; past it
    the strategy raises ``DeadlineExceededError``.
    ``history``: market days before ``days[0]`` in date order, which strategies without
    foresight forecast from; never scheduled, settled or reported.
    ``caller_forecast``: the caller's price forecast of ``days`` (``Strategy.with_forecast``;
    only ``forecast`` schedules on it)."""
    strategy = get_strategy(name)
    if caller_forecast is not None:
        strategy = strategy.with_forecast(caller_forecast)
    _check_days(days)
    _check_history(history, days)
    days = market_days(days)  # prices laid out once, shared by the strategy and settlement
    started = time.perf_counter()
    dispatch = strategy.dispatch(
        days, battery, horizon=Horizon(horizon), deadline_s=deadline_s, history=history
    )
    return _settled(name, days, dispatch, battery, Horizon(horizon), started, 0.0)


def _settled(
    name: str,
    days: MarketDays,
    dispatch: Dispatch,
    battery: Battery,
    horizon: Horizon,
    started: float,
    extra_s: float,
) -> StrategyRun:
    """Settle ``dispatch`` into a run; its runtime is from ``started`` (``perf_counter``)
    to the end of settlement, plus ``extra_s`` seconds spent on it elsewhere."""
    results = settle(days, dispatch, battery, horizon=horizon)
    runtime_ms = (time.perf_counter() - started + extra_s) * 1e3
    discharged = sum(r.energy_discharged_mwh for r in results)
    cycles = sum(r.cycles for r in results)
    return StrategyRun(
        strategy=name,
        horizon=horizon,
        days=results,
        summary=summarise(results),
        energy_discharged_mwh=round(discharged, 9),
        cycles=round(cycles, 9),
        runtime_ms=runtime_ms,
    )


def optimize(
    days: Sequence[MarketDay],
    battery: Battery,
    *,
    strategy: str = OPTIMAL,
    horizon: Horizon = Horizon.DAILY,
    compare: bool = True,
    deadline_s: float | None = None,
    history: Sequence[MarketDay] = (),
    caller_forecast: Sequence[MarketDay] | None = None,
) -> Report:
    """Run ``strategy`` on ``days``; with ``compare``, run every registered strategy too and
    report each one's total against ``optimal``. ``history``, ``caller_forecast``: see
    ``run_strategy``."""
    get_strategy(strategy)  # unknown names fail before any work
    days = market_days(days)  # one layout of the prices for every strategy
    if not compare:
        return Report(
            run=run_strategy(
                strategy,
                days,
                battery,
                horizon=horizon,
                deadline_s=deadline_s,
                history=history,
                caller_forecast=caller_forecast,
            ),
            comparison=None,
        )
    reported, totals = _run_all(
        days,
        battery,
        strategy,
        horizon=Horizon(horizon),
        deadline_s=deadline_s,
        history=history,
        caller_forecast=caller_forecast,
    )
    best = totals[OPTIMAL].total_revenue_mxn
    rows = tuple(
        ComparisonRow(
            strategy=name,
            total_revenue_mxn=row.total_revenue_mxn,
            pct_of_optimal=(round(100.0 * row.total_revenue_mxn / best, 6) if best > 0 else None),
            energy_discharged_mwh=row.energy_discharged_mwh,
            cycles=row.cycles,
            runtime_ms=round(row.runtime_ms, 3),
        )
        for name, row in totals.items()
    )
    return Report(run=reported, comparison=rows)


@dataclass(frozen=True)
class _Totals:
    """A compared run's totals, as its ``StrategyRun`` would hold them."""

    total_revenue_mxn: float
    energy_discharged_mwh: float
    cycles: float
    runtime_ms: float


def _run_all(
    days: MarketDays,
    battery: Battery,
    reported: str,
    *,
    horizon: Horizon,
    deadline_s: float | None,
    history: Sequence[MarketDay],
    caller_forecast: Sequence[MarketDay] | None,
) -> tuple[StrategyRun, dict[str, _Totals]]:
    """Every registered strategy on ``days``: the ``reported`` one's run, exactly as
    ``run_strategy`` makes it, and every strategy's totals (in registry order). The other
    strategies are settled and checked alike, but only their totals are kept
    (``settle_totals_many``: no per-hour results that nobody reads, all of them in one pass
    whose time each is charged an equal share of).

    The strategies that end in ``optimal``'s daily schedule -- ``optimal`` itself under the
    ``daily`` horizon and those that schedule on a forecast (``ProfileStrategy``) -- share one
    call of it (``schedule_plans``: every day is still solved on its own). That call's time is
    shared among them in proportion to the days each gave it."""
    _check_days(days)
    _check_history(history, days)
    strategies = {name: get_strategy(name) for name in STRATEGIES}
    if caller_forecast is not None:
        strategies = {name: s.with_forecast(caller_forecast) for name, s in strategies.items()}
    plans: dict[str, tuple[np.ndarray | None, float]] = {}
    for name, strategy in strategies.items():
        if isinstance(strategy, ProfileStrategy):
            started = time.perf_counter()
            profiles = strategy.profiles(days, history, deadline_s=deadline_s)
            plans[name] = (profiles, time.perf_counter() - started)
        elif name == OPTIMAL and horizon is Horizon.DAILY:
            plans[name] = (None, 0.0)
    started = time.perf_counter()
    dispatches = dict(
        zip(
            plans,
            schedule_plans(
                [(days, profiles) for profiles, _ in plans.values()],
                battery,
                deadline_s=deadline_s,
            ),
            strict=True,
        )
    )
    shared_s = time.perf_counter() - started
    scheduled = {
        name: len(days) if profiles is None else int((~np.isnan(profiles).any(axis=1)).sum())
        for name, (profiles, _) in plans.items()
    }
    total = max(sum(scheduled.values()), 1)
    run: StrategyRun | None = None
    totals: dict[str, _Totals] = {}
    others: list[tuple[str, Dispatch, float]] = []  # settled together below
    for name, strategy in strategies.items():
        started = time.perf_counter()
        if name in plans:
            dispatch = dispatches[name]
            earlier_s = plans[name][1] + shared_s * scheduled[name] / total
        else:
            dispatch = strategy.dispatch(
                days, battery, horizon=horizon, deadline_s=deadline_s, history=history
            )
            earlier_s = 0.0
        if name == reported:
            run = _settled(name, days, dispatch, battery, horizon, started, earlier_s)
            totals[name] = _Totals(
                total_revenue_mxn=run.summary.total_revenue_mxn,
                energy_discharged_mwh=run.energy_discharged_mwh,
                cycles=run.cycles,
                runtime_ms=run.runtime_ms,
            )
            continue
        others.append((name, dispatch, time.perf_counter() - started + earlier_s))
    # the other strategies' checks and totals in one pass over their stacked dispatches (the
    # same numbers and the same first error as one by one); its time is shared equally
    started = time.perf_counter()
    settled = settle_totals_many(days, [d for _, d, _ in others], battery, horizon=horizon)
    settle_share_s = (time.perf_counter() - started) / max(len(others), 1)
    for (name, _, spent_s), day_totals in zip(others, settled, strict=True):
        totals[name] = _Totals(
            total_revenue_mxn=total_mxn(day_totals.revenue_mxn),
            energy_discharged_mwh=round(sum(day_totals.energy_discharged_mwh), 9),
            cycles=round(sum(day_totals.cycles), 9),
            runtime_ms=(spent_s + settle_share_s) * 1e3,
        )
    totals = {name: totals[name] for name in strategies}  # registry order
    if run is None:  # get_strategy(reported) passed, so the registry has it
        raise KeyError(reported)
    return run, totals


def _check_days(days: Sequence[MarketDay]) -> None:
    if not days:
        raise InvalidPricesError("no market days to schedule")
    for earlier, later in pairwise(days):
        if later.date <= earlier.date:
            raise InvalidPricesError(
                f"market days must be in strictly increasing date order ({later.date})"
            )


def _check_history(history: Sequence[MarketDay], days: Sequence[MarketDay]) -> None:
    """History days: strictly increasing dates, all before the first scheduled day."""
    if history:
        _check_days([*history, days[0]])
