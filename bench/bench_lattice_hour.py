"""One hour of the chain lattice's Bellman recursion (``optimizer.lattice.bellman_hour``), and
whole years on the large chain lattices.

Run from the repository root::

    taskset -c 0 .venv/bin/python bench/bench_lattice_hour.py
    taskset -c 0 .venv/bin/python bench/bench_lattice_hour.py --hours-only

Prints, in CPU time on one core (``time.process_time``, medians):

1. for the chain lattices of four batteries (the PRD battery at round trip 0.8736, a 168-h
   battery, the same from SoC 0.5, one-way efficiencies 0.92 / 0.92): the levels, the
   window widths (levels one charge / one discharge reaches), how the window maxima are read
   (``slices``: a chain lattice's sliding windows; ``gathers``: any other windows), and the
   microseconds of one hour (2,000 hours on random values, median of 5 runs);
2. a year of -1200 +- 1 MXN/MWh (8,784 hours) on each lattice: the backward pass
   (``chain_values``, keeping every k-th hour's row as ``optimizer.chain.solve`` does) and
   the forward pass (``chain_moves`` over ``ChainValues``, which recomputes the other rows);
3. ``optimal``'s dispatch on the families of ``bench/bench_worst_case.py`` whose chains are
   solved on these lattices, with the route taken.

A benchmark that prints figures; it is not a test and asserts no timings.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench_worst_case import cpu_median_ms, drifting, flat_noisy, route  # noqa: E402

from blueprints.memory import tune_malloc  # noqa: E402
from optimizer import Battery, Horizon, MarketDay, lattice  # noqa: E402
from optimizer.chain import MAX_LATTICE_ENTRIES, Chain  # noqa: E402
from optimizer.envelope import stored_rates  # noqa: E402
from optimizer.strategies.optimal import STRATEGY  # noqa: E402
from testkit.realdata import prd_battery as prd  # noqa: E402

BATTERIES = {
    "PRD, round trip 0.8736": prd(round_trip_efficiency=0.8736),
    "168 h": prd(duration_h=168.0),
    "168 h, from SoC 0.5": prd(duration_h=168.0, initial_soc=0.5),
    "one-way 0.92 / 0.92": prd(charge_efficiency=0.92, discharge_efficiency=0.92),
}
YEAR_HOURS = 8784
HOURS = 2000  # per timed run of one hour
RUNS = 5


def chain_grid(battery: Battery) -> lattice.Lattice:
    chain = Chain.of(battery)
    grid = lattice.chain_lattice(
        chain.width_mwh, chain.x0_mwh, chain.up_mwh, chain.down_mwh, 20_000, YEAR_HOURS
    )
    assert grid is not None, "no lattice of 20,000 levels"
    return grid


def hour_us(grid: lattice.Lattice, runs: int) -> float:
    """Median over ``runs`` of the CPU microseconds of one hour (``HOURS`` hours a run)."""
    rng = np.random.default_rng(1)
    m = grid.levels.size
    hour = lattice.bellman_hour(grid)
    v, out = rng.normal(0.0, 100.0, m), np.empty(m)
    rates = rng.normal(0.0, 1.0, (HOURS, 2)).tolist()
    times = []
    for _ in range(runs):
        t0 = time.process_time()
        for a, b in rates:
            hour(v, a, b, out)
        times.append((time.process_time() - t0) / HOURS * 1e6)
    return statistics.median(times)


def year_ms(grid: lattice.Lattice, battery: Battery, runs: int) -> tuple[int, float, float]:
    """Every k-th row kept (as ``optimizer.chain.solve``), and the median CPU ms of the
    backward and of the forward pass of a year of -1200 +- 1 on ``grid``."""
    prices = -1200.0 + np.random.default_rng(1).uniform(-1.0, 1.0, YEAR_HOURS)
    buy, sell = stored_rates(prices, battery)
    m = grid.levels.size
    every = 1
    while m * (-(-YEAR_HOURS // every) + 1) > MAX_LATTICE_ENTRIES:
        every += 1
    backward, forward = [], []
    for _ in range(runs):
        t0 = time.process_time()
        kept = lattice.chain_values(buy, sell, grid, every=every)
        t1 = time.process_time()
        values = kept if every == 1 else lattice.ChainValues(kept, every, buy, sell, grid)
        lattice.chain_moves(values, buy, sell, grid)
        t2 = time.process_time()
        backward.append((t1 - t0) * 1e3)
        forward.append((t2 - t1) * 1e3)
    return every, statistics.median(backward), statistics.median(forward)


def windows(grid: lattice.Lattice) -> tuple[int, int, str]:
    k = np.arange(grid.levels.size)
    sliding = lattice.sliding_window_plan(k, grid.up_end, grid.down_begin) is not None
    up = int(np.max(grid.up_end - k)) + 1
    down = int(np.max(k - grid.down_begin)) + 1
    return up, down, "slices" if sliding else "gathers"


def main(argv: Sequence[str] | None = None) -> int:
    tune_malloc()  # the service's allocator settings (app.py): the path users take
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours-only", action="store_true", help="only the one-hour figures")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each year (median)")
    args = parser.parse_args(argv)
    grids = {name: chain_grid(battery) for name, battery in BATTERIES.items()}

    print(f"one hour of the recursion ({HOURS} hours on random values, median of {RUNS} runs)")
    print(f"{'lattice':24s} {'levels':>7s} {'windows':>11s} {'read by':>8s} {'us/hour':>8s}")
    for name, grid in grids.items():
        up, down, read = windows(grid)
        us = hour_us(grid, RUNS)
        print(f"{name:24s} {grid.levels.size:7d} {f'{up} / {down}':>11s} {read:>8s} {us:8.1f}")
    if args.hours_only:
        return 0

    print(f"\na year of -1200 +- 1 on the lattice ({YEAR_HOURS} hours, median of {args.repeats})")
    print(f"{'lattice':24s} {'kept':>6s} {'backward ms':>12s} {'forward ms':>11s}")
    for name, grid in grids.items():
        every, back, fwd = year_ms(grid, BATTERIES[name], args.repeats)
        print(f"{name:24s} {f'1/{every}':>6s} {back:12.1f} {fwd:11.1f}")

    print(f"\noptimal's dispatch, continuous (bench_worst_case families, median of {args.repeats})")
    families = [
        (
            "-1200 +- 1, round trip 0.8736",
            flat_noisy(-1200.0, 1.0, 366),
            BATTERIES["PRD, round trip 0.8736"],
        ),
        ("prices drifting from -5000, 168 h", drifting(5.0, -5000.0, 366), BATTERIES["168 h"]),
        (
            "-1200 +- 1, one-way 0.92 / 0.92",
            flat_noisy(-1200.0, 1.0, 366),
            BATTERIES["one-way 0.92 / 0.92"],
        ),
    ]
    print(f"{'family':36s} {'days':>5s} {'CPU ms':>8s}  route")
    for name, days, battery in families:

        def dispatch(d: list[MarketDay] = days, b: Battery = battery) -> object:
            return STRATEGY.dispatch(d, b, horizon=Horizon.CONTINUOUS)

        ms = cpu_median_ms(dispatch, args.repeats)
        print(f"{name:36s} {len(days):5d} {ms:8.1f}  {route(days, battery, Horizon.CONTINUOUS)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
