"""Time the synthetic price source (prints figures; no assertions).

    .venv/bin/python bench/bench_synthetic.py

Prints the median CPU time (``time.process_time``) of repeated calls for one zone over 31 and 366
days, MDA and MTR: the numpy generation alone (``generator.hourly_prices``) and the whole
``fetch``, which adds the clock-change days and the ``MarketDay`` objects (whose constructor
validates every price in Python).
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prices.base import PriceQuery, Process, System
from prices.synthetic import SyntheticSource
from prices.synthetic.generator import hourly_prices


def median_ms(fn, repeat: int = 50) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    source = SyntheticSource(keep_days=0)  # generate every time (no kept days)
    print(f"{'query':34} {'generate ms':>12} {'fetch ms':>10}")
    for days in (31, 366):
        for process in Process:
            start = dt.date(2024, 1, 1)
            query = PriceQuery(
                zone="APATZINGAN",
                system=System.SIN,
                process=process,
                start=start,
                end=start + dt.timedelta(days=days - 1),
            )
            ordinals = np.arange(start.toordinal(), query.end.toordinal() + 1, dtype=np.int64)

            def generate(process: Process = process, ordinals: np.ndarray = ordinals) -> None:
                hourly_prices("APATZINGAN", None, System.SIN, process, ordinals).tolist()

            def fetch(query: PriceQuery = query) -> None:
                source.fetch(query)

            label = f"APATZINGAN {process} {days} days"
            print(f"{label:34} {median_ms(generate):12.2f} {median_ms(fetch):10.2f}")


if __name__ == "__main__":
    main()
