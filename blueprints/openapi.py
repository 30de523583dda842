"""GET /openapi.json: the OpenAPI 3 document, generated from the marshmallow schemas.

The document declares the deployment's authentication (``API_AUTH``, set by terraform from its
``auth`` variable): the security scheme API Gateway applies (SigV4 for ``iam``, a bearer JWT
for ``jwt``) on the operations it authenticates, and an empty ``security`` on the public ones;
with ``none`` (the default, e.g. ``flask run``) no scheme at all."""

from __future__ import annotations

from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response, current_app

from blueprints import analysis
from blueprints.errors import PROBLEM_MIMETYPE
from schemas.request import OptimizeRequestSchema
from schemas.response import (
    HealthSchema,
    OptimizeResponseSchema,
    ProblemSchema,
    StrategiesSchema,
)

API_VERSION = "0.1.0"
TITLE = "Battery storage arbitrage optimizer"

bp = Blueprint("openapi", __name__)

#: name -> (status, description) of every problem response the API documents
PROBLEM_RESPONSES: dict[str, tuple[int, str]] = {
    "BadRequest": (
        400,
        "Body missing, not valid JSON, or not sent as JSON: a Content-Type other than "
        "application/json or application/*+json (such as application/problem+json), or none.",
    ),
    "NotFound": (404, "Unknown route."),
    "NoPrices": (404, "Zone or node unknown to the price source, or no prices for the dates."),
    "MethodNotAllowed": (405, "Method not allowed on this route (see the Allow header)."),
    "PayloadTooLarge": (413, "Body larger than MAX_CONTENT_LENGTH."),
    "ValidationFailed": (
        422,
        "Wrong types, missing or unknown fields, out-of-range or inconsistent values; "
        "`errors` maps each field path to its messages.",
    ),
    "InternalError": (500, "Unexpected failure; the body carries a request id, nothing else."),
    "UpstreamFailed": (502, "The price source failed, answered garbage or left hours missing."),
    "DeadlineExceeded": (
        503,
        "The request deadline (REQUEST_DEADLINE_S) passed while the schedule was being "
        "computed; answered within 0.5 s of it. Request fewer days or the daily horizon.",
    ),
    "UpstreamTimeout": (504, "The price source did not answer in time."),
}

_COMMON = ["MethodNotAllowed", "InternalError"]
#: the problems of every route that takes a JSON body and prices (POST /optimize, /sizing,
#: /siting)
BODY_PROBLEMS = (
    "BadRequest",
    "NoPrices",
    "PayloadTooLarge",
    "ValidationFailed",
    "UpstreamFailed",
    "DeadlineExceeded",
    "UpstreamTimeout",
)

#: API_AUTH values (terraform's var.auth)
AUTH_MODES = ("none", "iam", "jwt")
#: operations API Gateway authenticates when API_AUTH is iam or jwt (terraform/locals.tf
#: ``authenticated_routes``); every other operation is public
AUTHENTICATED_OPERATIONS = frozenset(
    {("post", "/optimize"), ("post", "/sizing"), ("post", "/siting")}
)
#: API_AUTH -> (scheme name, security scheme, API Gateway's rejection of an unauthenticated call)
SECURITY_SCHEMES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "iam": (
        "sigv4",
        {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "AWS Signature Version 4 (service `execute-api`), e.g. "
            "`curl --aws-sigv4 aws:amz:REGION:execute-api`; the caller needs "
            "`execute-api:Invoke` on the route.",
            "x-amazon-apigateway-authtype": "awsSigv4",
        },
        {
            "403": {
                "description": "Missing or invalid signature, or no `execute-api:Invoke` "
                'permission; answered by API Gateway as `{"message": "Forbidden"}`.'
            }
        },
    ),
    "jwt": (
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A token of the deployment's OIDC issuer whose audience is one of "
            "its configured audiences: `Authorization: Bearer <token>`.",
        },
        {
            "401": {
                "description": "Missing, expired or invalid token; answered by API Gateway as "
                '`{"message": "Unauthorized"}`.'
            }
        },
    ),
}

_PRD_BATTERY = {
    "capacity_mw": 10,
    "duration_hours": 4,
    "efficiency": 0.85,
    "min_soc": 0.1,
    "max_soc": 1.0,
}
REQUEST_EXAMPLES: dict[str, Any] = {
    "prd": {
        "summary": "The PRD example: a 10 MW / 40 MWh battery in APATZINGAN for January 2024",
        "value": {
            "battery_params": _PRD_BATTERY,
            "market_params": {
                "zone": "APATZINGAN",
                "start_date": "2024-01-01T00:00:00Z",
                "end_date": "2024-01-31T23:59:59Z",
            },
            "strategy": "optimal",
        },
    },
    "inline": {
        "summary": "Your own prices for one day (SPEC test vector; optimum 2957.14 MXN)",
        "value": {
            "battery_params": {**_PRD_BATTERY, "initial_soc": 0.1},
            "market_params": {
                "prices": [
                    {"date": "2024-01-01", "hour": hour, "price": price}
                    for hour, price in enumerate(
                        [20, 15, 10, 12, 15, 25, 40, 60, 55, 40, 35, 30,
                         25, 20, 18, 25, 60, 90, 85, 70, 50, 40, 30, 25]
                    )
                ]
            },
            "compare": False,
        },
    },
}  # fmt: skip


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


@cache
def build_spec(auth: str = "none") -> dict[str, Any]:
    """The OpenAPI document for a deployment whose ``API_AUTH`` is ``auth`` (built once per
    process and value; it depends only on code and ``auth``)."""
    if auth not in AUTH_MODES:
        raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}, not {auth!r}")
    spec = APISpec(
        title=TITLE,
        version=API_VERSION,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Revenue-maximising charge/discharge schedules for a battery in "
            "Mexico's wholesale power market (CENACE local marginal prices, MXN/MWh). "
            "Every error is RFC 9457 problem+json."
        },
    )
    spec.components.schema("OptimizeRequest", schema=OptimizeRequestSchema)
    spec.components.schema("OptimizeResponse", schema=OptimizeResponseSchema)
    spec.components.schema("Health", schema=HealthSchema)
    spec.components.schema("Strategies", schema=StrategiesSchema)
    spec.components.schema("Problem", schema=ProblemSchema)
    for name, (_status, description) in PROBLEM_RESPONSES.items():
        spec.components.response(
            name,
            {"description": description, "content": {PROBLEM_MIMETYPE: {"schema": "Problem"}}},
        )

    def responses(ok: str, ok_description: str, *problems: str) -> dict[str, Any]:
        out: dict[str, Any] = {"200": {"description": ok_description, "content": _json(ok)}}
        for name in (*problems, *_COMMON):
            out[str(PROBLEM_RESPONSES[name][0])] = name
        return out

    spec.path(
        path="/optimize",
        operations={
            "post": {
                "summary": "Optimise a battery's schedule over a market and date range",
                "operationId": "optimize",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": "OptimizeRequest",
                            "examples": REQUEST_EXAMPLES,
                        }
                    },
                },
                "responses": responses(
                    "OptimizeResponse",
                    "Schedules, economics and the strategy comparison.",
                    *BODY_PROBLEMS,
                ),
            }
        },
    )
    spec.path(
        path="/health",
        operations={
            "get": {
                "summary": "Liveness (no upstream call)",
                "operationId": "health",
                "responses": responses("Health", "The service is up."),
            }
        },
    )
    spec.path(
        path="/strategies",
        operations={
            "get": {
                "summary": "Available strategies",
                "operationId": "strategies",
                "responses": responses("Strategies", "Names and one-line descriptions."),
            }
        },
    )
    spec.path(
        path="/openapi.json",
        operations={
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3 document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **{str(PROBLEM_RESPONSES[n][0]): n for n in _COMMON},
                },
            }
        },
    )
    analysis.register_openapi(spec, responses, BODY_PROBLEMS)  # POST /sizing, /siting, /zones
    document: dict[str, Any] = spec.to_dict()
    analysis.amend_openapi(document)  # POST /optimize as text/csv
    declare_security(document, auth)
    return document


def declare_security(document: dict[str, Any], auth: str) -> None:
    """Add the security scheme of ``auth`` and each operation's ``security`` to ``document``."""
    if auth not in SECURITY_SCHEMES:
        return
    name, scheme, rejection = SECURITY_SCHEMES[auth]
    document.setdefault("components", {})["securitySchemes"] = {name: scheme}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if (method, path) in AUTHENTICATED_OPERATIONS:
                operation["security"] = [{name: []}]
                operation["responses"].update(rejection)
            else:
                operation["security"] = []


@bp.get("/openapi.json")
def openapi() -> Response:
    document = build_spec(current_app.config.get("API_AUTH", "none"))
    return Response(current_app.json.dumps(document), mimetype="application/json")
