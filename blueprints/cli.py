"""``flask --app app optimize ...``: the main job from a terminal.

The command builds the same JSON body POST /optimize takes and runs it through the same
service path (``blueprints.service.run_optimize``), so validation and results are identical.
"""

from __future__ import annotations

import json
from typing import Any

import click
from flask import Blueprint
from marshmallow import ValidationError

from blueprints.errors import flatten_messages
from blueprints.service import price_source, run_optimize
from optimizer import OptimizerError
from prices import PriceSourceError

bp = Blueprint("cli", __name__, cli_group=None)


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def format_summary(body: dict[str, Any]) -> str:
    """A readable report of a POST /optimize response body."""
    market = body["market"]
    summary = body["summary"]
    days = body["daily_schedules"]
    charged = sum(d["energy_charged"] for d in days)
    discharged = sum(d["energy_discharged"] for d in days)
    cycles = sum(d["cycles"] for d in days)
    zone = market["zone"] or "inline prices"
    lines = [
        f"{zone} ({market['system']} {market['process']}, prices from {market['source']}), "
        f"{market['start_date']} .. {market['end_date']}",
        f"strategy {body['strategy']}, horizon {body['horizon']}",
        "",
        f"{'Days':<22}{summary['days']:>18}",
        f"{'Total revenue':<22}{_money(summary['total_revenue']):>18} MXN",
        f"{'Average daily revenue':<22}{_money(summary['avg_daily_revenue']):>18} MXN",
        f"{'Best day':<22}{_money(summary['best_day']['revenue']):>18} MXN"
        f"  {summary['best_day']['date']}",
        f"{'Worst day':<22}{_money(summary['worst_day']['revenue']):>18} MXN"
        f"  {summary['worst_day']['date']}",
        f"{'Energy charged':<22}{charged:>18,.1f} MWh",
        f"{'Energy discharged':<22}{discharged:>18,.1f} MWh",
        f"{'Cycles':<22}{cycles:>18,.2f}",
    ]
    if body["comparison"]:
        lines += [
            "",
            "Strategy comparison",
            f"{'strategy':<12}{'revenue (MXN)':>18}{'% of optimal':>14}"
            f"{'discharged (MWh)':>18}{'cycles':>9}{'runtime (ms)':>14}",
        ]
        for row in body["comparison"]:
            pct = "n/a" if row["pct_of_optimal"] is None else f"{row['pct_of_optimal']:.2f}"
            lines.append(
                f"{row['strategy']:<12}{_money(row['total_revenue']):>18}{pct:>14}"
                f"{row['energy_discharged']:>18,.1f}{row['cycles']:>9.2f}"
                f"{row['runtime_ms']:>14.1f}"
            )
    return "\n".join(lines)


@bp.cli.command("optimize")
@click.option("--zone", required=True, help="CENACE load zone or node key, e.g. APATZINGAN.")
@click.option("--start", required=True, help="First market day, YYYY-MM-DD.")
@click.option("--end", required=True, help="Last market day (inclusive), YYYY-MM-DD.")
@click.option("--system", default="SIN", show_default=True, help="SIN, BCA or BCS.")
@click.option("--process", default="MDA", show_default=True, help="MDA or MTR.")
@click.option("--strategy", default="optimal", show_default=True, help="See GET /strategies.")
@click.option("--horizon", default="daily", show_default=True, help="daily or continuous.")
@click.option("--compare/--no-compare", default=True, show_default=True)
@click.option("--capacity-mw", type=float, default=10.0, show_default=True)
@click.option("--duration-hours", type=float, default=4.0, show_default=True)
@click.option("--efficiency", type=float, default=0.85, show_default=True)
@click.option("--min-soc", type=float, default=0.1, show_default=True)
@click.option("--max-soc", type=float, default=1.0, show_default=True)
@click.option("--initial-soc", type=float, default=None)
@click.option("--degradation-cost-per-mwh", type=float, default=None)
@click.option("--max-cycles-per-day", type=float, default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON response body instead.")
def optimize_command(
    *,
    zone: str,
    start: str,
    end: str,
    system: str,
    process: str,
    strategy: str,
    horizon: str,
    compare: bool,
    capacity_mw: float,
    duration_hours: float,
    efficiency: float,
    min_soc: float,
    max_soc: float,
    initial_soc: float | None,
    degradation_cost_per_mwh: float | None,
    max_cycles_per_day: float | None,
    as_json: bool,
) -> None:
    """Optimise a battery over a zone and date range and print the result."""
    battery = {
        "capacity_mw": capacity_mw,
        "duration_hours": duration_hours,
        "efficiency": efficiency,
        "min_soc": min_soc,
        "max_soc": max_soc,
        "initial_soc": initial_soc,
        "degradation_cost_per_mwh": degradation_cost_per_mwh,
        "max_cycles_per_day": max_cycles_per_day,
    }
    payload = {  # the POST /optimize body; battery options left unset are omitted
        "battery_params": {k: v for k, v in battery.items() if v is not None},
        "market_params": {
            "zone": zone,
            "system": system,
            "process": process,
            "start_date": start,
            "end_date": end,
        },
        "strategy": strategy,
        "horizon": horizon,
        "compare": compare,
    }
    try:
        body = run_optimize(payload, source=price_source())
    except ValidationError as exc:
        problems = "\n".join(
            f"  {path}: {' '.join(messages)}"
            for path, messages in flatten_messages(exc.messages).items()
        )
        raise click.UsageError(f"invalid options:\n{problems}") from None
    except PriceSourceError as exc:
        raise click.ClickException(f"{exc.title}: {exc.detail}") from None
    except OptimizerError as exc:
        raise click.ClickException(f"optimizer failed: {exc}") from None
    click.echo(json.dumps(body, indent=2) if as_json else format_summary(body))
