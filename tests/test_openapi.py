"""/openapi.json: the document itself, and schemathesis fuzzing the app in-process against it
(no server error, every response conforming to the documented status codes, content types
and schemas)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from app import create_app
from blueprints.openapi import AUTHENTICATED_OPERATIONS, PROBLEM_RESPONSES, build_spec
from optimizer import STRATEGIES

#: the configured default source (synthetic: PRICE_SOURCE is unset in tests), so the documented
#: examples (the PRD request for APATZINGAN, January 2024) answer 200 and their bodies are
#: checked against the response schema too
APP = create_app({"TESTING": True})

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20240101,
        "generation": {"mode": "all", "max-examples": 60},
        "checks": {
            # Data the OpenAPI schema allows can still break a cross-field rule (min < max,
            # date order, inline hours) or name a zone the source does not know: 404/422 are
            # correct answers to valid-looking input, anything else (400/5xx) is not.
            "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "422"]},
        },
    }
)
schema = schemathesis.openapi.from_wsgi("/openapi.json", APP, config=CONFIG)


@pytest.mark.slow
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_openapi_document(case: Any) -> None:
    # the in-process WSGI transport does not decompress: ask for the identity encoding (gzip
    # answers are checked in tests/test_lambda.py)
    case.call_and_validate(headers={"Accept-Encoding": "identity"})


def _document() -> dict[str, Any]:
    response = APP.test_client().get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document: dict[str, Any] = response.get_json()
    return document


def test_document_lists_every_route_and_error() -> None:
    doc = _document()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {"/optimize", "/health", "/strategies", "/openapi.json",
                                 "/sizing", "/siting", "/zones"}  # fmt: skip
    optimize = doc["paths"]["/optimize"]["post"]
    statuses = set(optimize["responses"])
    assert statuses == {"200", "400", "404", "405", "413", "422", "500", "502", "503", "504"}
    for name, (status, _description) in PROBLEM_RESPONSES.items():
        response = doc["components"]["responses"][name]
        assert response["content"]["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"
        }, (name, status)
    for path in ("/health", "/strategies", "/openapi.json"):
        assert {"200", "405", "500"} <= set(doc["paths"][path]["get"]["responses"])


def test_a_body_not_sent_as_json_is_documented_as_a_400_not_a_415() -> None:
    doc = _document()
    assert 415 not in {status for status, _description in PROBLEM_RESPONSES.values()}
    assert "UnsupportedMediaType" not in doc["components"]["responses"]
    for (method, path), operation in _operations(doc).items():
        assert "415" not in operation["responses"], (method, path)
        if "requestBody" in operation:
            assert operation["responses"]["400"] == {"$ref": "#/components/responses/BadRequest"}
    assert {path for (method, path) in _operations(doc) if method == "post"} == {
        "/optimize",
        "/sizing",
        "/siting",
    }
    description = doc["components"]["responses"]["BadRequest"]["description"]
    assert "not sent as JSON" in description
    assert "application/*+json" in description


def test_document_is_generated_from_the_schemas() -> None:
    schemas = _document()["components"]["schemas"]
    request = schemas["OptimizeRequest"]
    assert set(request["required"]) == {"battery_params", "market_params"}
    assert request["properties"]["strategy"]["enum"] == list(STRATEGIES)
    assert request["additionalProperties"] is False
    battery = schemas["BatteryParams"]
    assert set(battery["properties"]) == {
        "capacity_mw", "duration_hours", "efficiency", "charge_efficiency",
        "discharge_efficiency", "min_soc", "max_soc", "initial_soc",
        "degradation_cost_per_mwh", "max_cycles_per_day",
    }  # fmt: skip
    assert battery["properties"]["capacity_mw"]["minimum"] == 0.001
    assert battery["properties"]["min_soc"]["minimum"] == 0
    market = schemas["MarketParams"]
    assert market["properties"]["zone"]["pattern"] == "^[A-Z0-9 .-]{1,64}$"  # 08CHB-34.5
    assert market["properties"]["system"]["enum"] == ["SIN", "BCA", "BCS"]
    day = schemas["DaySchedule"]
    assert day["properties"]["avg_charge_price"]["nullable"] is True
    assert schemas["HourStep"]["properties"]["action"]["enum"] == ["charge", "discharge", "idle"]
    examples = _document()["paths"]["/optimize"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"]
    assert examples["prd"]["value"]["market_params"]["zone"] == "APATZINGAN"
    problem = schemas["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}


def test_documented_examples_answer_200() -> None:
    examples = _document()["paths"]["/optimize"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"]
    for name, example in examples.items():
        response = APP.test_client().post("/optimize", json=example["value"])
        assert response.status_code == 200, (name, response.get_json())
    inline = APP.test_client().post("/optimize", json=examples["inline"]["value"]).get_json()
    assert inline["summary"]["total_revenue"] == pytest.approx(2957.14, abs=0.01)


# --- security: the deployment's authentication (API_AUTH, terraform's var.auth) -------------


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }


def test_without_authentication_no_security_is_declared() -> None:
    document = _document()  # API_AUTH unset: none
    assert "securitySchemes" not in document["components"]
    assert all("security" not in op for op in _operations(document).values())


@pytest.mark.parametrize(
    ("auth", "scheme_name", "scheme", "rejection"),
    [
        ("iam", "sigv4", {"type": "apiKey", "in": "header", "name": "Authorization"}, "403"),
        ("jwt", "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}, "401"),
    ],
)
def test_the_deployments_security_scheme_guards_the_post_routes(
    monkeypatch: pytest.MonkeyPatch,
    auth: str,
    scheme_name: str,
    scheme: dict[str, str],
    rejection: str,
) -> None:
    monkeypatch.setenv("API_AUTH", auth.upper())
    response = create_app({"TESTING": True}).test_client().get("/openapi.json")
    document = response.get_json()
    (declared,) = document["components"]["securitySchemes"].items()
    assert declared[0] == scheme_name
    assert scheme.items() <= declared[1].items()
    operations = _operations(document)
    assert ("post", "/optimize") in operations
    assert ("get", "/health") in operations
    for key, operation in operations.items():
        if key in AUTHENTICATED_OPERATIONS:
            assert operation["security"] == [{scheme_name: []}], key
            assert rejection in operation["responses"], key
        else:
            assert operation["security"] == [], key
            assert {"401", "403"}.isdisjoint(operation["responses"]), key


def test_an_unknown_auth_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="auth"):
        build_spec("basic")
