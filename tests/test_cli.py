"""``flask optimize``: the same schema and service path as POST /optimize, printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from optimizer import STRATEGIES
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
