"""API benchmark (SPEC §7): POST /optimize for 31 days with the comparison, in-process through
``app.lambda_handler`` (target: median <= 100 ms), and the cold import of ``app`` in a fresh
interpreter (target: <= 1.5 s). Prints figures; asserts nothing.

    .venv/bin/python bench/bench_api.py [--repeats 30] [--imports 5]

Prices come from the configured source; leave PRICE_SOURCE unset for the offline synthetic
source (the number is then the service's own cost, with no network in it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# one log line per request would drown the figures
os.environ.setdefault("LOG_LEVEL", "WARNING")

from tests.events import make_v2_event, prd_request  # noqa: E402

PRD_REQUEST = prd_request()


def v2_event(body: dict[str, Any]) -> dict[str, Any]:
    """POST /optimize with ``body``, as an API Gateway HTTP API (payload 2.0) event."""
    return make_v2_event(
        method="POST",
        path="/optimize",
        headers={"content-type": "application/json"},
        body=json.dumps(body),
        request_id="bench",
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.1f} ms"


def time_handler(handler: Any, event: dict[str, Any], repeats: int) -> list[float]:
    response = handler(event, None)  # warm-up (first call builds caches, imports lazily)
    if response["statusCode"] != 200:
        raise SystemExit(f"POST /optimize answered {response['statusCode']}: {response['body']}")
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        handler(event, None)
        samples.append(time.perf_counter() - started)
    return samples


def phases(body: dict[str, Any], repeats: int) -> dict[str, float]:
    """Median time of each step of the service path, for the same request."""
    from app import app
    from blueprints.service import price_source
    from optimizer import optimize
    from schemas.request import OptimizeRequestSchema
    from schemas.response import MarketInfo, dump_optimize_response

    schema = OptimizeRequestSchema()
    source = price_source(app)
    out: dict[str, list[float]] = {k: [] for k in ("parse", "fetch", "optimize", "dump", "json")}
    for _ in range(repeats):
        t0 = time.perf_counter()
        request = schema.load(body)
        t1 = time.perf_counter()
        days = source.fetch(request.query)
        t2 = time.perf_counter()
        report = optimize(days, request.battery, strategy=request.strategy,
                          horizon=request.horizon, compare=request.compare)  # fmt: skip
        t3 = time.perf_counter()
        market = MarketInfo(
            zone=request.zone,
            system=request.system,
            process=request.process,
            source=source.name,
            start_date=request.start,
            end_date=request.end,
        )
        doc = dump_optimize_response(report, market)
        t4 = time.perf_counter()
        app.json.dumps(doc)
        t5 = time.perf_counter()
        for key, value in zip(out, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            out[key].append(value)
    return {k: statistics.median(v) for k, v in out.items()}


def cold_imports(runs: int) -> tuple[list[float], list[float]]:
    """Seconds to ``import app`` in a fresh interpreter, and the whole process's wall time."""
    code = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    imports, processes = [], []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True)  # fmt: skip
        processes.append(time.perf_counter() - started)
        imports.append(float(out.stdout.strip().splitlines()[-1]))
    return imports, processes


def slowest_imports(top: int) -> list[tuple[float, str]]:
    """Packages imported directly by ``app`` or at top level, by cumulative import time."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import app"], cwd=ROOT,
                         check=True, capture_output=True, text=True)  # fmt: skip
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self_us, cumulative_us, raw_name = line.removeprefix("import time:").split("|")
        depth = (len(raw_name) - len(raw_name.lstrip()) - 1) // 2
        name = raw_name.strip()
        if depth <= 1 and "." not in name:
            rows.append((int(cumulative_us) / 1e6, name))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--imports", type=int, default=5)
    args = parser.parse_args()

    imports, processes = cold_imports(args.imports)
    print(f"cold import of app ({args.imports} fresh interpreters; target <= 1.5 s)")
    print(f"  import app   median {ms(statistics.median(imports))}  "
          f"min {ms(min(imports))}  max {ms(max(imports))}")  # fmt: skip
    print(
        f"  whole process median {ms(statistics.median(processes))}  (interpreter start-up "
        "included)"
    )
    print("  slowest top-level packages (cumulative, one run of -X importtime):")
    for seconds, name in slowest_imports(8):
        print(f"    {name:<20}{ms(seconds)}")

    from app import app, lambda_handler

    source = app.extensions["price_source"].name
    print(f"\nPOST /optimize through lambda_handler, price source {source}, "
          f"{args.repeats} calls after one warm-up")  # fmt: skip
    cases = {
        "31 days, compare (PRD example)": PRD_REQUEST,
        "31 days, optimal only": {**PRD_REQUEST, "compare": False},
        "366 days, compare": prd_request(end_date="2024-12-31"),
    }  # fmt: skip
    for label, body in cases.items():
        repeats = args.repeats if "366" not in label else max(3, args.repeats // 10)
        samples = time_handler(lambda_handler, v2_event(body), repeats)
        target = "  (target <= 100 ms)" if label.startswith("31 days, compare") else ""
        print(f"  {label:<32} median {ms(statistics.median(samples))}  "
              f"min {ms(min(samples))}  max {ms(max(samples))}{target}")  # fmt: skip
    print("\n  where the 31-day comparison request spends its time (medians):")
    for step, seconds in phases(PRD_REQUEST, args.repeats).items():
        print(f"    {step:<10}{ms(seconds)}")


if __name__ == "__main__":
    main()
