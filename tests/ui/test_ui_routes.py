"""The ui blueprint without a browser: pages, static files, the vendored code's pins and
licences, and the HTML report renderer."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from blueprints import ui
from scripts import vendor_frontend
from testkit.browser import synthetic_app
from testkit.events import make_v2_event


@pytest.fixture(scope="module")
def client() -> FlaskClient:
    return synthetic_app().test_client()


def _get(client: FlaskClient, url: str) -> TestResponse:
    """GET ``url``, its body buffered and the file behind it closed (static files are streamed
    from open files; an unclosed one is a ResourceWarning, an error in this suite)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def test_the_dashboard_page_links_only_files_that_exist(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    html = page.get_data(as_text=True)
    links = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert len(links) >= 5
    for link in links:
        assert _get(client, link).status_code == 200, link
    assert "http://" not in html
    assert "https://" not in html


def test_the_page_carries_the_prd_example_and_every_strategy(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    defaults = json.loads(re.search(r"data-defaults='([^']+)'", html)[1])  # type: ignore[index]
    assert defaults == ui.DEFAULT_VIEW
    assert (defaults["zone"], defaults["start"], defaults["end"]) == (
        "APATZINGAN",
        "2024-01-01",
        "2024-01-31",
    )
    strategies = client.get("/strategies").get_json()["strategies"]
    for strategy in strategies:
        assert f'<option value="{strategy["name"]}"' in html


def test_docs_serves_swagger_ui_over_the_apps_openapi_document(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    script = _get(client, "/static/ui/docs.js").get_data(as_text=True)
    assert '"openapi.json"' in script
    assert "validatorUrl: null" in script


def test_unknown_static_files_are_problem_404s(client: FlaskClient) -> None:
    response = client.get("/static/ui/nope.js")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert client.get("/static/../app.py").status_code == 404


def test_the_vendored_files_match_their_pins_and_carry_licences() -> None:
    assert vendor_frontend.check() == []
    manifest = json.loads(vendor_frontend.MANIFEST.read_text())
    for package in vendor_frontend.PACKAGES:
        assert "LICENSE" in manifest[package.folder]["files"]
        assert (vendor_frontend.VENDOR / package.folder / "LICENSE").stat().st_size > 500


def test_a_modified_vendored_file_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "vendor"
    shutil.copytree(vendor_frontend.VENDOR, copy)
    monkeypatch.setattr(vendor_frontend, "VENDOR", copy)
    monkeypatch.setattr(vendor_frontend, "MANIFEST", copy / "vendor.json")
    (copy / "uplot" / "uPlot.iife.min.js").write_text("/* changed */")
    assert vendor_frontend.check() == ["uplot/uPlot.iife.min.js: missing or modified"]


def _result() -> dict[str, Any]:
    schedule = [
        {"hour": h, "action": "idle", "power": 0.0, "price": 100.0 + h, "soc": 0.1}
        for h in range(24)
    ]
    return {
        "strategy": "optimal",
        "horizon": "daily",
        "market": {"zone": "</script><script>alert(1)</script>", "source": "inline"},
        "daily_schedules": [
            {"date": "2024-01-01", "schedule": schedule, "revenue": 0.0,
             "energy_charged": 0.0, "energy_discharged": 0.0}
        ],
        "summary": {"total_revenue": 0.0},
        "comparison": [],
    }  # fmt: skip


def test_the_report_inlines_everything_and_escapes_the_data() -> None:
    html = ui.render_report(_result(), view={"zone": "X"}, strategies={"dp": [1.5]})
    assert "@@" not in html
    assert "<script src=" not in html
    assert "<link " not in html.replace('<link rel="icon"', "")
    for path in ui.REPORT_FILES.values():
        text = (ui.STATIC / path).read_text(encoding="utf-8")
        assert text in html, path
    # the data cannot close its <script> element: the only "</script>" are the real ones
    assert html.count("</script>") == html.count("<script")
    data = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', html, re.S)
    assert data is not None
    decoded = json.loads(data[1])
    assert decoded["result"] == _result()
    assert decoded["strategies"] == {"dp": [1.5]}
    assert decoded["request"] == {"zone": "X"}


def test_view_from_payload_uses_the_page_parameter_names() -> None:
    payload = {
        "battery_params": {"capacity_mw": 5, "duration_hours": 2, "efficiency": 0.9},
        "market_params": {
            "zone": "MONTERREY",
            "start_date": "2024-03-01",
            "end_date": "2024-03-02",
        },
        "strategy": "dp",
    }
    assert ui.view_from_payload(payload) == {
        "zone": "MONTERREY",
        "start": "2024-03-01",
        "end": "2024-03-02",
        "strategy": "dp",
        "capacity_mw": "5",
        "duration_hours": "2",
        "efficiency": "0.9",
    }
    assert set(ui.view_from_payload(payload)) <= set(ui.DEFAULT_VIEW)


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [
        ("/", "text/html"),
        ("/docs", "text/html"),
        ("/static/ui/charts.js", "text/javascript"),
        ("/static/vendor/uplot/uPlot.min.css", "text/css"),
        ("/static/vendor/swagger-ui/swagger-ui-bundle.js", "text/javascript"),
    ],
    ids=["dashboard", "docs", "charts-js", "uplot-css", "swagger-js"],
)
def test_the_pages_and_files_come_through_the_lambda_handler_as_text(
    path: str, mimetype: str
) -> None:
    from app import lambda_handler

    response = lambda_handler(make_v2_event(method="GET", path=path), None)
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"].split(";")[0] == mimetype
    assert response["isBase64Encoded"] is False
    if path.startswith("/static/"):
        assert response["body"] == (ui.STATIC / path.removeprefix("/static/")).read_text("utf-8")
    assert len(response["body"].encode()) < 6 * 1024 * 1024  # Lambda's response limit


def test_versioned_static_urls_may_be_cached_and_others_are_revalidated(
    client: FlaskClient,
) -> None:
    html = client.get("/").get_data(as_text=True)
    links = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert links
    assert all(link.endswith(f"?v={ui.asset_version()}") for link in links)
    versioned = _get(client, links[0])
    assert versioned.headers["Cache-Control"] == f"public, max-age={ui.IMMUTABLE_MAX_AGE_S}"
    for stale in (links[0].split("?")[0], links[0].split("?")[0] + "?v=old"):
        assert _get(client, stale).headers["Cache-Control"] == "no-cache", stale


def _shipped_files(root: Path) -> set[str]:
    return {
        path.relative_to(root).as_posix()
        for folder in ("static", "templates")
        for path in (root / folder).rglob("*")
        if path.is_file()
    }


def test_the_lambda_package_and_the_wheel_carry_every_page_file(tmp_path: Path) -> None:
    from scripts.package_lambda import REPO, copy_app

    source = REPO / "blueprints"
    expected = _shipped_files(source)
    assert {"static/vendor/uplot/LICENSE", "templates/ui/dashboard.html"} <= expected
    copy_app(source=REPO, site=tmp_path)
    assert _shipped_files(tmp_path / "blueprints") == expected
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["blueprints"]
    packaged = {
        path.relative_to(source).as_posix()
        for pattern in patterns
        for path in source.glob(pattern)
        if path.is_file()
    }
    assert packaged >= expected
