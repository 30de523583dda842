"""Every error path of the service, pinned in one table: status, problem type and title,
problem+json content type, and nothing internal in the body."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from app import create_app
from blueprints.errors import flatten_messages
from optimizer import (
    DeadlineExceededError,
    InvalidBatteryError,
    InvalidPricesError,
    SolverError,
    UnknownStrategyError,
)
from prices import NoPricesError, UpstreamError, UpstreamTimeoutError
from tests.conftest import PRD_REQUEST_2020, FailingSource, RecordedSource

SECRET = "db-password-hunter2 /var/task/app.py line 42"
V = "urn:battery-optimizer:problem:"


def _request(**market: Any) -> dict[str, Any]:
    return {**PRD_REQUEST_2020, "market_params": {**PRD_REQUEST_2020["market_params"], **market}}


# (id, source error or None for the recorded source, method, path, kwargs for the client,
#  status, type, title, extra body keys)
CASES: list[tuple[str, Exception | None, str, str, dict[str, Any], int, str, str, set[str]]] = [
    ("400-empty-body", None, "POST", "/optimize", {"data": "", "content_type": "application/json"},
     400, "about:blank", "Bad Request", set()),
    ("400-not-json", None, "POST", "/optimize",
     {"data": "{'a': 1}", "content_type": "application/json"},
     400, "about:blank", "Bad Request", set()),
    ("404-route", None, "GET", "/nowhere", {}, 404, "about:blank", "Not Found", set()),
    ("404-no-prices", None, "POST", "/optimize", {"json": _request(zone="NOWHERE")},
     404, V + "no-prices", "No prices", set()),
    ("405-method", None, "GET", "/optimize", {}, 405, "about:blank", "Method Not Allowed", set()),
    ("413-too-large", None, "POST", "/optimize",
     {"data": "[" + "1," * 1_100_000 + "1]", "content_type": "application/json"},
     413, "about:blank", "Request Entity Too Large", set()),
    ("415-content-type", None, "POST", "/optimize",
     {"data": json.dumps(PRD_REQUEST_2020), "content_type": "text/plain"},
     415, "about:blank", "Unsupported Media Type", set()),
    ("422-validation", None, "POST", "/optimize", {"json": _request(zone="lower case")},
     422, V + "validation-error", "Invalid request", {"errors"}),
    ("422-battery-from-optimizer", InvalidBatteryError("min_soc", "must be less than max_soc"),
     "POST", "/optimize", {"json": PRD_REQUEST_2020}, 422, V + "validation-error",
     "Invalid request", {"errors"}),
    ("422-prices-from-optimizer", InvalidPricesError("2020-08-01: 22 hours"), "POST", "/optimize",
     {"json": PRD_REQUEST_2020}, 422, V + "validation-error", "Invalid request", {"errors"}),
    ("422-unknown-strategy", UnknownStrategyError("unknown strategy 'x'"), "POST", "/optimize",
     {"json": PRD_REQUEST_2020}, 422, V + "validation-error", "Invalid request", {"errors"}),
    ("404-source", NoPricesError("No prices for APATZINGAN."), "POST", "/optimize",
     {"json": PRD_REQUEST_2020}, 404, V + "no-prices", "No prices", set()),
    ("502-source", UpstreamError("The price source answered HTTP 500."), "POST", "/optimize",
     {"json": PRD_REQUEST_2020}, 502, V + "price-source-failed", "Price source failed", set()),
    ("504-source", UpstreamTimeoutError("The price source did not answer within 15 s."), "POST",
     "/optimize", {"json": PRD_REQUEST_2020}, 504, V + "price-source-timeout",
     "Price source timed out", set()),
    ("500-solver", SolverError(SECRET), "POST", "/optimize", {"json": PRD_REQUEST_2020},
     500, V + "internal-error", "Internal Server Error", {"request_id"}),
    ("503-deadline", DeadlineExceededError("the deadline passed after 3 of 7 steps"),
     "POST", "/optimize", {"json": PRD_REQUEST_2020}, 503, V + "solver-time-budget",
     "Request deadline exceeded", set()),
    ("500-bug", RuntimeError(SECRET), "POST", "/optimize", {"json": PRD_REQUEST_2020},
     500, V + "internal-error", "Internal Server Error", {"request_id"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("source_error", "method", "path", "kwargs", "status", "type_", "title", "extra"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_every_error_is_problem_json(
    recorded_source: RecordedSource,
    source_error: Exception | None,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    type_: str,
    title: str,
    extra: set[str],
) -> None:
    source = recorded_source if source_error is None else FailingSource(source_error)
    app = create_app({"TESTING": True, "PRICE_SOURCE_OBJECT": source})
    response = app.test_client().open(path, method=method, **kwargs)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert set(body) == {"type", "title", "status", "detail"} | extra
    assert (body["type"], body["title"], body["status"]) == (type_, title, status)
    assert isinstance(body["detail"], str)
    assert body["detail"]
    text = response.get_data(as_text=True)
    assert SECRET not in text
    assert "Traceback" not in text
    assert "<html" not in text.lower()
    if status == 500:
        assert body["request_id"] == response.headers["X-Request-ID"]
        assert body["request_id"] in body["detail"]
    if isinstance(source_error, (NoPricesError, UpstreamError, UpstreamTimeoutError)):
        assert body["detail"] == source_error.detail


def test_405_lists_the_allowed_methods(client: Any) -> None:
    response = client.put("/health")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_500_is_logged_with_its_request_id(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app({"TESTING": True, "PRICE_SOURCE_OBJECT": FailingSource(RuntimeError(SECRET))})
    response = app.test_client().post("/optimize", json=PRD_REQUEST_2020)
    rid = response.get_json()["request_id"]
    records = [r for r in caplog.records if r.levelname == "ERROR"]
    assert any(rid in r.getMessage() and r.exc_info for r in records)


def test_battery_error_from_the_optimizer_names_the_field(app: Flask) -> None:
    app.extensions["price_source"] = FailingSource(InvalidBatteryError("initial_soc", "too low"))
    body = app.test_client().post("/optimize", json=PRD_REQUEST_2020).get_json()
    assert body["errors"] == {"battery_params.initial_soc": ["too low"]}


@pytest.mark.parametrize(
    ("messages", "flat"),
    [
        ({"a": ["m"]}, {"a": ["m"]}),
        ({"a": {"b": ["m1", "m2"]}}, {"a.b": ["m1", "m2"]}),
        ({"_schema": ["Invalid input type."]}, {"body": ["Invalid input type."]}),
        ({"a": {"_schema": ["whole"], "c": ["x"]}}, {"a": ["whole"], "a.c": ["x"]}),
        ({"p": {3: {"hour": ["bad"]}, "_schema": ["gap"]}}, {"p.3.hour": ["bad"], "p": ["gap"]}),
        (["top"], {"body": ["top"]}),
    ],
    ids=["flat", "nested", "root-schema", "nested-schema", "list-index", "bare-list"],
)
def test_flatten_messages(messages: Any, flat: dict[str, list[str]]) -> None:
    assert flatten_messages(messages) == flat


def test_deadline_passed_end_to_end_is_a_503(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import optimizer.strategies.optimal as optimal

    # a deadline already in the past: optimal gives up at its first check
    original = optimal.Optimal.dispatch

    def late(
        self: Any, days: Any, battery: Any, *, horizon: Any, deadline_s: Any = None, **more: Any
    ) -> Any:
        return original(self, days, battery, horizon=horizon, deadline_s=-1.0, **more)

    monkeypatch.setattr(optimal.Optimal, "dispatch", late)
    prices = [
        {"date": "2024-01-01", "hour": h, "price": -300.0 - 40.0 * (h % 5)} for h in range(24)
    ]
    body = {
        "battery_params": {"capacity_mw": 10, "duration_hours": 4, "efficiency": 0.85},
        "market_params": {
            "start_date": "2024-01-01",
            "end_date": "2024-01-01",
            "prices": prices,
        },
    }
    response = client.post("/optimize", json=body)
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    problem_body = response.get_json()
    assert problem_body["type"] == V + "solver-time-budget"
    assert "deadline" in problem_body["detail"]
