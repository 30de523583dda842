"""The browser side: ``GET /`` (dashboard), ``GET /docs`` (Swagger UI over ``/openapi.json``),
``/static/...`` (the page's files and the vendored chart code), and the self-contained HTML
report that ``flask optimize --html FILE`` writes and the page downloads.

The page is plain HTML/CSS/JS calling the JSON API like any client; chart code is vendored
under ``static/vendor/`` by ``scripts/vendor_frontend.py`` (no CDN, no build step, nothing
fetched at run time). The report is ``static/ui/report.html`` with the same CSS/JS files and
the data inlined: the page fills it in the browser and ``render_report`` here, the same way.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, render_template, request

from optimizer import STRATEGIES

logger = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")

#: Cache-Control max-age of a static file asked for with the current asset version (a year)
IMMUTABLE_MAX_AGE_S = 365 * 24 * 3600


@functools.cache
def asset_version() -> str:
    """A digest of every static file: the pages link ``/static/...?v=<it>``, so a browser may
    keep those files for a year and still gets new ones after a deployment changes any."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class UiBlueprint(Blueprint):
    def get_send_file_max_age(self, filename: str | None) -> int | None:
        if request.args.get("v") == asset_version():
            return IMMUTABLE_MAX_AGE_S
        return super().get_send_file_max_age(filename)  # conditional requests


bp = UiBlueprint(
    "ui",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

#: the view the page shows with no query: the PRD example (URL parameter -> value)
DEFAULT_VIEW: dict[str, str] = {
    "zone": "APATZINGAN",
    "system": "SIN",
    "process": "MDA",
    "start": "2024-01-01",
    "end": "2024-01-31",
    "capacity_mw": "10",
    "duration_hours": "4",
    "efficiency": "0.85",
    "min_soc": "0.1",
    "max_soc": "1.0",
    "initial_soc": "",
    "degradation_cost_per_mwh": "",
    "max_cycles_per_day": "",
    "strategy": "optimal",
    "horizon": "daily",
    "durations": "1,2,4,6,8",
    "zones": "APATZINGAN,MONTERREY,VDM CENTRO",
}

#: battery_params fields the form offers (URL parameter = field name), with their labels
BATTERY_FIELDS: tuple[tuple[str, str], ...] = (
    ("capacity_mw", "Power (MW)"),
    ("duration_hours", "Duration (h)"),
    ("efficiency", "Round-trip efficiency"),
    ("min_soc", "Minimum state of charge"),
    ("max_soc", "Maximum state of charge"),
    ("initial_soc", "Initial state of charge (optional)"),
    ("degradation_cost_per_mwh", "Degradation cost, MXN/MWh (optional)"),
    ("max_cycles_per_day", "Cycles per day at most (optional)"),
)

#: the pages load only their own origin's files; the API is called on the same origin
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'; object-src 'none'"
)

#: placeholder in static/ui/report.html -> file under static/ inlined there
REPORT_FILES: dict[str, str] = {
    "UPLOT_CSS": "vendor/uplot/uPlot.min.css",
    "DASHBOARD_CSS": "ui/dashboard.css",
    "UPLOT_JS": "vendor/uplot/uPlot.iife.min.js",
    "CHARTS_JS": "ui/charts.js",
    "REPORT_JS": "ui/report.js",
}
REPORT_SHELL = "ui/report.html"
_PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")


def _page(html: str) -> Response:
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/")
def dashboard() -> Response:
    strategies = [
        {"name": name, "description": strategy.description} for name, strategy in STRATEGIES.items()
    ]
    return _page(
        render_template(
            "ui/dashboard.html",
            strategies=strategies,
            battery_fields=BATTERY_FIELDS,
            defaults=DEFAULT_VIEW,
            asset_version=asset_version(),
        )
    )


@bp.get("/docs")
def docs() -> Response:
    return _page(render_template("ui/docs.html", asset_version=asset_version()))


# --- the self-contained HTML report ----------------------------------------------------------


def view_from_payload(payload: Mapping[str, Any]) -> dict[str, str]:
    """The page's URL parameters for a POST /optimize body (shown in the report's title line)."""
    market = payload.get("market_params") or {}
    battery = payload.get("battery_params") or {}
    view = {
        "zone": market.get("zone"),
        "system": market.get("system"),
        "process": market.get("process"),
        "start": market.get("start_date"),
        "end": market.get("end_date"),
        "strategy": payload.get("strategy"),
        "horizon": payload.get("horizon"),
        **{name: battery.get(name) for name, _ in BATTERY_FIELDS},
    }
    return {key: str(value) for key, value in view.items() if value is not None}


def strategy_daily_revenues(
    payload: Mapping[str, Any],
    body: Mapping[str, Any],
    *,
    run: Callable[[dict[str, Any]], Mapping[str, Any]],
) -> dict[str, list[float]]:
    """Each other strategy's daily revenues on the same request (the cumulative chart's lines).

    ``run`` answers a POST /optimize body (e.g. ``run_optimize`` bound to a source). A
    strategy that fails is left out and logged; the report still shows the others.
    """
    revenues: dict[str, list[float]] = {}
    for name in STRATEGIES:
        if name == body["strategy"]:
            continue
        try:
            other = run({**payload, "strategy": name, "compare": False})
        except Exception:  # one strategy's failure must not lose the report
            logger.warning("strategy %s failed while building the report", name, exc_info=True)
            continue
        revenues[name] = [day["revenue"] for day in other["daily_schedules"]]
    return revenues


def render_report(
    result: Mapping[str, Any],
    *,
    view: Mapping[str, str] | None = None,
    strategies: Mapping[str, list[float]] | None = None,
    generated: str | None = None,
) -> str:
    """One HTML file showing ``result`` (a POST /optimize response) with no network access:
    the chart code, the styles and the data are inlined."""
    files = {key: (STATIC / path).read_text(encoding="utf-8") for key, path in REPORT_FILES.items()}
    for key, text in files.items():
        if key.endswith("_JS") and "</script" in text.lower():
            raise ValueError(f"{REPORT_FILES[key]} cannot be inlined in a <script> element")
    data = {
        "request": dict(view or {}),
        "result": result,
        "strategies": dict(strategies or {}),
        "generated": generated or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    # "<" escaped so that no "</script>" or "<!--" inside the data can end the element
    files["DATA"] = json.dumps(data, allow_nan=False, separators=(",", ":")).replace("<", "\\u003c")
    shell = (STATIC / REPORT_SHELL).read_text(encoding="utf-8")
    return _PLACEHOLDER.sub(lambda match: files.get(match[1], match[0]), shell)


def write_report(
    path: str | Path,
    payload: Mapping[str, Any],
    body: Mapping[str, Any],
    *,
    run: Callable[[dict[str, Any]], Mapping[str, Any]],
) -> None:
    """Write the report of ``body`` (the answer to ``payload``) to ``path``."""
    html = render_report(
        body,
        view=view_from_payload(payload),
        strategies=strategy_daily_revenues(payload, body, run=run),
    )
    Path(path).write_text(html, encoding="utf-8")
