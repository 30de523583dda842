"""``learned`` against ``forecast``: walk-forward capture on real prices, and its time.

Run from the repository root::

    .venv/bin/python bench/bench_learned.py            # the table and the timing
    .venv/bin/python bench/bench_learned.py --grid     # also the hyper-parameter grid

Walk-forward, no look-ahead (SPEC §11): the five SIN zones of
``data/cenace/pend_MDA_2016-01-27_2017-06-30_7zonas_jluisfgarza.csv.gz``, scheduling
2016-07-01 .. 2017-06-30 with every earlier day of the file (from 2016-01-29) as history; each
day's forecast sees only the days before it. Capture is a strategy's revenue as a % of
``optimal``'s over the same days, for the PRD battery (10 MW, 4 h, 85 % round trip, SoC
0.1-1.0), ``daily`` horizon. The hyper-parameters were chosen on the first half
(2016-07-01 .. 2016-12-31) only; ``--grid`` prints that first-half grid again.

Timing: CPU time (``time.process_time``, one core, BLAS pools at one thread) of ``learned`` on
a 366-day request (2016-06-30 .. 2017-06-30) with the service's default 56 days of history and
with 366, scheduling and settlement included; median of ``--repeats``. It prints figures and
asserts nothing.
"""

from __future__ import annotations

import os

# Before numpy is imported (by ``optimizer``): one thread in every BLAS/OpenMP pool.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import datetime as dt  # noqa: E402
import gzip  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere: import the repo's `optimizer`
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from blueprints.memory import tune_malloc  # noqa: E402
from optimizer import Battery, Horizon, MarketDay, run_strategy  # noqa: E402
from optimizer.market import market_days  # noqa: E402
from optimizer.settle import settle  # noqa: E402
from optimizer.strategies import learned  # noqa: E402
from optimizer.strategies.forecast import schedule_on_profiles  # noqa: E402

DATA_FILE = REPO / "data" / "cenace" / "pend_MDA_2016-01-27_2017-06-30_7zonas_jluisfgarza.csv.gz"
ZONES = ("APATZINGAN", "MORELIA", "GUADALAJARA", "MONTERREY", "VDM CENTRO")
START, END = dt.date(2016, 7, 1), dt.date(2017, 6, 30)
HALVES = (
    ("2016-07..12", dt.date(2016, 7, 1), dt.date(2016, 12, 31)),
    ("2017-01..06", dt.date(2017, 1, 1), dt.date(2017, 6, 30)),
    ("year", START, END),
)
STRATEGIES = ("forecast", "learned")


def battery() -> Battery:
    return Battery(
        power_mw=10.0, duration_h=4.0, round_trip_efficiency=0.85, min_soc=0.1, max_soc=1.0
    )


def load(zones: tuple[str, ...]) -> dict[str, list[MarketDay]]:
    """Every MDA day of each zone (CENACE's ``hora`` is 1-based hour-ending)."""
    prices: dict[str, dict[str, dict[int, float]]] = {z: defaultdict(dict) for z in zones}
    with gzip.open(DATA_FILE, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["zona_carga"] in prices and row["proceso"] == "MDA":
                prices[row["zona_carga"]][row["fecha"]][int(row["hora"])] = float(row["pz"])
    out = {}
    for zone, by_day in prices.items():
        days = []
        for day, hours in sorted(by_day.items()):
            assert sorted(hours) == list(range(1, len(hours) + 1)), (zone, day)
            days.append(
                MarketDay(dt.date.fromisoformat(day), tuple(hours[h] for h in sorted(hours)))
            )
        out[zone] = days
    return out


def daily_revenue(name: str, every: list[MarketDay]) -> dict[dt.date, float]:
    """Revenue of each day of START..END, scheduled with every earlier day as history."""
    days = [d for d in every if START <= d.date <= END]
    history = [d for d in every if d.date < START]
    run = run_strategy(name, days, battery(), history=history)
    return {d.date: d.revenue_mxn for d in run.days}


def capture(
    mine: dict[dt.date, float], best: dict[dt.date, float], a: dt.date, b: dt.date
) -> float:
    dates = [d for d in best if a <= d <= b]
    return 100.0 * sum(mine[d] for d in dates) / sum(best[d] for d in dates)


def table(data: dict[str, list[MarketDay]]) -> None:
    print("capture, % of optimal (walk-forward, history from 2016-01-29)")
    print(f"{'':<12}" + "".join(f" | {label:^19}" for label, _, _ in HALVES))
    print(f"{'zone':<12}" + " | forecast   learned" * len(HALVES))
    sums: dict[tuple[str, str], list[float]] = defaultdict(list)
    for zone, every in data.items():
        best = daily_revenue("optimal", every)
        runs = {name: daily_revenue(name, every) for name in STRATEGIES}
        cells = []
        for label, a, b in HALVES:
            values = [capture(runs[name], best, a, b) for name in STRATEGIES]
            for name, value in zip(STRATEGIES, values, strict=True):
                sums[(label, name)].append(value)
            cells.append(" | " + " ".join(f"{v:8.2f}" for v in values) + " ")
        print(f"{zone:<12}" + "".join(cells))
    means = [statistics.fmean(sums[(label, name)]) for label, _, _ in HALVES for name in STRATEGIES]
    print(
        f"{'mean':<12}"
        + "".join(" | " + " ".join(f"{v:8.2f}" for v in means[i : i + 2]) + " " for i in (0, 2, 4))
    )
    for label, _, _ in HALVES:
        gains = np.subtract(sums[(label, "learned")], sums[(label, "forecast")])
        print(
            f"{label}: learned - forecast = {gains.mean():+.2f} points on average, "
            f"{gains.min():+.2f} in the worst zone"
        )


def grid(data: dict[str, list[MarketDay]]) -> None:
    """First-half capture of ``learned`` for a grid of hyper-parameters (selection data)."""
    a, b = HALVES[0][1], HALVES[0][2]
    print(f"\nhyper-parameter grid, {a}..{b} only: mean capture of the five zones")
    cache = {}
    for zone, every in data.items():
        layout = market_days(every)
        best = daily_revenue("optimal", every)
        scheduled = np.array([a <= d.date <= b for d in every])
        cache[zone] = (layout, best, np.flatnonzero(scheduled))
    window = learned.WINDOW_DAYS
    for stats in (7, 14, 28, 56):
        for ridge in (3.0, 10.0, 30.0, 100.0, 300.0):
            for blend in (7, 14, 28):
                values = []
                for layout, best, targets in cache.values():
                    profiles = np.full((len(layout), 24), np.nan)
                    profiles[targets] = learned.combined_profiles(
                        layout,
                        targets,
                        window_days=window,
                        stats_days=stats,
                        ridge_lambda=ridge,
                        blend_days=blend,
                    )
                    dispatch = schedule_on_profiles(layout, profiles, battery())
                    results = settle(layout, dispatch, battery(), horizon=Horizon.DAILY)
                    revenue = {r.date: r.revenue_mxn for r in results}
                    values.append(capture(revenue, best, a, b))
                print(
                    f"window {window} d, scale {stats:2d} d, ridge {ridge:5.1f}, "
                    f"blend {blend:2d} d: {statistics.fmean(values):6.2f}"
                )


def timing(data: dict[str, list[MarketDay]], repeats: int) -> None:
    every = data["APATZINGAN"]
    first = dt.date(2016, 6, 30)
    days = market_days([d for d in every if first <= d.date <= END])
    assert len(days) == 366
    before = [d for d in every if d.date < first]
    print(f"\nlearned, a 366-day request ({days[0].date}..{days[-1].date}), CPU, one core:")
    for history_days in (56, 366):
        history = before[-history_days:]
        times = []
        for _ in range(repeats):
            started = time.process_time()
            run_strategy("learned", days, battery(), history=history)
            times.append((time.process_time() - started) * 1e3)
        print(
            f"  history {len(history):3d} days: median {statistics.median(times):6.1f} ms "
            f"(min {min(times):.1f}, {repeats} runs)"
        )
    times = []
    for _ in range(repeats):
        started = time.process_time()
        run_strategy("forecast", days, battery(), history=before[-56:])
        times.append((time.process_time() - started) * 1e3)
    print(f"  forecast, history 56 days: median {statistics.median(times):6.1f} ms")


def main() -> None:
    tune_malloc()  # the service's allocator settings (app.py): the path users take
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid", action="store_true", help="print the first-half grid too")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per figure")
    args = parser.parse_args()
    data = load(ZONES)
    table(data)
    if args.grid:
        grid(data)
    timing(data, args.repeats)


if __name__ == "__main__":
    main()
