"""Worst-case benchmark of ``optimal``: the request families that once answered 503 (issue 9).

Run from the repository root::

    taskset -c 0 .venv/bin/python bench/bench_worst_case.py            # every family
    taskset -c 0 .venv/bin/python bench/bench_worst_case.py --quick    # 1 repeat, no MILP peer
    taskset -c 0 .venv/bin/python bench/bench_worst_case.py --no-peer --only continuous

For each family it prints the days, the median CPU time (``time.process_time``) of
``Optimal.dispatch``, the route taken (``optimizer.strategies.optimal.Route``), and, side by
side in the same process on the same days, the CPU time of the peer -- HiGHS with a binary in
every hour that needs one, one MILP per day (``daily``) or one over the chain
(``continuous``) -- and the ratio, plus the largest relative difference of the day revenues
(``daily``) or of the total (``continuous``) against that peer.

Data: the real APATZINGAN MDA year of ``data/cenace`` (2016-01-29 .. 2017-01-28) and synthetic
families built from it (solar dips, negative hours) or from constants. This is a benchmark
that prints figures; it is not a test and asserts no timings.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import gc  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from blueprints.memory import tune_malloc  # noqa: E402
from optimizer import Battery, DeadlineExceededError, Horizon, MarketDay  # noqa: E402
from optimizer.chain import solve_chain  # noqa: E402
from optimizer.envelope import needs_binary, stored_rates  # noqa: E402
from optimizer.settle import day_offsets  # noqa: E402
from optimizer.strategies._days import hour_mask, price_matrix  # noqa: E402
from optimizer.strategies.optimal import (  # noqa: E402
    STRATEGY,
    chain_with_cap,
    daily_moves,
    solve_milp,
)
from testkit.realdata import (  # noqa: E402
    YEAR_FIRST_DAY,
    with_negative_hours,
    with_solar_dips,
    year_days,
)
from testkit.realdata import prd_battery as prd  # noqa: E402

FIRST_DAY = YEAR_FIRST_DAY


def real_year() -> list[MarketDay]:
    return list(year_days())


def days_of(prices: Sequence[np.ndarray], start: dt.date = FIRST_DAY) -> list[MarketDay]:
    return [
        MarketDay(start + dt.timedelta(days=i), tuple(float(x) for x in p))
        for i, p in enumerate(prices)
    ]


def flat(value: float, n: int) -> list[MarketDay]:
    return days_of([np.full(24, value)] * n)


def flat_noisy(value: float, spread: float, n: int, seed: int = 1) -> list[MarketDay]:
    """``n`` days of ``value`` +- ``spread`` (uniform per hour): nearly flat, never identical."""
    rng = np.random.default_rng(seed)
    return days_of([value + rng.uniform(-spread, spread, 24) for _ in range(n)])


def drifting(step: float, offset: float, n: int, seed: int = 1) -> list[MarketDay]:
    """``n`` days of prices that drift by normal steps of ``step`` MXN/MWh an hour from
    ``offset`` (far below zero: the piecewise recursion's breakpoints pile up)."""
    walk = offset + np.cumsum(np.random.default_rng(seed).normal(0.0, step, 24 * n))
    return days_of([walk[24 * i : 24 * i + 24] for i in range(n)])


def solar_dips(year: list[MarketDay], seed: int = 9) -> list[MarketDay]:
    """The real year with a midday dip: 10-15 hours at -20..-300 MXN/MWh every day."""
    prices = with_solar_dips(year, seed)
    return [MarketDay(d.date, tuple(p)) for d, p in zip(year, prices, strict=True)]


def negative_hours(year: list[MarketDay], share: float, seed: int = 30) -> list[MarketDay]:
    """The real year with ``share`` of its hours (at random) set to -20..-1200 MXN/MWh."""
    prices = with_negative_hours(year, share, seed)
    return [MarketDay(d.date, tuple(p)) for d, p in zip(year, prices, strict=True)]


#: a 10 MW / 4 h battery at round trip 0.8 with cap 3 (stop 26's near-ties)
NEAR_TIE_BATTERY = Battery(
    power_mw=10.0, duration_h=4.0, round_trip_efficiency=0.8, max_cycles_per_day=3.0
)
#: the battery of the fuzz's slow 3-day chain (stop 22): round trip 0.5, cap 4
FUZZ_BATTERY = Battery(
    power_mw=42.4634945859374, duration_h=4.0, round_trip_efficiency=0.5,
    min_soc=0.05246975492787107, max_soc=0.8335501807736034, max_cycles_per_day=4.0,
)  # fmt: skip


def cpu_median_ms(call: Callable[[], object], repeats: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.process_time()
        call()
        times.append((time.process_time() - t0) * 1e3)
    return statistics.median(times)


def revenue(prices: np.ndarray, charge: np.ndarray, discharge: np.ndarray, kappa: float) -> float:
    return float(np.sum(prices * (discharge - charge) - kappa * discharge))


#: wall-clock seconds the MILP peer gets over a chain (some capped chains never finish)
PEER_LIMIT_S = 120.0


def peer(days: list[MarketDay], battery: Battery, horizon: Horizon) -> tuple[float, np.ndarray]:
    """HiGHS MILP, per day (daily) or over the chain (continuous): per-day revenues (NaN where
    the chain's MILP did not finish within ``PEER_LIMIT_S``)."""
    kappa = battery.degradation_cost_mxn_per_mwh
    if horizon is Horizon.CONTINUOUS:
        prices = np.concatenate([d.prices_mxn_per_mwh for d in days])
        try:
            c, d = solve_milp(
                prices, day_offsets(days), battery, horizon=horizon,
                deadline_s=time.monotonic() + PEER_LIMIT_S,
            )  # fmt: skip
        except DeadlineExceededError:
            return float("nan"), np.array([])
        return revenue(prices, c, d, kappa), np.array([])
    out = []
    for day in days:
        p = np.asarray(day.prices_mxn_per_mwh, dtype=float)
        c, d = solve_milp(p, np.array([0, p.size]), battery, horizon=horizon)
        out.append(revenue(p, c, d, kappa))
    return float(np.sum(out)), np.array(out)


def ours(days: list[MarketDay], battery: Battery, horizon: Horizon) -> tuple[float, np.ndarray]:
    kappa = battery.degradation_cost_mxn_per_mwh
    dispatch = STRATEGY.dispatch(days, battery, horizon=horizon)
    prices = np.concatenate([d.prices_mxn_per_mwh for d in days])
    per_hour = prices * (dispatch.discharge_mw - dispatch.charge_mw) - kappa * dispatch.discharge_mw
    per_day = np.add.reduceat(per_hour, day_offsets(days)[:-1])
    return float(per_day.sum()), per_day


def route(days: list[MarketDay], battery: Battery, horizon: Horizon) -> str:
    if horizon is Horizon.CONTINUOUS:
        prices = np.concatenate([d.prices_mxn_per_mwh for d in days])
        binaries = int(needs_binary(prices, battery).sum())
        if not binaries:
            return "HiGHS LP over the chain"
        sol = solve_chain(*stored_rates(prices, battery), battery)
        text = f"chain: {sol.route}"
        if battery.max_cycles_per_day is None:
            return text
        return text + ", cap: " + chain_with_cap(prices, day_offsets(days), days, battery).route
    matrix, hours = price_matrix(days)
    return str(daily_moves(matrix, hour_mask(hours, matrix.shape[1]), battery)[2])


def main(argv: Sequence[str] | None = None) -> int:
    tune_malloc()  # the service's allocator settings (app.py): the path users take
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 repeat, no MILP peer")
    parser.add_argument("--no-peer", action="store_true", help="no MILP peer (keeps --repeats)")
    parser.add_argument("--only", default="", help="run only families whose name contains this")
    parser.add_argument(
        "--peer-days",
        type=int,
        default=0,
        help="compare with the MILP peer on the first N days only (both timed on them)",
    )
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    year = real_year()
    daily, continuous = Horizon.DAILY, Horizon.CONTINUOUS
    families: list[tuple[str, list[MarketDay], Battery, Horizon]] = [
        ("real APATZINGAN year, PRD", year, prd(), daily),
        ("real year, PRD, cap 1", year, prd(max_cycles_per_day=1.0), daily),
        ("366 days of -1200", flat(-1200.0, 366), prd(), daily),
        ("31 days of -0.01", flat(-0.01, 31), prd(), daily),
        ("366 days of -1200, start full", flat(-1200.0, 366), prd(initial_soc=1.0), daily),
        ("solar dips, cap 1", solar_dips(year), prd(max_cycles_per_day=1.0), daily),
        ("solar dips, cap 1, 168 h", solar_dips(year), prd(duration_h=168.0, initial_soc=0.5,
                                                           max_cycles_per_day=1.0), daily),
        ("solar dips, 168 h, start full", solar_dips(year), prd(duration_h=168.0, initial_soc=1.0),
         daily),
        ("30 % negative hours", negative_hours(year, 0.3), prd(), daily),
        ("30 % negative hours, eta 0.01 one-way", negative_hours(year, 0.3),
         prd(charge_efficiency=0.1, discharge_efficiency=0.1, max_cycles_per_day=0.1), daily),
        ("real year, continuous", year, prd(), continuous),
        ("30 % negative hours, continuous", negative_hours(year, 0.3), prd(), continuous),
        ("366 days of -1200, continuous", flat(-1200.0, 366), prd(), continuous),
        ("solar dips, 168 h, continuous", solar_dips(year), prd(duration_h=168.0, initial_soc=0.5),
         continuous),
        ("366 days of -1200 +- 1, continuous", flat_noisy(-1200.0, 1.0, 366), prd(), continuous),
        ("366 days of -1200 +- 50, continuous", flat_noisy(-1200.0, 50.0, 366), prd(),
         continuous),
        # round trips whose chain lattice is large (0.87: 672 levels) or too large (0.8736)
        ("-1200 +- 1, round trip 0.87, continuous", flat_noisy(-1200.0, 1.0, 366),
         prd(round_trip_efficiency=0.87), continuous),
        ("-1200 +- 1, round trip 0.8736, continuous", flat_noisy(-1200.0, 1.0, 366),
         prd(round_trip_efficiency=0.8736), continuous),
        ("30 % negative, round trip 0.8736, continuous", negative_hours(year, 0.3),
         prd(round_trip_efficiency=0.8736), continuous),
        # one-way 0.95 / 0.95 (round trip 0.9025 = 361/400: 1,369 levels, every hour's values
        # do not fit: kept every 3 hours), a common pair
        ("-1200 +- 1, one-way 0.95 / 0.95, continuous", flat_noisy(-1200.0, 1.0, 366),
         prd(charge_efficiency=0.95, discharge_efficiency=0.95), continuous),
        ("30 % negative, one-way 0.95 / 0.95, continuous", negative_hours(year, 0.3),
         prd(charge_efficiency=0.95, discharge_efficiency=0.95), continuous),
        # stop 18: lattices above MAX_KEPT_LEVELS that the piecewise recursion gives way to
        # where its breakpoints would cost more (0.92 / 0.92: 2,071 levels; a 168-h battery:
        # 5,576), and one it keeps (30 % negative hours, 0.92 / 0.92)
        ("-1200 +- 1, one-way 0.92 / 0.92, continuous", flat_noisy(-1200.0, 1.0, 366),
         prd(charge_efficiency=0.92, discharge_efficiency=0.92), continuous),
        ("30 % negative, one-way 0.92 / 0.92, continuous", negative_hours(year, 0.3),
         prd(charge_efficiency=0.92, discharge_efficiency=0.92), continuous),
        ("prices drifting from -5000, 168 h, continuous", drifting(5.0, -5000.0, 366),
         prd(duration_h=168.0), continuous),
        # stop 19: the same battery at round trip 0.87, whose lattice (28,206 levels) was too
        # large to give way to (34 s by the piecewise recursion, past the deadline)
        ("prices drifting from -5000, 168 h, round trip 0.87, continuous",
         drifting(5.0, -5000.0, 366), prd(duration_h=168.0, round_trip_efficiency=0.87),
         continuous),
        # and at round trip 0.8736, whose lattice (176,652 levels) is past MAX_SWITCH_LEVELS:
        # the piecewise recursion to the end, ~6,800 breakpoints: 6.9-7.0 s, inside the 20 s
        # request deadline on one vCPU
        ("prices drifting from -5000, 168 h, round trip 0.8736, continuous",
         drifting(5.0, -5000.0, 366), prd(duration_h=168.0, round_trip_efficiency=0.8736),
         continuous),
        ("real year, cap 1, continuous", year, prd(max_cycles_per_day=1.0), continuous),
        ("solar dips, cap 1, continuous", solar_dips(year), prd(max_cycles_per_day=1.0),
         continuous),
        ("30 % negative hours, cap 1, continuous", negative_hours(year, 0.3),
         prd(max_cycles_per_day=1.0), continuous),
        ("30 % negative hours, cap 3, continuous", negative_hours(year, 0.3),
         prd(max_cycles_per_day=3.0), continuous),
        ("solar dips, cap 3, continuous", solar_dips(year), prd(max_cycles_per_day=3.0),
         continuous),
        # caps that bind on many days, neighbours among them: HiGHS's branch and bound
        ("30 % negative hours, cap 2, continuous", negative_hours(year, 0.3),
         prd(max_cycles_per_day=2.0), continuous),
        ("50 % negative hours, cap 3, continuous", negative_hours(year, 0.5),
         prd(max_cycles_per_day=3.0), continuous),
        ("solar dips, cap 2, continuous", solar_dips(year), prd(max_cycles_per_day=2.0),
         continuous),
        # stop 27: mostly negative hours with cap 3 (the cap's withdrawal and refill take 21.7
        # of 24 hours), a 503 since the hunt of stop 17 (70 s of CPU at stop 26, most of it
        # in HiGHS's RENS sub-MIPs), and chains past the sign search's 14 days
        ("90 % negative hours, cap 3, continuous", negative_hours(year, 0.9),
         prd(max_cycles_per_day=3.0), continuous),
        ("-1200 +- 1, cap 3, 31 days, continuous", flat_noisy(-1200.0, 1.0, 31),
         prd(max_cycles_per_day=3.0), continuous),
        ("-1200 +- 50, round trip 0.5, cap 3, 15 days, continuous",
         flat_noisy(-1200.0, 50.0, 15), prd(round_trip_efficiency=0.5, max_cycles_per_day=3.0),
         continuous),
        # found by the hunt of stop 17: branch and bound that grows without a practical bound
        # (5 such days did not finish in 300 s) and per-day MILPs on most days of a daily year
        ("-1200 +- 1, 168 h, cap 0.1, 3 days, continuous", flat_noisy(-1200.0, 1.0, 3),
         prd(duration_h=168.0, max_cycles_per_day=0.1), continuous),
        # stop 23: short nearly flat chains whose LP bound stays far above the optimum (a
        # fuzz's 3 days of -1200 +- 0.4 kept HiGHS's gap at 0.55 % for 15 minutes);
        # optimizer.chain_branch closes them by branch and bound on the signs
        ("-1200 +- 50, round trip 0.5, cap 3, 3 days, continuous", flat_noisy(-1200.0, 50.0, 3),
         prd(round_trip_efficiency=0.5, max_cycles_per_day=3.0), continuous),
        ("-1200 +- 0.4, round trip 0.5, cap 4, 3 days, continuous", flat_noisy(-1200.0, 0.4, 3),
         FUZZ_BATTERY, continuous),
        ("-1200 +- 0.4, round trip 0.5, cap 4, 7 days, continuous", flat_noisy(-1200.0, 0.4, 7),
         FUZZ_BATTERY, continuous),
        ("-1200 +- 0.4, round trip 0.5, cap 4, 14 days, continuous",
         flat_noisy(-1200.0, 0.4, 14), FUZZ_BATTERY, continuous),
        # stop 25: the slowest of 16 seeds of those 14 days (HiGHS reached a 40 s deadline)
        ("-1200 +- 0.4, round trip 0.5, cap 4, 14 days, seed 6, continuous",
         flat_noisy(-1200.0, 0.4, 14, seed=6), FUZZ_BATTERY, continuous),
        # stop 27: past MAX_DAYS, tried because the lattice is small (chain_branch.tried_on);
        # HiGHS alone took 125 s (one-off)
        ("-1200 +- 0.4, round trip 0.5, cap 4, 21 days, continuous",
         flat_noisy(-1200.0, 0.4, 21), FUZZ_BATTERY, continuous),
        # stop 26: near-ties whose days cannot hold the cap's withdrawal and refill (10.7 +
        # 13.4 hours at round trip 0.8), closed by splits on a day's count of charging hours
        ("-1200 +- 0.01, round trip 0.8, cap 3, 2 days, continuous",
         flat_noisy(-1200.0, 0.01, 2), NEAR_TIE_BATTERY, continuous),
        ("-1200 +- 5, round trip 0.6, cap 3, 7 days, continuous",
         flat_noisy(-1200.0, 5.0, 7),
         Battery(power_mw=10.0, duration_h=4.0, round_trip_efficiency=0.6, max_cycles_per_day=3.0),
         continuous),
        ("-1200 +- 50, round trip 0.5, cap 3, 31 days", flat_noisy(-1200.0, 50.0, 31),
         prd(round_trip_efficiency=0.5, max_cycles_per_day=3.0), daily),
        # stop 20: the year of those days, whose duality gaps optimizer.capped_day closes (27 s
        # of per-day MILPs before; 6.6 s by stop 20's label search)
        ("-1200 +- 50, round trip 0.5, cap 3, a year", flat_noisy(-1200.0, 50.0, 366),
         prd(round_trip_efficiency=0.5, max_cycles_per_day=3.0), daily),
        # nearly flat: thousands of schedules within a hair of the optimum (stop 20's label
        # search gave up on every gap day and left it to a per-day MILP: 5.4 s)
        ("-1200 +- 1, cap 3, a year", flat_noisy(-1200.0, 1.0, 366), prd(max_cycles_per_day=3.0),
         daily),
        # stop 18: realistic daily years whose capped days leave a duality gap (the
        # Lagrangian certificate cannot hold there): per-day MILPs on 18 and 23 days
        ("solar dips, cap 2", solar_dips(year), prd(max_cycles_per_day=2.0), daily),
        ("90 % negative hours, cap 3", negative_hours(year, 0.9), prd(max_cycles_per_day=3.0),
         daily),
        ("31 days of -1200, cap 1, continuous", flat(-1200.0, 31), prd(max_cycles_per_day=1.0),
         continuous),
        ("366 days of -1200 +- 50, cap 1, continuous", flat_noisy(-1200.0, 50.0, 366),
         prd(max_cycles_per_day=1.0), continuous),
        ("366 days of -1200, cap 1, continuous", flat(-1200.0, 366), prd(max_cycles_per_day=1.0),
         continuous),
    ]  # fmt: skip
    if args.peer_days and not args.quick:
        print(f"MILP peer and ratio on the first {args.peer_days} days of each family")
    print(f"{'family':<42} {'days':>4} {'CPU ms':>9} {'MILP ms':>9} {'ratio':>7} "
          f"{'max rel diff':>12}  route")  # fmt: skip
    for name, days, battery, horizon in families:
        if args.only and args.only not in name:
            continue
        ms = cpu_median_ms(lambda d=days, b=battery, h=horizon: STRATEGY.dispatch(d, b, horizon=h),
                           repeats)  # fmt: skip
        peer_ms = ratio = diff = float("nan")
        if not (args.quick or args.no_peer):
            some = days[: args.peer_days] if args.peer_days else days
            t0 = time.process_time()
            total_peer, days_peer = peer(some, battery, horizon)
            peer_ms = (time.process_time() - t0) * 1e3
            total_ours, days_ours = ours(some, battery, horizon)
            ours_ms = (
                ms
                if some is days
                else cpu_median_ms(
                    lambda d=some, b=battery, h=horizon: STRATEGY.dispatch(d, b, horizon=h), repeats
                )
            )
            ratio = peer_ms / ours_ms
            if horizon is Horizon.CONTINUOUS:
                diff = abs(total_ours - total_peer) / max(1.0, abs(total_peer))
            else:
                diff = float(
                    np.max(np.abs(days_ours - days_peer) / np.maximum(1.0, np.abs(days_peer)))
                )
        print(f"{name:<42} {len(days):>4} {ms:>9.1f} {peer_ms:>9.0f} {ratio:>6.1f}x "
              f"{diff:>12.1e}  {route(days, battery, horizon)}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
