"""The Lambda entry point: real-shaped API Gateway REST (payload 1.0) and HTTP API (payload
2.0) events through apig-wsgi, compared as whole responses."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
from dataclasses import dataclass
from typing import Any

import pytest
from apig_wsgi import make_lambda_handler
from flask import Flask

from optimizer import STRATEGIES
from schemas.response import OptimizeResponseSchema
from testkit.events import FIXTURES, REQUEST_ID, make_v1_event, make_v2_event, prd_request
from tests.conftest import PRD_REQUEST_2020


@dataclass
class LambdaContext:
    aws_request_id: str
    function_name: str = "battery-optimizer"


@pytest.fixture
def handler(app: Flask) -> Any:
    return make_lambda_handler(app)


def _json(obj: Any) -> str:
    """What the service writes: compact JSON, UTF-8 as is (orjson)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _v1_response(status: int, body: str, content_type: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "multiValueHeaders": {
            "Content-Type": [content_type],
            "Content-Length": [str(len(body.encode()))],
            "X-Request-ID": [REQUEST_ID],
        },
        "isBase64Encoded": False,
        "body": body,
    }


def _v2_response(status: int, body: str, content_type: str, **extra: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "cookies": [],
        "headers": {
            "content-type": content_type,
            "content-length": str(len(body.encode())),
            **extra,
            "x-request-id": REQUEST_ID,
        },
        "isBase64Encoded": False,
        "body": body,
    }


HEALTH = _json({"status": "ok", "price_source": "recorded"})


def test_health_v1(handler: Any) -> None:
    response = handler(make_v1_event(path="/health"), None)
    assert response == _v1_response(200, HEALTH, "application/json")


def test_health_v2(handler: Any) -> None:
    response = handler(make_v2_event(path="/health"), None)
    assert response == _v2_response(200, HEALTH, "application/json")


def test_strategies_v2(handler: Any) -> None:
    body = _json(
        {"strategies": [{"name": n, "description": s.description} for n, s in STRATEGIES.items()]}
    )
    response = handler(make_v2_event(path="/strategies"), None)
    assert response == _v2_response(200, body, "application/json")


def test_request_id_comes_from_the_lambda_context(handler: Any) -> None:
    context = LambdaContext(aws_request_id="0f6bd8c4-aaaa-bbbb-cccc-1234567890ab")
    response = handler(make_v2_event(path="/health"), context)
    assert response["headers"]["x-request-id"] == context.aws_request_id


def _without_runtimes(body: dict[str, Any]) -> dict[str, Any]:
    rows = body["comparison"] or []
    return {**body, "comparison": [{k: v for k, v in r.items() if k != "runtime_ms"} for r in rows]}


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("encoded", [False, True], ids=["text-body", "base64-body"])
def test_optimize_matches_the_wsgi_answer(
    app: Flask, handler: Any, version: str, encoded: bool
) -> None:
    text = json.dumps(PRD_REQUEST_2020)
    body = base64.b64encode(text.encode()).decode() if encoded else text
    factory = make_v1_event if version == "v1" else make_v2_event
    content_type = "Content-Type" if version == "v1" else "content-type"
    event = factory(
        method="POST",
        path="/optimize",
        headers={content_type: "application/json"},
        body=body,
        base64_body=encoded,
    )
    response = handler(event, None)
    expected = app.test_client().post("/optimize", json=PRD_REQUEST_2020)
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is False
    headers = response.get("headers") or {
        k: v[-1] for k, v in response["multiValueHeaders"].items()
    }
    assert {k.lower(): v for k, v in headers.items()} == {
        "content-type": "application/json",
        "content-length": str(len(response["body"].encode())),
        "vary": "Accept-Encoding",  # the client could have had it gzip-compressed
        "x-request-id": REQUEST_ID,
    }
    assert _without_runtimes(json.loads(response["body"])) == _without_runtimes(expected.get_json())


PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    ("event", "status", "problem", "extra_headers"),
    [
        (
            make_v2_event(path="/nowhere"),
            404,
            {
                "type": "about:blank",
                "title": "Not Found",
                "status": 404,
                "detail": "The requested URL was not found on the server. If you entered the "
                "URL manually please check your spelling and try again.",
            },
            {},
        ),
        (
            make_v2_event(method="DELETE", path="/optimize"),
            405,
            {
                "type": "about:blank",
                "title": "Method Not Allowed",
                "status": 405,
                "detail": "The method is not allowed for the requested URL.",
            },
            {"allow": "POST"},
        ),
        (
            make_v2_event(
                method="POST",
                path="/optimize",
                headers={"content-type": "application/json"},
                body='{"battery_params": ',
            ),
            400,
            {
                "type": "about:blank",
                "title": "Bad Request",
                "status": 400,
                "detail": "The request body is not valid JSON.",
            },
            {},
        ),
        (
            make_v2_event(
                method="POST",
                path="/optimize",
                headers={"content-type": "application/json"},
                body=json.dumps(
                    {**PRD_REQUEST_2020, "battery_params": {"capacity_mw": 10, "min_soc": 2}}
                ),
            ),
            422,
            {
                "type": "urn:battery-optimizer:problem:validation-error",
                "title": "Invalid request",
                "status": 422,
                "detail": "The request is well-formed JSON but some values are missing, of the "
                "wrong type, out of range or inconsistent; see errors.",
                "errors": {
                    "battery_params.duration_hours": ["Missing data for required field."],
                    "battery_params.min_soc": [
                        "Must be greater than or equal to 0 and less than or equal to 1."
                    ],
                },
            },
            {},
        ),
        (
            make_v2_event(
                method="POST",
                path="/optimize",
                headers={"content-type": "application/json"},
                body=json.dumps(
                    {
                        **PRD_REQUEST_2020,
                        "market_params": {**PRD_REQUEST_2020["market_params"], "zone": "NOWHERE"},
                    }
                ),
            ),
            404,
            {
                "type": "urn:battery-optimizer:problem:no-prices",
                "title": "No prices",
                "status": 404,
                "detail": "No prices for NOWHERE on 2020-08-01.",
            },
            {},
        ),
    ],
    ids=["404-route", "405", "400", "422", "404-no-prices"],
)
def test_errors_v2(
    handler: Any,
    event: dict[str, Any],
    status: int,
    problem: dict[str, Any],
    extra_headers: dict[str, str],
) -> None:
    response = handler(event, None)
    body = _json(problem)
    if "allow" in extra_headers:  # werkzeug lists every allowed method; order is not fixed
        allowed = set(response["headers"].pop("allow").split(", "))
        assert allowed == {"OPTIONS", "POST"}
        extra_headers = {}
    assert response == _v2_response(status, body, PROBLEM, **extra_headers)


def test_payload_too_large_v1(handler: Any) -> None:
    body = json.dumps({"junk": "x" * (2 * 1024 * 1024)})
    event = make_v1_event(
        method="POST", path="/optimize", headers={"Content-Type": "application/json"}, body=body
    )
    response = handler(event, None)
    assert response["statusCode"] == 413
    assert response["multiValueHeaders"]["Content-Type"] == [PROBLEM]
    assert json.loads(response["body"])["status"] == 413


def test_prd_example_through_the_deployed_handler() -> None:
    """The PRD's request, verbatim, through ``app.lambda_handler`` (the configured default
    source, synthetic, since PRICE_SOURCE is unset in tests)."""
    from app import lambda_handler

    request = prd_request()
    event = make_v2_event(
        method="POST",
        path="/optimize",
        headers={"content-type": "application/json"},
        body=json.dumps(request),
    )
    response = lambda_handler(event, LambdaContext(aws_request_id=REQUEST_ID))
    assert response["statusCode"] == 200, response["body"]
    assert response["headers"]["content-type"] == "application/json"
    body = json.loads(response["body"])
    assert OptimizeResponseSchema().validate(body) == {}
    assert list(body) == [
        "strategy", "horizon", "market", "daily_schedules", "summary", "comparison",
        "battery", "monthly",
    ]  # fmt: skip
    assert body["strategy"] == "optimal"
    assert body["horizon"] == "daily"
    assert body["market"] == {
        "zone": "APATZINGAN",
        "system": "SIN",
        "process": "MDA",
        "source": "synthetic",
        "start_date": "2024-01-01",
        "end_date": "2024-01-31",
        "currency": "MXN",
        "price_unit": "MXN/MWh",
        "forecast": "mean7",
    }
    days = body["daily_schedules"]
    assert [d["date"] for d in days] == [f"2024-01-{i:02d}" for i in range(1, 32)]
    for day in days:
        assert [step["hour"] for step in day["schedule"]] == list(range(24))
        assert set(day) == {
            "date", "schedule", "revenue", "energy_charged", "energy_discharged",
            "avg_charge_price", "avg_discharge_price", "cycles",
            "price_mean", "price_min", "price_max", "tb4_spread",
        }  # fmt: skip
    revenues = [d["revenue"] for d in days]
    assert body["summary"]["days"] == 31
    assert body["summary"]["total_revenue"] == pytest.approx(sum(revenues), rel=1e-9)
    assert body["summary"]["best_day"]["revenue"] == pytest.approx(max(revenues))
    assert body["summary"]["worst_day"]["revenue"] == pytest.approx(min(revenues))
    assert [row["strategy"] for row in body["comparison"]] == list(STRATEGIES)
    optimal = body["comparison"][0]
    assert optimal["pct_of_optimal"] == pytest.approx(100.0)
    assert optimal["total_revenue"] == pytest.approx(body["summary"]["total_revenue"])
    assert all(
        row["total_revenue"] <= optimal["total_revenue"] + 1e-6 for row in body["comparison"]
    )


def test_event_fixtures_are_what_the_factories_build() -> None:
    body = json.dumps(prd_request())
    expected = {
        "apigw_v1_optimize_event.json": make_v1_event(
            method="POST", path="/optimize", headers={"Content-Type": "application/json"},
            body=body,
        ),
        "apigw_v2_optimize_event.json": make_v2_event(
            method="POST", path="/optimize", headers={"content-type": "application/json"},
            body=body,
        ),
        "apigw_v2_health_event.json": make_v2_event(path="/health"),
    }  # fmt: skip
    assert {p.name for p in FIXTURES.glob("apigw_*_event.json")} == set(expected)
    for name, event in expected.items():
        assert json.loads((FIXTURES / name).read_text()) == event, name


@pytest.mark.parametrize(
    "name",
    ["apigw_v1_optimize_event.json", "apigw_v2_optimize_event.json", "apigw_v2_health_event.json"],
)
def test_event_fixtures_answer_200(name: str) -> None:
    from app import lambda_handler

    response = lambda_handler(json.loads((FIXTURES / name).read_text()), None)
    assert response["statusCode"] == 200, response["body"]
    assert response["isBase64Encoded"] is False
    if "optimize" in name:
        assert OptimizeResponseSchema().validate(json.loads(response["body"])) == {}


def _inline_year() -> dict[str, Any]:
    """366 days of inline prices (a leap year, 24 hours a day), optimal only."""
    start = dt.date(2024, 1, 1)
    prices = [{"date": (start + dt.timedelta(days=i)).isoformat(), "hour": h,
               "price": float(100 + 37 * ((i + 5 * h) % 11))}
              for i in range(366) for h in range(24)]  # fmt: skip
    return {"battery_params": PRD_REQUEST_2020["battery_params"],
            "market_params": {"prices": prices}, "compare": False}  # fmt: skip


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_gzip_when_the_client_accepts_it(app: Flask, version: str) -> None:
    """A gzip answer is base64 with isBase64Encoded (API Gateway decodes it for the client);
    it inflates to the same JSON as the identity answer."""
    handler = make_lambda_handler(app, binary_support=True)  # as app.lambda_handler
    factory = make_v1_event if version == "v1" else make_v2_event
    text = json.dumps(_inline_year())

    def call(accept: str) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept-Encoding": accept}
        response: dict[str, Any] = handler(
            factory(method="POST", path="/optimize", headers=headers, body=text), None
        )
        assert response["statusCode"] == 200
        return response

    def header(response: dict[str, Any], name: str) -> str | None:
        headers = response.get("headers") or {
            k: v[-1] for k, v in response["multiValueHeaders"].items()
        }
        return {k.lower(): v for k, v in headers.items()}.get(name)

    zipped, plain = call("gzip, deflate, br"), call("identity")
    assert zipped["isBase64Encoded"] is True
    assert header(zipped, "content-encoding") == "gzip"
    assert header(zipped, "vary") == "Accept-Encoding"
    raw = base64.b64decode(zipped["body"])
    assert int(header(zipped, "content-length") or 0) == len(raw)
    assert plain["isBase64Encoded"] is False
    assert header(plain, "content-encoding") is None
    inflated = gzip.decompress(raw).decode()
    assert _without_runtimes(json.loads(inflated)) == _without_runtimes(json.loads(plain["body"]))
    assert len(raw) * 5 < len(plain["body"])  # a year compresses well


def test_small_answers_are_not_compressed(app: Flask) -> None:
    handler = make_lambda_handler(app, binary_support=True)
    response = handler(make_v2_event(path="/health", headers={"accept-encoding": "gzip"}), None)
    assert response["isBase64Encoded"] is False
    assert "content-encoding" not in response["headers"]
    assert json.loads(response["body"]) == {"status": "ok", "price_source": "recorded"}


def test_a_million_zeros_get_a_small_422(handler: Any) -> None:
    """SPEC §13 / issue 10 point 1: a 2 MB list of zeros is refused on its length, with a
    small error body, through the Lambda handler."""
    body = {"battery_params": PRD_REQUEST_2020["battery_params"],
            "market_params": {"prices": [0] * 1_000_000}}  # fmt: skip
    text = json.dumps(body, separators=(",", ":"))
    assert len(text) < 2 * 1024 * 1024
    event = make_v2_event(method="POST", path="/optimize",
                          headers={"content-type": "application/json"}, body=text)  # fmt: skip
    response = handler(event, None)
    assert response["statusCode"] == 422
    problem = json.loads(response["body"])
    assert problem["errors"] == {"market_params.prices": ["Length must be between 1 and 9150."]}
    assert len(response["body"]) < 64 * 1024


def test_many_bad_items_list_50_errors_in_a_small_body(handler: Any) -> None:
    year = _inline_year()
    for item in year["market_params"]["prices"]:
        item["price"] = "x" * 100
    event = make_v2_event(method="POST", path="/optimize",
                          headers={"content-type": "application/json"},
                          body=json.dumps(year))  # fmt: skip
    response = handler(event, None)
    assert response["statusCode"] == 422
    errors = json.loads(response["body"])["errors"]
    assert len(errors) == 51  # 50 items and the count of the rest
    assert errors["market_params.prices.49.price"] == ["Not a valid number."]
    assert errors["market_params.prices"] == [
        "8734 more items have errors; only the first 50 are listed."
    ]
    assert len(response["body"]) < 64 * 1024
