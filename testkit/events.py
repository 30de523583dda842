"""What the service is called with, built in one place: real-shaped API Gateway events (REST
API payload 1.0 and HTTP API payload 2.0, as apig-wsgi receives them) and the PRD's example
request. Keyword-only factories returning fresh dicts; tests compare whole dicts against them.

Imported by the tests and by the bench scripts (which put the repository
root on ``sys.path``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: the API Gateway request id of every event unless a test chooses its own
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
API_HOST = "abc123.execute-api.us-east-1.amazonaws.com"

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
#: the PRD's example request, verbatim (also what the curl fixtures send)
_PRD_REQUEST_TEXT = (FIXTURES / "prd_request.json").read_text()


def prd_request(*, start_date: str | None = None, end_date: str | None = None) -> dict[str, Any]:
    """The PRD's example request (APATZINGAN, January 2024, ``optimal``), a fresh copy each
    call; ``start_date``/``end_date`` replace its market dates."""
    request: dict[str, Any] = json.loads(_PRD_REQUEST_TEXT)
    if start_date is not None:
        request["market_params"]["start_date"] = start_date
    if end_date is not None:
        request["market_params"]["end_date"] = end_date
    return request


def make_v1_event(
    *,
    method: str = "GET",
    path: str = "/",
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: str | None = None,
    base64_body: bool = False,
    request_id: str = REQUEST_ID,
) -> dict[str, Any]:
    """An API Gateway REST API proxy event (payload 1.0), as the `prod` stage sends it."""
    headers = {"Host": API_HOST, **(headers or {})}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": (
            None if query is None else {key: [value] for key, value in query.items()}
        ),
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
            "path": f"/prod{path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": "24/Nov/2026:13:00:00 +0000",
            "requestTimeEpoch": 1795525200000,
            "resourceId": "xyz789",
            "resourcePath": "/{proxy+}",
            "stage": "prod",
        },
        "body": body,
        "isBase64Encoded": base64_body,
    }


def make_v2_event(
    *,
    method: str = "GET",
    path: str = "/",
    query_string: str = "",
    headers: dict[str, str] | None = None,
    body: str | None = None,
    base64_body: bool = False,
    request_id: str = REQUEST_ID,
    route_key: str = "$default",
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API event (payload 2.0) for the `$default` stage; ``route_key`` is
    ``"$default"`` for the catch-all route or ``"METHOD /path"`` for an explicit one, and
    ``authorizer`` what an authorizer (e.g. IAM) put into the request context."""
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "abc123",
        "domainName": API_HOST,
        "domainPrefix": "abc123",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.7",
            "userAgent": "curl/8.5.0",
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": "24/Nov/2026:13:00:00 +0000",
        "timeEpoch": 1795525200000,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query_string,
        "headers": {
            "host": API_HOST,
            "user-agent": "curl/8.5.0",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            **(headers or {}),
        },
        "requestContext": context,
        "isBase64Encoded": base64_body,
    }
    if body is not None:
        event["body"] = body
    return event
