"""``flask --app app optimize|sizing|siting ...``: the service's jobs from a terminal.

Each command builds the same JSON body its HTTP route takes (POST /optimize, /sizing, /siting)
and runs it through the same service function, so validation and results are identical. The
terminal may run larger sweeps than the API (``sizing``: any number of durations; ``siting``:
any number of days and zone-days), since nothing times a terminal out.

Layout: shared option groups (``_market_options``, ``_battery_options``), then one section per
command (options -> request body -> run -> print or write files).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Blueprint
from marshmallow import ValidationError

from blueprints.analysis import run_siting, run_sizing
from blueprints.errors import flatten_messages
from blueprints.service import price_source, run_optimize
from blueprints.ui import write_report
from optimizer import OptimizerError
from prices import PriceSourceError
from schemas.analysis import (
    ALL_ZONES,
    MAX_SITING_ZONES,
    SitingRequestSchema,
    SizingRequestSchema,
)
from schemas.analyst import schedule_csv

bp = Blueprint("cli", __name__, cli_group=None)

F = TypeVar("F", bound=Callable[..., Any])


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


@contextmanager
def _reported_errors() -> Iterator[None]:
    """Service errors as click errors: a usage error (exit 2) listing every bad field, or a
    plain error (exit 1); never a traceback."""
    try:
        yield
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


def on_terminal() -> bool:
    """Whether stdout is a terminal (progress bars are drawn only there)."""
    return sys.stdout.isatty()


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _apply(func: F, decorators: Sequence[Callable[[Any], Any]]) -> F:
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _market_options(func: F) -> F:
    """--start/--end/--process (every command) and --strategy/--horizon."""
    return _apply(
        func,
        [
            click.option("--start", required=True, help="First market day, YYYY-MM-DD."),
            click.option("--end", required=True, help="Last market day (inclusive), YYYY-MM-DD."),
            click.option("--process", default="MDA", show_default=True, help="MDA or MTR."),
            click.option(
                "--strategy", default="optimal", show_default=True, help="See GET /strategies."
            ),
            click.option(
                "--horizon", default="daily", show_default=True, help="daily or continuous."
            ),
        ],
    )


def _battery_options(*, duration: bool) -> Callable[[F], F]:
    """The battery_params options (with --duration-hours unless ``duration`` is False)."""

    def decorate(func: F) -> F:
        options = [
            click.option("--capacity-mw", type=float, default=10.0, show_default=True),
            click.option("--efficiency", type=float, default=0.85, show_default=True),
            click.option("--min-soc", type=float, default=0.1, show_default=True),
            click.option("--max-soc", type=float, default=1.0, show_default=True),
            click.option("--initial-soc", type=float, default=None),
            click.option("--degradation-cost-per-mwh", type=float, default=None),
            click.option("--max-cycles-per-day", type=float, default=None),
        ]
        if duration:
            options.insert(
                1, click.option("--duration-hours", type=float, default=4.0, show_default=True)
            )
        return _apply(func, options)

    return decorate


def _battery_params(options: dict[str, Any]) -> dict[str, Any]:
    """battery_params of a request body; options left unset are omitted."""
    keys = (
        "capacity_mw",
        "duration_hours",
        "efficiency",
        "min_soc",
        "max_soc",
        "initial_soc",
        "degradation_cost_per_mwh",
        "max_cycles_per_day",
    )
    return {k: options[k] for k in keys if options.get(k) is not None}


# --- flask optimize ------------------------------------------------------------------------


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
    if "revenue_per_mw_year" in summary:
        lines += [
            f"{'Revenue per MW-year':<22}{_money(summary['revenue_per_mw_year']):>18} MXN",
            f"{'Captured spread':<22}{_money(summary['captured_spread']):>18} MXN/MWh",
            f"{'TB4 spread (mean)':<22}{_money(summary['tb4_spread_mean']):>18} MXN/MWh",
            f"{'% of TB benchmark':<22}{_pct(summary['pct_of_tb']):>18}",
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
@click.option("--system", default="SIN", show_default=True, help="SIN, BCA or BCS.")
@_market_options
@click.option("--compare/--no-compare", default=True, show_default=True)
@_battery_options(duration=True)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON response body instead.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the hourly schedule as CSV to this file (as Accept: text/csv).",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write a self-contained HTML report (charts; opens offline) to this file.",
)
def optimize_command(
    *,
    zone: str,
    system: str,
    start: str,
    end: str,
    process: str,
    strategy: str,
    horizon: str,
    compare: bool,
    as_json: bool,
    csv_path: Path | None,
    html_path: Path | None,
    **battery: Any,
) -> None:
    """Optimise a battery over a zone and date range and print the result."""
    payload = {  # the POST /optimize body
        "battery_params": _battery_params(battery),
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
    with _reported_errors():
        body = run_optimize(payload, source=price_source())
    if csv_path is not None:
        csv_path.write_text(schedule_csv(body), encoding="utf-8")
    if html_path is not None:  # the other strategies' daily revenues feed its cumulative chart
        write_report(html_path, payload, body, run=lambda p: run_optimize(p, source=price_source()))
    click.echo(json.dumps(body, indent=2) if as_json else format_summary(body))
    if csv_path is not None and not as_json:
        click.echo(f"\nHourly schedule written to {csv_path}")
    if html_path is not None and not as_json:
        click.echo(f"\nReport written to {html_path} (open it in a browser; it works offline)")


# --- flask sizing --------------------------------------------------------------------------

SIZING_COLUMNS = [
    "duration_hours",
    "energy_mwh",
    "total_revenue",
    "revenue_per_mw_year",
    "revenue_per_mwh_year",
    "marginal_revenue_per_mwh_year",
    "energy_discharged",
    "cycles",
    "pct_of_tb",
]


def _durations(value: str) -> list[float]:
    """``--durations``' hours; a usage error naming the option and the item that is not a
    number (an empty item too: ``1,,2`` is a typo, not two durations)."""
    hours = []
    for index, part in enumerate(value.split(",")):
        try:
            hours.append(float(part))
        except ValueError:
            what = "is empty" if not part.strip() else f"is not a number of hours: {part.strip()!r}"
            raise click.BadParameter(
                f"item {index + 1} of {value!r} {what} (comma-separated hours, e.g. 1,2,4)",
                param_hint="'--durations'",
            ) from None
    return hours


def format_sizing(body: dict[str, Any]) -> str:
    market = body["market"]
    lines = [
        f"{market['zone'] or 'inline prices'} ({market['system']} {market['process']}, prices "
        f"from {market['source']}), {market['start_date']} .. {market['end_date']}",
        f"{body['capacity_mw']:g} MW, strategy {body['strategy']}, horizon {body['horizon']}",
        "",
        f"{'hours':>7}{'MWh':>9}{'revenue (MXN)':>18}{'MXN/MW-yr':>14}{'MXN/MWh-yr':>14}"
        f"{'marginal':>14}{'MWh out':>11}{'cycles':>9}{'% of TB':>9}",
    ]
    for row in body["rows"]:
        lines.append(
            f"{row['duration_hours']:>7g}{row['energy_mwh']:>9,.1f}"
            f"{_money(row['total_revenue']):>18}{_money(row['revenue_per_mw_year']):>14}"
            f"{_money(row['revenue_per_mwh_year']):>14}"
            f"{_money(row['marginal_revenue_per_mwh_year']):>14}"
            f"{row['energy_discharged']:>11,.1f}{row['cycles']:>9.2f}{_pct(row['pct_of_tb']):>9}"
        )
    return "\n".join(lines)


@bp.cli.command("sizing")
@click.option("--zone", required=True, help="CENACE load zone or node key, e.g. APATZINGAN.")
@click.option("--system", default="SIN", show_default=True, help="SIN, BCA or BCS.")
@_market_options
@click.option(
    "--durations",
    default="1,2,4,6,8",
    show_default=True,
    help="Comma-separated durations in hours (any number of them here).",
)
@_battery_options(duration=False)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON response body instead.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the rows as CSV to this file.",
)
def sizing_command(
    *,
    zone: str,
    system: str,
    start: str,
    end: str,
    process: str,
    strategy: str,
    horizon: str,
    durations: str,
    as_json: bool,
    csv_path: Path | None,
    **battery: Any,
) -> None:
    """What each more hour of storage earns: one power, several durations (POST /sizing)."""
    payload = {
        "battery_params": _battery_params(battery),
        "market_params": {
            "zone": zone,
            "system": system,
            "process": process,
            "start_date": start,
            "end_date": end,
        },
        "durations_hours": _durations(durations),
        "strategy": strategy,
        "horizon": horizon,
    }
    with _reported_errors():
        body = run_sizing(
            payload,
            source=price_source(),
            deadline_s=None,
            schema=SizingRequestSchema(api_limits=False),
        )
    if csv_path is not None:
        _write_csv(
            csv_path, SIZING_COLUMNS, [[row[c] for c in SIZING_COLUMNS] for row in body["rows"]]
        )
    click.echo(json.dumps(body, indent=2) if as_json else format_sizing(body))


# --- flask siting --------------------------------------------------------------------------

SITING_COLUMNS = [
    "rank",
    "zone",
    "system",
    "total_revenue",
    "revenue_per_mw_year",
    "price_mean",
    "tb4_spread_mean",
    "pct_of_tb",
    "cycles",
    "forecast_pct_of_optimal",
]


def format_siting(body: dict[str, Any]) -> str:
    market = body["market"]
    lines = [
        f"{len(body['rows'])} zones ranked ({market['process']}, prices from "
        f"{market['source']}), {market['start_date']} .. {market['end_date']}",
        f"strategy {body['strategy']}, horizon {body['horizon']}",
        "",
        f"{'rank':>4}  {'zone':<22}{'sys':<5}{'revenue (MXN)':>18}{'MXN/MW-yr':>14}"
        f"{'price':>10}{'TB4':>10}{'% of TB':>9}{'cycles':>9}{'forecast %':>12}",
    ]
    for row in body["rows"]:
        lines.append(
            f"{row['rank']:>4}  {row['zone']:<22}{row['system']:<5}"
            f"{_money(row['total_revenue']):>18}{_money(row['revenue_per_mw_year']):>14}"
            f"{row['price_mean']:>10,.1f}{row['tb4_spread_mean']:>10,.1f}"
            f"{_pct(row['pct_of_tb']):>9}{row['cycles']:>9.2f}"
            f"{_pct(row['forecast_pct_of_optimal']):>12}"
        )
    if body["failed"]:
        lines += ["", "Failed"]
        lines += [f"  {f['zone']}: {f['status']} {f['detail']}" for f in body["failed"]]
    return "\n".join(lines)


def _zones(value: str) -> str | list[str]:
    if value.strip().lower() == ALL_ZONES:
        return ALL_ZONES
    return [part.strip() for part in value.split(",") if part.strip()]


@bp.cli.command("siting")
@click.option(
    "--zones",
    required=True,
    help='Comma-separated load zones or node keys, or "all" for every load zone.',
)
@_market_options
@_battery_options(duration=True)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON response body instead.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the ranked rows as CSV to this file.",
)
def siting_command(
    *,
    zones: str,
    start: str,
    end: str,
    process: str,
    strategy: str,
    horizon: str,
    as_json: bool,
    csv_path: Path | None,
    **battery: Any,
) -> None:
    """Where one battery earns most: many zones, the same dates (POST /siting)."""
    zone_list = _zones(zones)
    payload = {
        "battery_params": _battery_params(battery),
        "market_params": {
            "zones": zone_list,
            "process": process,
            "start_date": start,
            "end_date": end,
        },
        "strategy": strategy,
        "horizon": horizon,
    }
    schema = SitingRequestSchema(api_limits=False)
    with _reported_errors():
        if on_terminal():
            count = MAX_SITING_ZONES if zone_list == ALL_ZONES else len(zone_list)
            with click.progressbar(length=count, label="Zones", show_pos=True) as bar:
                body = run_siting(
                    payload,
                    source=price_source(),
                    deadline_s=None,
                    schema=schema,
                    progress=lambda _zone, _ok: bar.update(1),
                )
        else:
            body = run_siting(payload, source=price_source(), deadline_s=None, schema=schema)
    if csv_path is not None:
        _write_csv(
            csv_path, SITING_COLUMNS, [[row[c] for c in SITING_COLUMNS] for row in body["rows"]]
        )
    click.echo(json.dumps(body, indent=2) if as_json else format_siting(body))
