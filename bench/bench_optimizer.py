"""Optimizer benchmark: every strategy on a year of real CENACE prices, and energy-py-linear.

Run from the repository root::

    .venv/bin/python bench/bench_optimizer.py              # ours + energy-py-linear if set up
    .venv/bin/python bench/bench_optimizer.py --setup-epl  # create .venv-epl first
    .venv/bin/python bench/bench_optimizer.py --no-epl     # ours only

Data: the APATZINGAN day-ahead (MDA) zone prices of ``data/cenace/``, the 366 market
days 2016-01-29 .. 2017-01-28 (one 23-hour and one 25-hour day). The process is pinned to one
CPU and BLAS/OpenMP pools are limited to one thread, so the figures are one-core figures.
This is a benchmark that prints figures; it is not a test and asserts no timings.
See bench/README.md.
"""

from __future__ import annotations

import os

# Before numpy/scipy are imported (by ``optimizer``): one thread in every BLAS/OpenMP pool.
for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

if TYPE_CHECKING:
    from optimizer import Battery, MarketDay, StrategyRun

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere: import the repo's `optimizer`
    sys.path.insert(0, str(REPO))

from blueprints.memory import tune_malloc  # noqa: E402
from testkit.realdata import YEAR_ZONE, year_days  # noqa: E402

ZONE = YEAR_ZONE

EPL_VENV = REPO / ".venv-epl"
EPL_REQUIREMENT = "energypylinear==1.4.1"
EPL_RUNNER = Path(__file__).resolve().parent / "epl_runner.py"
#: per-day revenue agreement required between our `optimal` and energy-py-linear
AGREEMENT_REL = 1e-6
#: SPEC §7 targets (optimal dispatch on the year: issue 9)
TARGET_OPTIMAL_CPU_MS = 10.0
TARGET_EPL_RATIO = 50.0


# ----------------------------------------------------------------------------- data


def load_days() -> list[MarketDay]:
    """APATZINGAN MDA prices, 2016-01-29 .. 2017-01-28, as market days (testkit.realdata)."""
    return list(year_days())


def prd_battery() -> Battery:
    """The battery of the PRD example (SPEC §4)."""
    from optimizer import Battery

    return Battery(power_mw=10, duration_h=4, round_trip_efficiency=0.85, min_soc=0.1, max_soc=1.0)


def epl_convention_battery() -> Battery:
    """energy-py-linear's convention: charge 0.85, discharge 1.0, SoC 0..1, start = end = 0."""
    from optimizer import Battery

    return Battery(
        power_mw=10,
        duration_h=4,
        charge_efficiency=0.85,
        discharge_efficiency=1.0,
        min_soc=0.0,
        max_soc=1.0,
    )


# ----------------------------------------------------------------------------- timing


@dataclass(frozen=True)
class Timing:
    best_ms: float
    median_ms: float
    cpu_median_ms: float
    internal_median_ms: float
    run: StrategyRun


def time_strategy(run: Callable[[], StrategyRun], *, repeats: int) -> Timing:
    """One untimed warm-up call, then ``repeats`` timed calls (wall and process CPU time)."""
    last = run()
    walls, cpus, internals = [], [], []
    for _ in range(repeats):
        gc.collect()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        last = run()
        cpus.append((time.process_time() - cpu0) * 1e3)
        walls.append((time.perf_counter() - wall0) * 1e3)
        internals.append(last.runtime_ms)
    return Timing(
        best_ms=min(walls),
        median_ms=statistics.median(walls),
        cpu_median_ms=statistics.median(cpus),
        internal_median_ms=statistics.median(internals),
        run=last,
    )


def pin_to_one_cpu(cpu: int | None) -> str:
    """Pin this process (and the subprocesses and threads it starts) to one CPU."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity on this platform); BLAS/OpenMP threads = 1"
    allowed = sorted(os.sched_getaffinity(0))
    chosen = allowed[0] if cpu is None else cpu
    os.sched_setaffinity(0, {chosen})
    return (
        f"pinned to CPU {chosen} of {len(allowed)} allowed (os.sched_setaffinity); "
        "OMP/OPENBLAS/MKL threads = 1"
    )


# ----------------------------------------------------------------------------- our figures


def bench_strategies(days: Sequence[MarketDay], *, repeats: int) -> dict[str, Timing]:
    import optimizer

    battery = prd_battery()
    timings: dict[str, Timing] = {}
    for name in optimizer.STRATEGIES:
        timings[name] = time_strategy(
            partial(optimizer.run_strategy, name, days, battery), repeats=repeats
        )
    timings["optimal (continuous)"] = time_strategy(
        partial(
            optimizer.run_strategy, "optimal", days, battery, horizon=optimizer.Horizon.CONTINUOUS
        ),
        repeats=repeats,
    )
    return timings


def print_strategy_table(timings: dict[str, Timing]) -> None:
    optimal_total = timings["optimal"].run.summary.total_revenue_mxn
    header = (
        f"{'strategy':<22}{'best ms':>10}{'median ms':>11}{'CPU ms':>9}{'internal ms':>13}"
        f"{'revenue MXN':>16}{'% optimal':>11}{'disch. MWh':>12}{'cycles':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, t in timings.items():
        total = t.run.summary.total_revenue_mxn
        pct = f"{100.0 * total / optimal_total:.3f}" if optimal_total > 0 else "n/a"
        print(
            f"{name:<22}{t.best_ms:>10.1f}{t.median_ms:>11.1f}{t.cpu_median_ms:>9.1f}"
            f"{t.internal_median_ms:>13.1f}{total:>16,.2f}{pct:>11}"
            f"{t.run.energy_discharged_mwh:>12,.1f}{t.run.cycles:>9.1f}"
        )
    opt_cpu = timings["optimal"].cpu_median_ms
    verdict = "met" if opt_cpu <= TARGET_OPTIMAL_CPU_MS else "NOT met"
    print(
        f"\ntarget: optimal (daily) for the year <= {TARGET_OPTIMAL_CPU_MS:.0f} ms of one-core "
        f"compute -> median CPU {opt_cpu:.1f} ms: {verdict}"
    )


# ----------------------------------------------------------------------------- energy-py-linear


def epl_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def setup_epl(venv: Path) -> None:
    """Create ``venv`` and install energy-py-linear (PuLP + bundled CBC) into it."""
    print(f"creating {venv} and installing {EPL_REQUIREMENT} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(epl_python(venv)), "-m", "pip", "install", "--quiet", EPL_REQUIREMENT], check=True
    )


def epl_missing_message(venv: Path) -> str:
    shown = venv.relative_to(REPO) if venv.is_relative_to(REPO) else venv
    return (
        f"energy-py-linear comparison skipped: {epl_python(venv)} not found.\n"
        "Create it with\n"
        "    .venv/bin/python bench/bench_optimizer.py --setup-epl\n"
        "or by hand (Python 3.11; needs the package registry once)\n"
        f"    python3 -m venv {shown}\n"
        f"    {shown}/bin/pip install {EPL_REQUIREMENT}"
    )


def run_epl(days: Sequence[MarketDay], venv: Path) -> tuple[dict[str, Any], float]:
    """Solve every day with energy-py-linear in its own venv; returns (its report, wall seconds
    of the whole subprocess incl. interpreter start, imports and JSON exchange)."""
    battery = epl_convention_battery()
    request = {
        "battery": {
            "power_mw": battery.power_mw,
            "capacity_mwh": battery.energy_mwh,
            "efficiency_pct": battery.eta_charge,
            "initial_charge_mwh": battery.soc_start * battery.energy_mwh,
            "final_charge_mwh": battery.soc_start * battery.energy_mwh,
        },
        "days": [{"date": d.date.isoformat(), "prices": list(d.prices_mxn_per_mwh)} for d in days],
        "warmup": True,
    }
    started = time.perf_counter()
    completed = subprocess.run(
        [str(epl_python(venv)), str(EPL_RUNNER)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
    )
    wall_s = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(
            f"energy-py-linear runner failed ({completed.returncode}):\n{completed.stderr[-4000:]}"
        )
    return json.loads(completed.stdout), wall_s


def relative_difference(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def epl_physics(epl_days: Sequence[dict[str, Any]], battery: Battery) -> tuple[float, float]:
    """Replay energy-py-linear's schedules through SPEC §2's energy balance: the largest
    end-of-day residue and the largest excess over the SoC bounds, both in MWh."""
    import numpy as np

    e0 = battery.soc_start * battery.energy_mwh
    lo, hi = battery.min_soc * battery.energy_mwh, battery.max_soc * battery.energy_mwh
    residue = excess = 0.0
    for day in epl_days:
        charge = np.asarray(day["charge_mwh"], dtype=float)
        discharge = np.asarray(day["discharge_mwh"], dtype=float)
        level = e0 + np.cumsum(battery.eta_charge * charge - discharge / battery.eta_discharge)
        residue = max(residue, abs(float(level[-1]) - e0))
        excess = max(excess, float(np.max(lo - level)), float(np.max(level - hi)))
    return residue, max(excess, 0.0)


def compare_with_epl(days: Sequence[MarketDay], *, repeats: int, venv: Path) -> bool:
    """Print the agreement and speed figures; returns whether revenues agree."""
    import optimizer

    battery = epl_convention_battery()
    print(
        "\nenergy-py-linear comparison: charge_efficiency 0.85, discharge_efficiency 1.0, "
        "SoC 0..1, start = end = 0 (P 10 MW, E 40 MWh)"
    )
    ours = time_strategy(partial(optimizer.run_strategy, "optimal", days, battery), repeats=repeats)
    print("running energy-py-linear on every day (one MILP per day, CBC) ...", flush=True)
    report, epl_wall_s = run_epl(days, venv)

    epl_days = report["days"]
    if [d["date"] for d in epl_days] != [r.date.isoformat() for r in ours.run.days]:
        raise SystemExit("energy-py-linear returned different days")
    not_optimal = [d["date"] for d in epl_days if d["status"] != "Optimal"]
    diffs = [
        relative_difference(r.revenue_mxn, d["revenue_grid"])
        for r, d in zip(ours.run.days, epl_days, strict=True)
    ]
    objective_diffs = [
        relative_difference(d["revenue_grid"], d["revenue_objective"]) for d in epl_days
    ]
    residue_mwh, violation_mwh = epl_physics(epl_days, battery)
    worst = max(range(len(diffs)), key=diffs.__getitem__)
    abs_max = max(
        abs(r.revenue_mxn - d["revenue_grid"]) for r, d in zip(ours.run.days, epl_days, strict=True)
    )
    ours_total = ours.run.summary.total_revenue_mxn
    epl_total = sum(d["revenue_grid"] for d in epl_days)
    agree = max(diffs) <= AGREEMENT_REL and not not_optimal

    epl_ms = report["total_s"] * 1e3
    print(f"  energy-py-linear {report['epl_version']} (PuLP {report['pulp_version']}, CBC)")
    print(f"  days compared:                 {len(diffs)}")
    print(f"  days not solved to optimality: {len(not_optimal)} {not_optimal[:5]}")
    print(f"  total revenue  ours / epl:     {ours_total:,.4f} / {epl_total:,.4f} MXN")
    print(
        f"  max relative difference/day:   {max(diffs):.3e} ({epl_days[worst]['date']}; "
        f"max abs {abs_max:.3e} MXN) -> {'agree' if agree else 'DISAGREE'} "
        f"within {AGREEMENT_REL:g}"
    )
    print(f"  epl schedule vs its objective: max rel {max(objective_diffs):.3e}")
    print(
        f"  epl schedules, our physics:    max |end - start| {residue_mwh:.1e} MWh, "
        f"max SoC-bound excess {violation_mwh:.1e} MWh (CBC solution values have ~8 digits)"
    )
    print(f"  epl imports (in its venv):     {report['import_s'] * 1e3:10.1f} ms")
    print(f"  epl build+solve, all days:     {epl_ms:10.1f} ms (after 1 warm-up day)")
    print(f"  epl whole subprocess:          {epl_wall_s * 1e3:10.1f} ms (incl. interpreter start)")
    print(
        f"  ours optimal, all days:        {ours.median_ms:10.1f} ms wall median "
        f"(best {ours.best_ms:.1f}, CPU {ours.cpu_median_ms:.1f})"
    )
    epl_cpu_ms = report["total_cpu_s"] * 1e3
    print(f"  epl build+solve, CPU time:     {epl_cpu_ms:10.1f} ms (its process + CBC children)")
    ratio = epl_ms / ours.median_ms
    verdict = "met" if ratio >= TARGET_EPL_RATIO else "NOT met"
    print(
        f"  speed ratio epl / ours:        {ratio:10.0f}x  (build+solve vs our median wall; "
        f"target >= {TARGET_EPL_RATIO:.0f}x: {verdict})"
    )
    print(
        f"  speed ratio on CPU time:       {epl_cpu_ms / ours.cpu_median_ms:10.0f}x  "
        "(epl CPU incl. CBC vs our median CPU)"
    )
    print(
        f"  speed ratio incl. epl start:   {epl_wall_s * 1e3 / ours.median_ms:10.0f}x  "
        "(whole subprocess vs our median wall)"
    )
    return agree


# ----------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    tune_malloc()  # the service's allocator settings (app.py): the path users take
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats (default 7)")
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: first)")
    parser.add_argument("--no-epl", action="store_true", help="skip energy-py-linear")
    parser.add_argument(
        "--setup-epl", action="store_true", help=f"create {EPL_VENV.name} and install epl first"
    )
    parser.add_argument("--epl-venv", type=Path, default=EPL_VENV, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    if args.setup_epl and not epl_python(args.epl_venv).exists():
        setup_epl(args.epl_venv)
    pinning = pin_to_one_cpu(args.cpu)

    import numpy
    import scipy

    import optimizer

    days = load_days()
    hours = [d.hours for d in days]
    print(
        f"optimizer benchmark  {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC  "
        f"python {sys.version.split()[0]}  numpy {numpy.__version__}  scipy {scipy.__version__}"
    )
    print(f"{pinning}; {os.cpu_count()} CPUs on the machine")
    print(
        f"data: {ZONE} MDA {days[0].date}..{days[-1].date}: {len(days)} days, {sum(hours)} hours "
        f"(23-hour days: {hours.count(23)}, 25-hour days: {hours.count(25)})"
    )
    print("battery (PRD example): 10 MW, 4 h (40 MWh), round trip 0.85 (sqrt split), SoC 0.1..1.0")
    print(
        f"each figure: 1 warm-up, then {args.repeats} timed runs of optimizer.run_strategy "
        "(dispatch + settle + summary); 'internal' = StrategyRun.runtime_ms\n"
    )
    timings = bench_strategies(days, repeats=args.repeats)
    print_strategy_table(timings)
    print(f"\nstrategies registered: {', '.join(optimizer.STRATEGIES)}")

    if args.no_epl:
        return 0
    if not epl_python(args.epl_venv).exists():
        print("\n" + epl_missing_message(args.epl_venv))
        return 0
    return 0 if compare_with_epl(days, repeats=args.repeats, venv=args.epl_venv) else 1


if __name__ == "__main__":
    sys.exit(main())
