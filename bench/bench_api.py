"""API benchmark (SPEC §7): POST /optimize end to end through ``app.lambda_handler``
(in-process, API Gateway HTTP API events), CPU time on one core, medians; and the cold
``import app`` in fresh interpreters. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_api.py [--repeats 15] [--imports 5] [--cpu K] [--epl]

Cases (SPEC §7 targets in brackets):

- 366 days of inline prices, ``optimal`` only                      [<= 40 ms]
- 366 days of inline prices, ``compare: true``                      [<= 120 ms]
- the PRD request: 31 days, synthetic source, with the comparison   [<= 12 ms]
- the same 366 inline days with ``Accept-Encoding: gzip``, and the 31-day ``optimal`` only
- the PRD request again with the synthetic source generating its prices on every call (it
  keeps the days it generated, so the repeated calls above reuse them)

and where the PRD request and the 366-day inline request spend their CPU, step by step.

The inline prices are real: APATZINGAN day-ahead (MDA) zone prices, the 366 market days
2016-01-29 .. 2017-01-28 of ``data/cenace/pend_MDA_2016-01-27_2017-06-30_7zonas_jluisfgarza.csv.gz``
(the days ``bench/bench_optimizer.py`` uses), PRD battery (10 MW, 4 h, 0.85, SoC 0.1 .. 1).
Prices for the PRD request come from the configured source; leave PRICE_SOURCE unset for the
offline synthetic source (the figure is then the service's own cost, no network in it).

``--epl`` also solves the same 366 days with energy-py-linear (``bench/epl_runner.py`` in
``.venv-epl``, see bench/README.md; ~30-60 s) and prints its build+solve CPU time against our
whole inline request (SPEC §7: >= 600x). energy-py-linear's battery convention is SPEC §2's
with charge efficiency 0.85, discharge 1, SoC 0 .. 1 (bench/README.md explains why); our side
of the ratio runs that same battery through the API.
"""

from __future__ import annotations

import argparse
import gzip
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
for _threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

from testkit.events import make_v2_event, prd_request  # noqa: E402
from testkit.realdata import year_days  # noqa: E402

PRD_BATTERY = {"capacity_mw": 10, "duration_hours": 4, "efficiency": 0.85,
               "min_soc": 0.1, "max_soc": 1.0}  # fmt: skip
#: energy-py-linear's convention (bench/README.md): losses on charging only, SoC 0 .. 1
EPL_BATTERY = {"capacity_mw": 10, "duration_hours": 4, "charge_efficiency": 0.85,
               "discharge_efficiency": 1.0, "min_soc": 0.0, "max_soc": 1.0}  # fmt: skip
EPL_PYTHON = ROOT / ".venv-epl" / "bin" / "python"
EPL_RUNNER = ROOT / "bench" / "epl_runner.py"
TARGETS_MS = {"inline-optimal": 40.0, "inline-compare": 120.0, "prd": 12.0}
TARGET_IMPORT_S = 0.6
TARGET_EPL_RATIO = 600.0


def inline_prices() -> list[dict[str, Any]]:
    """The 366 real days of ``testkit.realdata.year_days`` as ``market_params.prices`` items."""
    return [
        {"date": day.date.isoformat(), "hour": hour, "price": price}
        for day in year_days()
        for hour, price in enumerate(day.prices_mxn_per_mwh)
    ]


def v2_event(body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    """POST /optimize with ``body``, as an API Gateway HTTP API (payload 2.0) event."""
    return make_v2_event(
        method="POST",
        path="/optimize",
        headers={"content-type": "application/json", **(headers or {})},
        body=json.dumps(body),
        request_id="bench",
    )


def pin_to_one_cpu(cpu: int | None) -> str:
    allowed = sorted(os.sched_getaffinity(0))
    chosen = allowed[0] if cpu is None else cpu
    os.sched_setaffinity(0, {chosen})
    return f"CPU {chosen} of {len(allowed)} allowed"


def cpu_samples(
    handler: Any, event: dict[str, Any], repeats: int
) -> tuple[list[float], int, dict[str, list[float]]]:
    """CPU seconds (``time.process_time``) of ``repeats`` calls after one warm-up, the
    response body's size in bytes, and, for a comparison, each strategy's ``runtime_ms``
    (its own time inside the request, comparison rows) of every timed call."""
    response = handler(event, None)
    if response["statusCode"] != 200:
        raise SystemExit(f"POST /optimize answered {response['statusCode']}: {response['body']}")
    samples = []
    strategies: dict[str, list[float]] = {}
    for _ in range(repeats):
        started = time.process_time()
        answer = handler(event, None)
        samples.append(time.process_time() - started)
        if answer.get("isBase64Encoded"):
            continue
        for row in json.loads(answer["body"]).get("comparison") or ():
            strategies.setdefault(row["strategy"], []).append(row["runtime_ms"])
    return samples, len(response["body"]), strategies


def cold_imports(runs: int, cpu: int) -> list[float]:
    """Seconds to ``import app`` in fresh interpreters (pinned to ``cpu``)."""
    code = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    seconds = []
    for _ in range(runs):
        out = subprocess.run(["taskset", "-c", str(cpu), sys.executable, "-c", code], cwd=ROOT,
                             env=env, check=True, capture_output=True, text=True)  # fmt: skip
        seconds.append(float(out.stdout.strip().splitlines()[-1]))
    return seconds


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


def phases(app: Any, body: dict[str, Any], repeats: int) -> dict[str, float]:
    """Median CPU time of each step of ``blueprints.service.run_optimize`` for one request body
    (prices inline or from the configured source), then of gzip-compressing the JSON."""
    from blueprints import service
    from blueprints.encoding import decode_json, encode_json
    from optimizer import optimize
    from schemas.analyst import add_analyst_metrics
    from schemas.response import dump_optimize_response

    raw = json.dumps(body).encode()
    steps = ("decode", "validate", "prices", "optimize", "body", "§9 metrics", "encode", "gzip")
    out: dict[str, list[float]] = {k: [] for k in steps}
    with app.app_context():
        source = service.price_source(app)
        for _ in range(repeats):
            t0 = time.process_time()
            payload = decode_json(raw)
            t1 = time.process_time()
            request = service._REQUEST_SCHEMA.load(payload)
            t2 = time.process_time()
            days, source_name = service._market_days(request, source=source, deadline_s=None)
            history = service.request_history(request, days, source=source, deadline_s=None)
            t3 = time.process_time()
            report = optimize(days, request.battery, strategy=request.strategy,
                              horizon=request.horizon, compare=request.compare,
                              history=history)  # fmt: skip
            t4 = time.process_time()
            doc = dump_optimize_response(report, request.market, source=source_name)
            t5 = time.process_time()
            add_analyst_metrics(doc, report, request.battery)
            t6 = time.process_time()
            data = encode_json(doc)
            t7 = time.process_time()
            gzip.compress(data, compresslevel=5, mtime=0)
            t8 = time.process_time()
            ticks = (t0, t1, t2, t3, t4, t5, t6, t7, t8)
            for key, start, stop in zip(steps, ticks, ticks[1:], strict=False):
                out[key].append(stop - start)
    return {k: statistics.median(v) for k, v in out.items()}


def epl_cpu_s(prices: list[dict[str, Any]]) -> float | None:
    """energy-py-linear's build+solve CPU seconds for the days of ``prices`` (None without
    .venv-epl)."""
    if not EPL_PYTHON.exists():
        return None
    days: dict[str, list[float]] = {}
    for item in prices:
        days.setdefault(item["date"], []).append(item["price"])
    battery = {"power_mw": 10.0, "capacity_mwh": 40.0, "efficiency_pct": 0.85,
               "initial_charge_mwh": 0.0, "final_charge_mwh": 0.0}  # fmt: skip
    request = {"battery": battery, "warmup": True,
               "days": [{"date": d, "prices": p} for d, p in days.items()]}  # fmt: skip
    done = subprocess.run([str(EPL_PYTHON), str(EPL_RUNNER)], input=json.dumps(request),
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"energy-py-linear runner failed:\n{done.stderr[-2000:]}")
    return float(json.loads(done.stdout)["total_cpu_s"])


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.1f} ms"


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--imports", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to")
    parser.add_argument("--epl", action="store_true", help="also time energy-py-linear")
    args = parser.parse_args()

    pinned = pin_to_one_cpu(args.cpu)
    cpu = next(iter(os.sched_getaffinity(0)))
    print(f"one core: {pinned}; CPU time (time.process_time), medians\n")

    imports = cold_imports(args.imports, cpu)
    median_import = statistics.median(imports)
    print(f"cold import of app ({args.imports} fresh interpreters; target <= "
          f"{TARGET_IMPORT_S} s): median {ms(median_import)}  min {ms(min(imports))}  "
          f"max {ms(max(imports))}  -> {verdict(median_import, TARGET_IMPORT_S)}")  # fmt: skip
    print("  slowest top-level packages (cumulative wall time, one run of -X importtime):")
    for seconds, name in slowest_imports(6):
        print(f"    {name:<20}{ms(seconds)}")

    from app import app, lambda_handler

    prices = inline_prices()
    inline = {"battery_params": PRD_BATTERY, "market_params": {"prices": prices}}
    prd = prd_request()
    cases: list[tuple[str, str | None, dict[str, Any], dict[str, str] | None]] = [
        ("366 days inline, optimal only", "inline-optimal", {**inline, "compare": False}, None),
        ("366 days inline, compare", "inline-compare", {**inline, "compare": True}, None),
        ("366 days inline, optimal, gzip", None, {**inline, "compare": False},
         {"accept-encoding": "gzip"}),
        ("31 days synthetic, compare (PRD)", "prd", prd, None),
        ("31 days synthetic, optimal only", None, {**prd, "compare": False}, None),
    ]  # fmt: skip
    source = app.extensions["price_source"].name
    print(f"\nPOST /optimize through lambda_handler (price source for the PRD request: {source}), "
          f"{args.repeats} calls after one warm-up")  # fmt: skip
    medians = {}
    for label, key, body, headers in cases:
        repeats = args.repeats if key != "inline-compare" else max(5, args.repeats // 2)
        samples, size, strategies = cpu_samples(lambda_handler, v2_event(body, headers), repeats)
        median = statistics.median(samples)
        target = ""
        if key is not None:
            medians[key] = median
            goal = TARGETS_MS[key]
            target = f"  target <= {goal:.0f} ms: {verdict(median * 1e3, goal)}"
        print(f"  {label:<34} median {ms(median)}  min {ms(min(samples))}  "
              f"body {size / 1e6:5.2f} MB{target}")  # fmt: skip
        if strategies:
            print("    each strategy (median runtime_ms of its comparison row): " + ", ".join(
                f"{name} {statistics.median(times):.1f}" for name, times in strategies.items()
            ))  # fmt: skip

    source_object = app.extensions["price_source"]
    if getattr(source_object, "keep_days", 0):
        # the synthetic source keeps the days it generated: the figures above reuse them, as
        # a warm Lambda asked for the same month again does; this one generates them each call
        kept, source_object.keep_days = source_object.keep_days, 0
        samples, _, _ = cpu_samples(lambda_handler, v2_event(prd), args.repeats)
        source_object.keep_days = kept
        print(f"  {'PRD, prices generated every call':<34} median {ms(statistics.median(samples))}"
              f"  min {ms(min(samples))}")  # fmt: skip

    for what, body in (
        ("the PRD request", prd),
        ("the 366-day inline optimal request", {**inline, "compare": False}),
    ):
        print(
            f"\n  where {what} spends its CPU (medians; the rest of a request is Flask, "
            "apig-wsgi and the routing; gzip only when the client accepts it):"
        )
        for step, seconds in phases(app, body, args.repeats).items():
            print(f"    {step:<11}{ms(seconds)}")

    if args.epl:
        epl = epl_cpu_s(prices)
        if epl is None:
            print(f"\nenergy-py-linear: {EPL_PYTHON} missing; create it with "
                  "`.venv/bin/python bench/bench_optimizer.py --setup-epl`")  # fmt: skip
            return
        body = {"battery_params": EPL_BATTERY, "market_params": {"prices": prices},
                "compare": False}  # fmt: skip
        samples, _, _ = cpu_samples(lambda_handler, v2_event(body), args.repeats)
        ours = statistics.median(samples)
        ratio = epl / ours
        print(f"\nenergy-py-linear build+solve of the 366 days: {epl:8.1f} s CPU (its process "
              f"and CBC's)\nour whole inline request, same battery:     {ms(ours)}\n"
              f"ratio: {ratio:,.0f}x  (target >= {TARGET_EPL_RATIO:.0f}x: "
              f"{'met' if ratio >= TARGET_EPL_RATIO else 'NOT met'})")  # fmt: skip
    else:
        print("\n(--epl adds the energy-py-linear ratio, SPEC §7: >= 600x)")


if __name__ == "__main__":
    main()
