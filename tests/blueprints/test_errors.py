"""Every error path of the service, pinned in one table: status, problem type and title,
problem+json content type, and nothing internal in the body."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask, request

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
    ("400-content-type", None, "POST", "/optimize",
     {"data": json.dumps(PRD_REQUEST_2020), "content_type": "text/plain"},
     400, "about:blank", "Bad Request", set()),
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


# --- a body not sent as JSON: 400, never 415 ---------------------------------------------------

#: every route that takes a POST body (each reads it as JSON), from the app's own URL map
POST_PATHS = sorted(
    rule.rule
    for rule in create_app({"TESTING": True}).url_map.iter_rules()
    if "POST" in (rule.methods or ())
)
FIX = "send the body as JSON with the header Content-Type: application/json."
#: Content-Type header (None: not sent) -> the 400's detail
NOT_JSON: dict[str | None, str] = {
    "text/plain": f"The request body was sent as text/plain, not JSON; {FIX}",
    "text/plain; charset=utf-8": f"The request body was sent as text/plain, not JSON; {FIX}",
    "application/x-www-form-urlencoded": (
        f"The request body was sent as application/x-www-form-urlencoded, not JSON; {FIX}"
    ),
    "text/json": f"The request body was sent as text/json, not JSON; {FIX}",
    None: f"The request has no Content-Type header, so its body is not read as JSON; {FIX}",
}
#: media types read as JSON: application/json and any application/*+json (RFC 6839)
JSON_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/problem+json",
    "application/merge-patch+json",
]


def test_the_post_routes_are_the_three_that_take_a_json_body() -> None:
    assert POST_PATHS == ["/optimize", "/siting", "/sizing"]


def not_json_problem(content_type: str | None) -> dict[str, Any]:
    """The whole 400 problem for a body sent with ``content_type`` (None: no header)."""
    return {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": NOT_JSON[content_type],
    }


@pytest.mark.parametrize("content_type", list(NOT_JSON), ids=[str(t) for t in NOT_JSON])
@pytest.mark.parametrize("path", POST_PATHS)
def test_a_body_not_sent_as_json_is_a_400_problem(
    client: Any, path: str, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = client.post(path, data=json.dumps(PRD_REQUEST_2020), headers=headers)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json() == not_json_problem(content_type)


@pytest.mark.parametrize("content_type", JSON_TYPES)
@pytest.mark.parametrize("path", POST_PATHS)
def test_json_media_types_are_read_as_json(client: Any, path: str, content_type: str) -> None:
    # an empty object: read as JSON, then refused by the schema (422), not by its media type
    response = client.post(path, data="{}", headers={"Content-Type": content_type})
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == V + "validation-error"


def test_a_long_media_type_is_quoted_cut_short(client: Any) -> None:
    mimetype = "application/" + "x" * 5000
    response = client.post("/optimize", data="{}", headers={"Content-Type": mimetype})
    assert response.status_code == 400
    detail = response.get_json()["detail"]
    assert detail == f"The request body was sent as {mimetype[:100]}..., not JSON; {FIX}"


def test_the_bodies_that_are_not_json_each_say_why() -> None:
    """Too large (413, checked first), empty, not sent as JSON and malformed: four details."""
    app = create_app({"TESTING": True, "MAX_CONTENT_LENGTH": 1000})
    client = app.test_client()
    sent = {
        "too-large": client.post("/optimize", data="x" * 2000, content_type="text/plain"),
        "empty": client.post("/optimize", data="  ", content_type="text/plain"),
        "not-sent-as-json": client.post("/optimize", data="{}", content_type="text/plain"),
        "malformed": client.post("/optimize", data="{'a': 1}", content_type="application/json"),
    }
    statuses = {name: response.status_code for name, response in sent.items()}
    assert statuses == {"too-large": 413, "empty": 400, "not-sent-as-json": 400, "malformed": 400}
    details = {name: response.get_json()["detail"] for name, response in sent.items()}
    assert len(set(details.values())) == len(details)
    assert details["not-sent-as-json"] == NOT_JSON["text/plain"]
    assert details["malformed"] == "The request body is not valid JSON."
    assert details["empty"] == "The request body is empty; send a JSON object."
    assert all(r.mimetype == "application/problem+json" for r in sent.values())


def test_a_415_raised_by_werkzeug_is_answered_as_the_same_400() -> None:
    """A route reading its body with Flask's ``request.get_json()`` (which raises 415 for a
    body not sent as JSON) answers like the service's own routes."""
    app = create_app({"TESTING": True})

    def echo() -> Any:
        return {"got": request.get_json()}

    app.add_url_rule("/echo", "echo", echo, methods=["POST"])
    response = app.test_client().post("/echo", data="{}", content_type="text/plain")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json() == not_json_problem("text/plain")
    assert app.test_client().post("/echo", json={"a": 1}).get_json() == {"got": {"a": 1}}
