"""``flask optimize``: the same schema and service path as POST /optimize, printed."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from optimizer import STRATEGIES
from prices.synthetic import SyntheticSource
from prices.zones import ZONES, nodes_of
from schemas.analysis import MAX_SITING_ZONES
from tests.conftest import PRD_REQUEST_2020

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["optimize", "--zone", "APATZINGAN", "--start", "2020-08-01", "--end", "2020-08-31"]


def _without_runtimes(body: dict[str, Any]) -> dict[str, Any]:
    rows = body["comparison"] or []
    return {**body, "comparison": [{k: v for k, v in r.items() if k != "runtime_ms"} for r in rows]}


def test_json_output_is_the_api_response(app: Flask, client: FlaskClient) -> None:
    result = app.test_cli_runner().invoke(args=[*ARGS, "--json"])
    assert result.exit_code == 0, result.output
    api = client.post("/optimize", json=PRD_REQUEST_2020).get_json()
    assert _without_runtimes(json.loads(result.output)) == _without_runtimes(api)


def test_summary_table(app: Flask, client: FlaskClient) -> None:
    result = app.test_cli_runner().invoke(args=ARGS)
    assert result.exit_code == 0, result.output
    api = client.post("/optimize", json=PRD_REQUEST_2020).get_json()
    summary = api["summary"]
    lines = result.output.splitlines()
    assert lines[0] == "APATZINGAN (SIN MDA, prices from recorded), 2020-08-01 .. 2020-08-31"
    assert f"{'Days':<22}{31:>18}" in lines
    assert f"{summary['total_revenue']:,.2f} MXN" in result.output
    assert f"{summary['avg_daily_revenue']:,.2f} MXN" in result.output
    assert f"{summary['best_day']['date']}" in result.output
    assert f"{summary['worst_day']['date']}" in result.output
    table = lines[lines.index("Strategy comparison") + 2 :]
    assert [line.split()[0] for line in table] == list(STRATEGIES)
    for line, row in zip(table, api["comparison"], strict=True):
        assert line.split()[1] == f"{row['total_revenue']:,.2f}"
        assert line.split()[2] == f"{row['pct_of_optimal']:.2f}"


def test_options_reach_the_request(app: Flask) -> None:
    args = [*ARGS, "--strategy", "cycle", "--horizon", "continuous", "--no-compare",
            "--capacity-mw", "5", "--duration-hours", "2", "--json"]  # fmt: skip
    body = json.loads(app.test_cli_runner().invoke(args=args).output)
    assert (body["strategy"], body["horizon"], body["comparison"]) == ("cycle", "continuous", None)
    assert max(s["power"] for d in body["daily_schedules"] for s in d["schedule"]) <= 5


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [(["--min-soc", "0.9", "--max-soc", "0.5"], 2, "battery_params.min_soc"),
     (["--strategy", "oracle"], 2, "strategy: Must be one of"),
     (["--capacity-mw", "nan"], 2, "battery_params.capacity_mw"),
     (["--zone", "NOWHERE"], 1, "No prices")],
    ids=["min-max", "strategy", "nan", "unknown-zone"],
)  # fmt: skip
def test_errors_are_reported_without_a_traceback(
    app: Flask, extra: list[str], code: int, message: str
) -> None:
    result = app.test_cli_runner().invoke(args=[*ARGS, *extra])
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_flask_command_line_on_the_default_source() -> None:
    """The README's command, in a fresh process, on the configured default (synthetic)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRICE_", "BATU_"))}
    completed = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "optimize", "--zone", "APATZINGAN",
         "--start", "2024-01-01", "--end", "2024-01-31"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("APATZINGAN (SIN MDA, prices from synthetic), 2024-01-01")
    assert "Strategy comparison" in completed.stdout


# --- optimize --csv, sizing, siting ----------------------------------------------------------

SIZING_ARGS = ["sizing", "--zone", "APATZINGAN", "--start", "2020-08-01", "--end", "2020-08-31"]
SITING_ARGS = ["siting", "--zones", "APATZINGAN,MORELIA,NOWHERE-LAND",
               "--start", "2020-08-01", "--end", "2020-08-07"]  # fmt: skip
BATTERY = {"capacity_mw": 10.0, "efficiency": 0.85, "min_soc": 0.1, "max_soc": 1.0}


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_optimize_csv_file_is_the_json_schedule(app: Flask, tmp_path: Path) -> None:
    target = tmp_path / "schedule.csv"
    result = app.test_cli_runner().invoke(args=[*ARGS, "--csv", str(target), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    rows = _read_csv(target)
    hours = [(d["date"], s) for d in body["daily_schedules"] for s in d["schedule"]]
    assert len(rows) == len(hours) == 31 * 24
    for row, (date, step) in zip(rows, hours, strict=True):
        assert row["date"] == date
        assert int(row["hour"]) == step["hour"]
        assert float(row["price_mxn_per_mwh"]) == step["price"]
        assert row["action"] == step["action"]
        assert float(row["power_mw"]) == step["power"]
        assert float(row["soc"]) == step["soc"]
    for day in body["daily_schedules"]:
        day_rows = [r for r in rows if r["date"] == day["date"]]
        assert math.isclose(
            sum(float(r["revenue_mxn"]) for r in day_rows), day["revenue"], abs_tol=1e-4
        )


def test_sizing_json_is_the_api_response(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    target = tmp_path / "sizing.csv"
    result = app.test_cli_runner().invoke(
        args=[*SIZING_ARGS, "--durations", "1,2,4", "--json", "--csv", str(target)]
    )
    assert result.exit_code == 0, result.output
    api = client.post(
        "/sizing",
        json={
            "battery_params": BATTERY,
            "market_params": {
                "zone": "APATZINGAN",
                "system": "SIN",
                "process": "MDA",
                "start_date": "2020-08-01",
                "end_date": "2020-08-31",
            },
            "durations_hours": [1, 2, 4],
        },
    ).get_json()
    body = json.loads(result.output)
    assert body == api
    rows = _read_csv(target)
    assert [float(r["duration_hours"]) for r in rows] == [1.0, 2.0, 4.0]
    assert [float(r["total_revenue"]) for r in rows] == [r["total_revenue"] for r in api["rows"]]


def test_sizing_table_and_more_durations_than_the_api(app: Flask) -> None:
    durations = ",".join(str(h) for h in range(1, 19))  # 18 > the API's 16
    result = app.test_cli_runner().invoke(args=[*SIZING_ARGS, "--durations", durations])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("APATZINGAN (SIN MDA, prices from recorded), 2020-08-01")
    table = lines[lines.index(next(x for x in lines if x.strip().startswith("hours"))) + 1 :]
    assert [float(line.split()[0]) for line in table] == [float(h) for h in range(1, 19)]


def _unknown_detail(key: str) -> str:
    return (
        f"Unknown load zone or node {key!r}: not in the catalogue of CENACE load zones and "
        "NodosP (GET /zones lists the load zones)."
    )


def test_siting_lists_an_unknown_zone_as_failed(app: Flask, client: FlaskClient) -> None:
    """NOWHERE-LAND is not in the catalogue: as in POST /siting (SPEC §10) it is a 404 in
    ``failed`` and the other zones are ranked, not a usage error."""
    table = app.test_cli_runner().invoke(args=SITING_ARGS)
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].startswith("2 zones ranked (MDA, prices from recorded)")
    assert sorted(line.split()[1] for line in lines[4:6]) == ["APATZINGAN", "MORELIA"]
    failed = lines[lines.index("Failed") + 1 :]
    assert failed == [f"  NOWHERE-LAND: 404 {_unknown_detail('NOWHERE-LAND')}"]
    as_json = app.test_cli_runner().invoke(args=[*SITING_ARGS, "--json"])
    assert as_json.exit_code == 0, as_json.output
    api = _siting_api(client, ["APATZINGAN", "MORELIA", "NOWHERE-LAND"])
    assert api.status_code == 200
    assert json.loads(as_json.output) == api.get_json()


def _siting_api(client: FlaskClient, zones: list[str]) -> Any:
    """POST /siting with the CLI tests' battery, week and process (MDA, the default)."""
    return client.post(
        "/siting",
        json={
            "battery_params": {**BATTERY, "duration_hours": 4.0},
            "market_params": {
                "zones": zones,
                "process": "MDA",
                "start_date": "2020-08-01",
                "end_date": "2020-08-07",
            },
        },
    )


def test_siting_with_only_unknown_zones_reports_the_first(app: Flask) -> None:
    args = [*SITING_ARGS[:2], "NOWHERE-LAND,APATZINGAM", *SITING_ARGS[3:]]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 1
    assert f"Error: No prices: {_unknown_detail('NOWHERE-LAND')}" in result.output
    assert "APATZINGAM" not in result.output


def test_siting_malformed_zones_are_still_a_usage_error(app: Flask) -> None:
    args = [*SITING_ARGS[:2], "APATZINGAN,NOWHERE,NOWHERE", *SITING_ARGS[3:]]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 2
    assert "market_params.zones.2: Duplicate of item 1 (NOWHERE)." in result.output
    assert "market_params.zones.1" not in result.output


def test_siting_json_table_and_csv(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    args = [*SITING_ARGS[:2], "APATZINGAN,MORELIA,ACAPULCO", *SITING_ARGS[3:]]
    target = tmp_path / "siting.csv"
    result = app.test_cli_runner().invoke(args=[*args, "--json", "--csv", str(target)])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    api = _siting_api(client, ["APATZINGAN", "MORELIA", "ACAPULCO"]).get_json()
    assert body == api
    assert [f["zone"] for f in body["failed"]] == ["ACAPULCO"]  # not in the recorded file
    assert [r["zone"] for r in _read_csv(target)] == [r["zone"] for r in api["rows"]]
    table = app.test_cli_runner().invoke(args=args)
    assert table.exit_code == 0, table.output
    assert "Zones" not in table.output  # no progress bar off a terminal
    assert "  ACAPULCO: 404 " in table.output
    ranked = [line.split()[1] for line in table.output.splitlines()[4:6]]
    assert ranked == [r["zone"] for r in api["rows"]]


def test_siting_progress_bar_on_a_terminal(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from blueprints import cli

    monkeypatch.setattr(cli, "on_terminal", lambda: True)
    args = [*SITING_ARGS[:2], "APATZINGAN,MORELIA", *SITING_ARGS[3:]]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "Zones" in result.output


def test_siting_progress_bar_counts_unknown_zones(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bar's length is the number of keys given; an unknown one moves it too, so it ends
    full."""
    import click

    from blueprints import cli

    bars: list[tuple[int, list[int]]] = []
    real = click.progressbar

    def recorded(**kwargs: Any) -> Any:
        bar = real(**kwargs)
        steps: list[int] = []
        bars.append((kwargs["length"], steps))
        update = bar.update

        def counted(n_steps: int, current_item: Any = None) -> None:
            steps.append(n_steps)
            update(n_steps, current_item)

        bar.update = counted  # type: ignore[method-assign]
        return bar

    monkeypatch.setattr(cli, "on_terminal", lambda: True)
    monkeypatch.setattr(click, "progressbar", recorded)
    result = app.test_cli_runner().invoke(args=SITING_ARGS)
    assert result.exit_code == 0, result.output
    assert [(length, sum(steps)) for length, steps in bars] == [(3, 3)]


def test_siting_runs_more_days_than_the_api_allows(app: Flask) -> None:
    """367 days: a 422 from the API, fine from a terminal (here every day is a 404 since the
    recorded file has August 2020 only: the command reports the first failure)."""
    args = ["siting", "--zones", "APATZINGAN", "--start", "2020-01-01", "--end", "2021-01-01"]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 1
    assert "No prices" in result.output


def test_siting_takes_more_nodes_than_the_api_allows() -> None:
    """SPEC §10: the command may sweep a list of nodes longer than the API's 108 (a 422 there),
    here 109 node keys over two days of synthetic prices."""
    nodes = [node for zone in ZONES for node in nodes_of(zone)][: MAX_SITING_ZONES + 1]
    app = create_app({"TESTING": True, "PRICE_SOURCE_OBJECT": SyntheticSource()})
    market = {"start_date": "2020-08-01", "end_date": "2020-08-02"}
    api = app.test_client().post(
        "/siting",
        json={
            "battery_params": {**BATTERY, "duration_hours": 4.0},
            "market_params": {"zones": nodes, **market},
        },
    )
    assert api.status_code == 422
    assert api.get_json()["errors"] == {
        "market_params.zones": [f"Give 1 to {MAX_SITING_ZONES} zones or nodes."]
    }
    args = ["siting", "--zones", ",".join(nodes), "--start", market["start_date"],
            "--end", market["end_date"], "--json"]  # fmt: skip
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["failed"] == []
    assert len(body["rows"]) == len(nodes)
    assert [row["rank"] for row in body["rows"]] == list(range(1, len(nodes) + 1))


@pytest.mark.parametrize(
    ("durations", "message"),
    [("1,2,x", "item 3 of '1,2,x' is not a number of hours: 'x'"),
     ("1,,2", "item 2 of '1,,2' is empty"), ("4,", "item 2 of '4,' is empty")],
)  # fmt: skip
def test_sizing_durations_that_are_not_hours_are_a_usage_error_naming_the_option(
    app: Flask, durations: str, message: str
) -> None:
    result = app.test_cli_runner().invoke(args=[*SIZING_ARGS, "--durations", durations])
    assert result.exit_code == 2
    assert "Invalid value for '--durations'" in result.output
    assert message in result.output
