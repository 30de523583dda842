"""Sizing and siting benchmark (SPEC §7), through ``app.lambda_handler`` on the synthetic
source: POST /sizing with 8 durations x 366 days (target <= 300 ms) and POST /siting with all
108 load zones x 366 days (target <= 5 s). Prints CPU time (``time.process_time``, every thread
of the process) and wall time, medians; asserts nothing.

    taskset -c 0 .venv/bin/python bench/bench_analysis.py [--repeats 5] [--siting-repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LOG_LEVEL", "WARNING")  # one log line per request would drown the figures
os.environ["PRICE_SOURCE"] = "synthetic"

from testkit.events import make_v2_event  # noqa: E402

BATTERY = {"capacity_mw": 10, "efficiency": 0.85, "min_soc": 0.1, "max_soc": 1.0}
YEAR = {"start_date": "2024-01-01", "end_date": "2024-12-31"}  # 366 market days
SIZING = {
    "battery_params": BATTERY,
    "market_params": {"zone": "APATZINGAN", **YEAR},
    "durations_hours": [1, 2, 3, 4, 6, 8, 10, 12],
}
SITING = {
    "battery_params": {**BATTERY, "duration_hours": 4},
    "market_params": {"zones": "all", **YEAR},
}


def event(path: str, body: dict[str, Any]) -> dict[str, Any]:
    return make_v2_event(
        method="POST",
        path=path,
        headers={"content-type": "application/json"},
        body=json.dumps(body),
        request_id="bench",
    )


def measure(handler: Any, path: str, body: dict[str, Any], repeats: int) -> dict[str, Any]:
    """CPU and wall seconds of each call after one warm-up; the last response body."""
    ev = event(path, body)
    response = handler(ev, None)
    if response["statusCode"] != 200:
        raise SystemExit(f"{path} answered {response['statusCode']}: {response['body'][:500]}")
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        response = handler(ev, None)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return {"cpu": cpu, "wall": wall, "body": json.loads(response["body"])}


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.1f} ms"


def report(label: str, result: dict[str, Any], target: str) -> None:
    cpu, wall = result["cpu"], result["wall"]
    print(f"{label}")
    print(f"  CPU  median {ms(statistics.median(cpu))}  min {ms(min(cpu))}  max {ms(max(cpu))}"
          f"   (target {target})")  # fmt: skip
    print(f"  wall median {ms(statistics.median(wall))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--siting-repeats", type=int, default=3)
    args = parser.parse_args()

    from app import lambda_handler

    sizing = measure(lambda_handler, "/sizing", SIZING, args.repeats)
    report("POST /sizing, 8 durations x 366 days, synthetic", sizing, "<= 300 ms")
    for row in sizing["body"]["rows"]:
        marginal = row["marginal_revenue_per_mwh_year"] or 0.0
        print(f"    {row['duration_hours']:>4g} h  {row['revenue_per_mw_year']:>14,.0f} MXN/MW-yr"
              f"  marginal {marginal:>12,.0f} MXN/MWh-yr")  # fmt: skip

    siting = measure(lambda_handler, "/siting", SITING, args.siting_repeats)
    report("\nPOST /siting, all 108 zones x 366 days, synthetic", siting, "<= 5 s")
    body = siting["body"]
    top = ", ".join(f"{r['zone']} {r['revenue_per_mw_year']:,.0f}" for r in body["rows"][:3])
    print(f"    {len(body['rows'])} ranked, {len(body['failed'])} failed; top 3 (MXN/MW-yr): {top}")


if __name__ == "__main__":
    main()
