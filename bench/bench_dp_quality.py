"""How close ``dp`` comes to ``optimal`` on ``continuous`` chains with a cycle limit (issue 9).

Run from the repository root::

    taskset -c 0 .venv/bin/python bench/bench_dp_quality.py            # 300 cases
    taskset -c 0 .venv/bin/python bench/bench_dp_quality.py --cases 1000 --seed 3

Random cases in the spirit of the property tests (``tests/optimizer/helpers.py``): 2-4 market
days of 23, 24 or 25 hours whose prices mix uniform values in -500..5000 MXN/MWh with zeros,
-50, ties at 100 and 9,000 spikes; batteries of 0.5-100 MW and 0.5-8 h, round trips 0.5-1 or
one-way pairs 0.6-1, SoC windows down to 1 % of the energy, any start inside them, degradation
0 / 25 / 300 MXN/MWh and a cap of 0.5, 1 or 2 cycles a day. For each it prints nothing; at the
end the distribution of ``dp``'s revenue as a share of ``optimal``'s (cases whose optimum is
above 1 MXN), the count below 99 % and 97 %, the worst cases, and the median CPU time of
``dp`` per case. This is a benchmark that prints figures; it is not a test and asserts nothing.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from blueprints.memory import tune_malloc  # noqa: E402
from optimizer import Battery, Horizon, MarketDay, run_strategy  # noqa: E402

SPECIAL_PRICES = np.array([0.0, 0.0, -50.0, 100.0, 100.0, 9000.0])


def random_battery(rng: np.random.Generator) -> Battery:
    lo = float(rng.uniform(0.0, 0.9))
    hi = float(rng.uniform(lo + 0.01, 1.0))
    one_way = bool(rng.integers(2))
    return Battery(
        power_mw=float(rng.uniform(0.5, 100.0)),
        duration_h=float(rng.uniform(0.5, 8.0)),
        round_trip_efficiency=float(rng.uniform(0.5, 1.0)),
        charge_efficiency=float(rng.uniform(0.6, 1.0)) if one_way else None,
        discharge_efficiency=float(rng.uniform(0.6, 1.0)) if one_way else None,
        min_soc=lo,
        max_soc=hi,
        initial_soc=None if rng.integers(2) else float(rng.uniform(lo, hi)),
        degradation_cost_mxn_per_mwh=float(rng.choice([0.0, 0.0, 25.0, 300.0])),
        max_cycles_per_day=float(rng.choice([0.5, 1.0, 2.0])),
    )


def random_days(rng: np.random.Generator) -> list[MarketDay]:
    first = dt.date(2024, 1, 1)
    days = []
    for i in range(int(rng.integers(2, 5))):
        hours = int(rng.integers(23, 26))
        prices = np.where(
            rng.integers(2, size=hours) == 1,
            rng.uniform(-500.0, 5000.0, hours),
            rng.choice(SPECIAL_PRICES, hours),
        )
        days.append(MarketDay(first + dt.timedelta(days=i), tuple(float(p) for p in prices)))
    return days


def total(days: Sequence[MarketDay], battery: Battery, strategy: str) -> tuple[float, float]:
    """Revenue (MXN) over the chain and the CPU seconds it took."""
    start = time.process_time()
    run = run_strategy(strategy, days, battery, horizon=Horizon.CONTINUOUS)
    return sum(day.revenue_mxn for day in run.days), time.process_time() - start


def main(argv: Sequence[str] | None = None) -> int:
    tune_malloc()  # the service's allocator settings (app.py): the path users take
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--worst", type=int, default=5, help="worst cases to print")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    shares: list[tuple[float, int, Battery]] = []
    seconds = []
    for case in range(args.cases):
        battery, days = random_battery(rng), random_days(rng)
        found, cpu = total(days, battery, "dp")
        best, _ = total(days, battery, "optimal")
        seconds.append(cpu)
        if best > 1.0:
            shares.append((found / best, case, battery))
    values = np.array([share for share, _, _ in shares])
    print(f"{args.cases} cases (seed {args.seed}), {values.size} with an optimum above 1 MXN")
    print(
        "dp / optimal: min {:.4f}, 1 % {:.4f}, 5 % {:.4f}, median {:.4f}".format(
            values.min(), *np.quantile(values, [0.01, 0.05, 0.5])
        )
    )
    print(f"below 99 %: {int((values < 0.99).sum())}, below 97 %: {int((values < 0.97).sum())}")
    print(f"dp CPU per case: median {statistics.median(seconds) * 1e3:.1f} ms")
    for share, case, battery in sorted(shares, key=lambda row: row[0])[: args.worst]:
        print(f"  case {case}: {share:.4f}  {battery}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
