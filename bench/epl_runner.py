"""energy-py-linear side of the optimizer benchmark.

Runs inside ``.venv-epl`` (``energypylinear`` + PuLP/CBC), never inside the project venv and
never in the test suite. ``bench/bench_optimizer.py`` starts it as a subprocess and exchanges
JSON with it:

stdin::

    {"battery": {"power_mw": 10, "capacity_mwh": 40, "efficiency_pct": 0.85,
                 "initial_charge_mwh": 0, "final_charge_mwh": 0},
     "days": [{"date": "2016-01-29", "prices": [929.1, ...]}, ...],
     "warmup": true}

stdout::

    {"epl_version": "1.4.1", "solver": "PULP_CBC_CMD", "import_s": ..., "warmup_s": ...,
     "total_s": ..., "total_cpu_s": ...,
     "days": [{"date": ..., "revenue_grid": ..., "revenue_objective": ...,
               "charge_mwh": [...], "discharge_mwh": [...], "status": "Optimal"}, ...]}

energy-py-linear's battery charges at ``efficiency_pct`` (losses = charge * (1 - efficiency))
and discharges at 100 %, with stored energy between 0 and ``capacity_mwh``. Its ``price``
objective minimises site import cost minus export revenue; with a battery alone on the site
(no load, no generation) import - export = charge - discharge, so -objective is our revenue
(SPEC §2 with degradation cost 0). Both figures are returned: ``revenue_grid`` is computed from
the schedule (grid export - import, times price), ``revenue_objective`` is -objective.

``total_s`` (wall) and ``total_cpu_s`` (CPU of this process and of the CBC processes it
starts) cover building and solving every day (one ``epl.Battery(...).optimize()`` per day)
plus reading the schedule back; imports are timed separately (``import_s``) and the
optional warm-up solve of the first day (``warmup_s``) is not part of ``total_s``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

_STARTED = time.perf_counter()

import energypylinear as epl  # noqa: E402
import numpy as np  # noqa: E402
import pulp  # noqa: E402

_IMPORTED = time.perf_counter()


def solve_day(prices: list[float], battery: dict[str, float]) -> dict[str, Any]:
    """Build and solve one day with energy-py-linear's battery asset; read the schedule back."""
    price_array = np.asarray(prices, dtype=float)
    asset = epl.Battery(
        power_mw=battery["power_mw"],
        capacity_mwh=battery["capacity_mwh"],
        efficiency_pct=battery["efficiency_pct"],
        initial_charge_mwh=battery["initial_charge_mwh"],
        final_charge_mwh=battery["final_charge_mwh"],
        electricity_prices=price_array,
        freq_mins=60,
    )
    result = asset.optimize(objective="price", verbose=False)
    frame = result.results
    grid_import = frame["site-import_power_mwh"].to_numpy(dtype=float)
    grid_export = frame["site-export_power_mwh"].to_numpy(dtype=float)
    return {
        "status": result.status.status,
        "revenue_grid": float(np.dot(price_array, grid_export - grid_import)),
        "revenue_objective": -float(result.status.objective),
        "charge_mwh": frame["battery-electric_charge_mwh"].to_numpy(dtype=float).tolist(),
        "discharge_mwh": frame["battery-electric_discharge_mwh"].to_numpy(dtype=float).tolist(),
    }


def main() -> int:
    request = json.load(sys.stdin)
    battery = request["battery"]
    days = request["days"]
    # Anything epl, PuLP or CBC might print goes to stderr, so stdout carries only our JSON.
    saved_stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        warmup_s = 0.0
        if request.get("warmup", True) and days:
            started = time.perf_counter()
            solve_day(days[0]["prices"], battery)
            warmup_s = time.perf_counter() - started
        started, cpu_started = time.perf_counter(), _cpu_s()
        solved = [{"date": day["date"], **solve_day(day["prices"], battery)} for day in days]
        total_s = time.perf_counter() - started
        total_cpu_s = _cpu_s() - cpu_started
    finally:
        sys.stdout.flush()
        os.dup2(saved_stdout, 1)
        os.close(saved_stdout)
    json.dump(
        {
            "epl_version": getattr(epl, "__version__", None) or _version("energypylinear"),
            "pulp_version": pulp.__version__,
            "solver": "PULP_CBC_CMD",
            "import_s": _IMPORTED - _STARTED,
            "warmup_s": warmup_s,
            "total_s": total_s,
            "total_cpu_s": total_cpu_s,
            "days": solved,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")
    return 0


def _cpu_s() -> float:
    """CPU seconds of this process plus its finished children (the CBC solver runs)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
