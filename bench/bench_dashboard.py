"""Dashboard draw time (SPEC §12, issue target: a 366-day result drawn in <= 1 s): the results
view (KPI tiles, day view, cumulative revenue of every strategy, monthly bars, both day x hour
heatmaps, comparison table) drawn from a 366-day POST /optimize answer in Debian's headless
Chromium, timed in the browser with ``performance.now()``. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_dashboard.py [--repeats 7] [--start 2024-01-01 --end 2024-12-31]

The answers are fetched once from the app on 127.0.0.1 (synthetic prices) and kept in the
page; each timed run then draws them anew: ``BatteryCharts.renderResults`` plus a pixel read
of every canvas, which makes the browser finish painting before the clock stops.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LOG_LEVEL", "WARNING")

from testkit.browser import chromium, serve, synthetic_app  # noqa: E402

#: fetches the answers for every strategy once (arguments: body, strategy names)
FETCH_JS = """
const [body, names, done] = arguments;
(async () => {
  const post = async (payload) => {
    const r = await fetch("optimize", {method: "POST", body: JSON.stringify(payload),
      headers: {"Content-Type": "application/json"}});
    if (!r.ok) throw new Error("HTTP " + r.status + ": " + await r.text());
    return r.json();
  };
  const result = await post(body);
  const strategies = {};
  for (const name of names) {
    if (name === result.strategy) continue;
    const other = await post(Object.assign({}, body, {strategy: name, compare: false}));
    strategies[name] = other.daily_schedules.map((d) => d.revenue);
  }
  window.benchData = {request: {}, result, strategies};
  done(result.daily_schedules.reduce((n, d) => n + d.schedule.length, 0));
})().catch((error) => done("error: " + error));
"""

#: one timed draw; returns milliseconds
DRAW_JS = """
const done = arguments[0];
const container = document.getElementById("results");
const t0 = performance.now();
BatteryCharts.renderResults(container, window.benchData, {});
Promise.resolve().then(() => {
  for (const canvas of container.querySelectorAll("canvas")) {
    if (canvas.width && canvas.height) canvas.getContext("2d").getImageData(0, 0, 1, 1);
  }
  done(performance.now() - t0);
});
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--start", default="2024-01-01")
    parser.add_argument("--end", default="2024-12-31")
    args = parser.parse_args(argv)
    body = {
        "battery_params": {
            "capacity_mw": 10,
            "duration_hours": 4,
            "efficiency": 0.85,
            "min_soc": 0.1,
            "max_soc": 1.0,
        },
        "market_params": {"zone": "APATZINGAN", "start_date": args.start, "end_date": args.end},
        "strategy": "optimal",
        "compare": True,
    }
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    app = synthetic_app()
    names = [s["name"] for s in app.test_client().get("/strategies").get_json()["strategies"]]
    with serve(app) as base, chromium() as browser:
        driver = browser.driver
        driver.set_script_timeout(300)
        # the page itself draws the PRD month first; wait for it, then time our own draws
        driver.get(base + "/")
        driver.execute_async_script(
            "const done = arguments[0]; const t = setInterval(() => {"
            " if (['ready', 'error'].includes(document.body.dataset.state)) {"
            " clearInterval(t); done(); } }, 50);"
        )
        hours = driver.execute_async_script(FETCH_JS, body, names)
        if not isinstance(hours, int):
            print(f"could not fetch the results: {hours}", file=sys.stderr)
            return 1
        times = [float(driver.execute_async_script(DRAW_JS)) for _ in range(args.repeats + 1)]
        version = driver.capabilities.get("browserVersion", "?")
    first, rest = times[0], times[1:]
    print(
        f"dashboard draw, {args.start}..{args.end} ({hours} hours, {len(names)} strategies), "
        f"headless Chromium {version}:"
    )
    print(f"  first draw          {first:8.1f} ms")
    print(
        f"  median of {len(rest):<2} draws  {statistics.median(rest):8.1f} ms "
        f"(min {min(rest):.1f}, max {max(rest):.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
