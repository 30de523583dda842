"""Benchmark of ``optimizer.capped_day``: the capped days with a duality gap, by label search
and by HiGHS.

Run from the repository root::

    taskset -c 0 .venv/bin/python bench/bench_capped_day.py
    taskset -c 0 .venv/bin/python bench/bench_capped_day.py --days 10   # the first 10 per family

For each family (``daily`` years of ``bench_worst_case``'s whose cycle cap leaves days the
Lagrangian route cannot certify) it finds those days, then prints, per family, the days, the
median CPU time a day (``time.process_time``, medians over the days of ``--repeats`` runs each)
of ``solve_capped_day`` and of the one-day HiGHS MILP it replaces (``solve_milp``), their
totals over the days, the days the search gives up on (past ``MAX_LABELS``: the route hands
them to HiGHS, so they cost both), the largest and the median labels kept where it finished,
and the largest relative difference of the two revenues there. This is
a benchmark that prints figures; it asserts no timings.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench_worst_case import flat_noisy, negative_hours, real_year, solar_dips  # noqa: E402

from optimizer import Horizon  # noqa: E402
from optimizer.capped_day import solve_capped_day  # noqa: E402
from optimizer.envelope import needs_binary, stored_rates, stored_revenue  # noqa: E402
from optimizer.strategies import optimal  # noqa: E402
from optimizer.strategies._days import hour_mask, price_matrix  # noqa: E402
from testkit.realdata import prd_battery as prd  # noqa: E402


def cpu_ms(call: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        call()
        times.append((time.process_time() - t0) * 1e3)
    return statistics.median(times)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--days", type=int, default=0, help="at most this many days a family")
    args = parser.parse_args(argv)
    year = real_year()
    families = [
        ("solar dips, cap 2", solar_dips(year), prd(max_cycles_per_day=2.0)),
        ("90 % negative hours, cap 3", negative_hours(year, 0.9), prd(max_cycles_per_day=3.0)),
        ("-1200 +- 50, round trip 0.5, cap 3", flat_noisy(-1200.0, 50.0, 366),
         prd(round_trip_efficiency=0.5, max_cycles_per_day=3.0)),
        # nearly flat: thousands of schedules within a hair of the optimum (a review's case)
        ("-1200 +- 1, cap 3", flat_noisy(-1200.0, 1.0, 366), prd(max_cycles_per_day=3.0)),
    ]  # fmt: skip
    print(f"{'family':<36} {'days':>4} {'search ms':>9} {'MILP ms':>8} {'ratio':>6} "
          f"{'search s':>7} {'MILP s':>7} {'HiGHS':>6} "
          f"{'labels max':>10} {'median':>8} {'max rel diff':>12}")  # fmt: skip
    for name, days, battery in families:
        matrix, hours = price_matrix(days)
        movable = hour_mask(hours, matrix.shape[1])
        # the days the Lagrangian route leaves open (``_capped``: the mix, the gaps' flags and
        # the multipliers), as ``optimal._daily`` hands them to the search
        buy_all, sell_all = stored_rates(matrix, battery)
        cap = battery.daily_withdrawal_cap_mwh
        assert cap is not None
        hard = (needs_binary(matrix, battery) & movable).any(axis=1)
        mix, gaps, _, _, multipliers = optimal._capped(
            buy_all, sell_all, movable, hard, battery, cap, None
        )
        rows = np.flatnonzero(gaps)[: args.days or None].tolist()
        search, milp, labels, diff, given_up = [], [], [], 0.0, 0
        for day in rows:
            n = int(hours[day])
            prices = matrix[day, :n]
            buy, sell = buy_all[day, :n], sell_all[day, :n]
            incumbent = float(stored_revenue(mix[day, :n], buy, sell))
            lam = float(np.nan_to_num(multipliers[day], nan=0.0))
            found = solve_capped_day(buy, sell, battery, lam, incumbent)
            search.append(
                cpu_ms(partial(solve_capped_day, buy, sell, battery, lam, incumbent), args.repeats)
            )
            offsets = np.array([0, n])
            charge, discharge = optimal.solve_milp(prices, offsets, battery, horizon=Horizon.DAILY)
            milp.append(
                cpu_ms(
                    partial(optimal.solve_milp, prices, offsets, battery, horizon=Horizon.DAILY),
                    args.repeats,
                )
            )
            if found is None:  # past the label cap: the route hands the day to HiGHS
                given_up += 1
                continue
            best = optimal._grid_revenue(prices, charge, discharge, battery)
            diff = max(diff, abs(found.revenue_mxn - best) / max(1.0, abs(best)))
            labels.append(found.labels)
        s_ms, m_ms = statistics.median(search), statistics.median(milp)
        total_s, total_m = sum(search) / 1e3, sum(milp) / 1e3
        print(f"{name:<36} {len(rows):>4} {s_ms:>9.1f} {m_ms:>8.1f} {m_ms / s_ms:>5.1f}x "
              f"{total_s:>7.2f} {total_m:>7.2f} {given_up:>6d} "
              f"{max(labels, default=0):>10d} {int(statistics.median(labels or [0])):>8d} "
              f"{diff:>12.1e}",
              flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
