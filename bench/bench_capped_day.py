"""Benchmark of ``optimizer.capped_day.close_gaps``: the capped days with a duality gap, by
branch and bound and by HiGHS.

Run from the repository root::

    taskset -c 0 .venv/bin/python bench/bench_capped_day.py
    taskset -c 0 .venv/bin/python bench/bench_capped_day.py --days 10   # the first 10 per family

For each family (``daily`` years of ``bench_worst_case``'s whose cycle cap leaves days the
Lagrangian route cannot certify) it finds those days, then prints, per family, the days, the CPU
time (``time.process_time``, the median of ``--repeats`` runs) of ``close_gaps`` on all of them
at once (as the route calls it) in all and a day, the median CPU time a day of the one-day
HiGHS MILP it replaces (``solve_milp``) and its total, the days past the node cap (the route
hands them to HiGHS, so they cost both), the largest and the median nodes a day, and the largest
relative difference of the two revenues where it finished. This is a benchmark that prints
figures; it asserts no timings.
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

from blueprints.memory import tune_malloc  # noqa: E402
from optimizer import Horizon  # noqa: E402
from optimizer.capped_day import close_gaps  # noqa: E402
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
    tune_malloc()  # the service's allocator settings (app.py): the path users take
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
    print(f"{'family':<36} {'days':>4} {'B&B s':>7} {'a day ms':>8} {'MILP ms':>8} "
          f"{'MILP s':>7} {'ratio':>6} {'HiGHS':>6} {'nodes max':>9} {'median':>6} "
          f"{'max rel diff':>12}")  # fmt: skip
    for name, days, battery in families:
        matrix, hours = price_matrix(days)
        movable = hour_mask(hours, matrix.shape[1])
        # the days the Lagrangian route leaves open (``_capped``: the mix and the gaps' flags),
        # as ``optimal._daily`` hands them to the branch and bound
        buy, sell = stored_rates(matrix, battery)
        cap = battery.daily_withdrawal_cap_mwh
        assert cap is not None
        hard = (needs_binary(matrix, battery) & movable).any(axis=1)
        mix, gaps, _, _, _ = optimal._capped(buy, sell, movable, hard, battery, cap, None)
        rows = np.flatnonzero(gaps)[: args.days or None]
        call = partial(close_gaps, buy[rows], sell[rows], movable[rows], battery, mix[rows])
        closed = call()
        total_s = cpu_ms(call, args.repeats) / 1e3
        milp, diff = [], 0.0
        for k, day in enumerate(rows.tolist()):
            n = int(hours[day])
            prices, offsets = matrix[day, :n], np.array([0, n])
            solve = partial(optimal.solve_milp, prices, offsets, battery, horizon=Horizon.DAILY)
            charge, discharge = solve()
            milp.append(cpu_ms(solve, args.repeats))
            if closed.solved[k]:
                best = optimal._grid_revenue(prices, charge, discharge, battery)
                found = float(stored_revenue(closed.moves[k : k + 1], buy[day : day + 1],
                                             sell[day : day + 1])[0])  # fmt: skip
                diff = max(diff, abs(found - best) / max(1.0, abs(best)))
        m_ms, total_m = statistics.median(milp), sum(milp) / 1e3
        a_day = total_s * 1e3 / max(1, rows.size)
        print(f"{name:<36} {rows.size:>4} {total_s:>7.3f} {a_day:>8.1f} {m_ms:>8.1f} "
              f"{total_m:>7.2f} {total_m / total_s:>5.1f}x {int((~closed.solved).sum()):>6d} "
              f"{int(closed.nodes.max(initial=0)):>9d} {int(np.median(closed.nodes)):>6d} "
              f"{diff:>12.1e}",
              flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
