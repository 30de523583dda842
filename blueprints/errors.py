"""One error shape for the whole service: RFC 9457 problem details (``application/problem+json``).

``register_error_handlers(app)`` installs handlers for HTTP errors (400/404/405/413 ...),
validation errors (422), price-source errors (404/502/504, from the error's ``status``),
optimizer input errors (422) and a last-resort 500 that logs the exception and returns only a
request id.

A body not sent as JSON is a 400 like any other body that is not JSON (SPEC: "body missing or
not JSON"), never a 415: ``blueprints.api.read_json_body`` raises it with ``not_json_detail``,
and a 415 raised anywhere else (Werkzeug's ``Request.get_json``) is answered the same way.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, has_request_context, json, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, UnsupportedMediaType

from optimizer import (
    DeadlineExceededError,
    InvalidBatteryError,
    InvalidPricesError,
    OptimizerError,
    UnknownStrategyError,
)
from prices import PriceSourceError

logger = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"
REQUEST_ID_HEADER = "X-Request-ID"
_PROBLEM_BASE = "urn:battery-optimizer:problem:"
VALIDATION_TYPE = _PROBLEM_BASE + "validation-error"
NO_PRICES_TYPE = _PROBLEM_BASE + "no-prices"
UPSTREAM_TYPE = _PROBLEM_BASE + "price-source-failed"
UPSTREAM_TIMEOUT_TYPE = _PROBLEM_BASE + "price-source-timeout"
INTERNAL_TYPE = _PROBLEM_BASE + "internal-error"
SOLVER_BUDGET_TYPE = _PROBLEM_BASE + "solver-time-budget"
_SOURCE_TYPES = {404: NO_PRICES_TYPE, 502: UPSTREAM_TYPE, 504: UPSTREAM_TIMEOUT_TYPE}
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: how much of a request's media type a problem's detail quotes back (the header is the client's)
_QUOTED_MIMETYPE_CHARS = 100


def request_id() -> str:
    """The id of the current request: the Lambda/API Gateway request id when there is one,
    otherwise a fresh random id (cached for the request)."""
    if not has_request_context():
        return uuid.uuid4().hex
    rid: str | None = g.get("request_id")
    if rid is None:
        rid = _lambda_request_id(request.environ) or uuid.uuid4().hex
        g.request_id = rid
    return rid


def _lambda_request_id(environ: Mapping[str, Any]) -> str | None:
    context = environ.get("apig_wsgi.context")
    candidate = getattr(context, "aws_request_id", None)
    if candidate is None:
        request_context = environ.get("apig_wsgi.request_context")
        if isinstance(request_context, dict):
            candidate = request_context.get("requestId")
    if isinstance(candidate, str) and _SAFE_ID.fullmatch(candidate):
        return candidate
    return None


def problem(
    status: int,
    *,
    title: str,
    detail: str,
    type_: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A problem+json response."""
    body = {"type": type_, "title": title, "status": status, "detail": detail, **extra}
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def not_json_detail(mimetype: str) -> str:
    """The detail of the 400 for a body not sent as JSON, whose ``Content-Type`` media type
    (parameters stripped, lower case: Werkzeug's ``Request.mimetype``) is ``mimetype``, empty
    when the header is missing or blank.

    JSON is ``application/json`` or any ``application/*+json`` type (RFC 6839's ``+json``
    suffix, such as ``application/problem+json``): Werkzeug's ``Request.is_json``."""
    fix = "send the body as JSON with the header Content-Type: application/json."
    if not mimetype:
        return f"The request has no Content-Type header, so its body is not read as JSON; {fix}"
    if len(mimetype) > _QUOTED_MIMETYPE_CHARS:
        mimetype = mimetype[:_QUOTED_MIMETYPE_CHARS] + "..."
    return f"The request body was sent as {mimetype}, not JSON; {fix}"


def flatten_messages(messages: Any, *, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages -> {"battery_params.min_soc": ["..."], ...}.

    ``_schema`` keys (whole-object errors) report against the enclosing path, or ``body``
    at the top level; list indexes become path segments (``market_params.prices.3.hour``).
    """
    flat: dict[str, list[str]] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                segment = "" if key == "_schema" else str(key)
                walk(value, f"{path}.{segment}" if path and segment else path or segment)
        elif isinstance(node, (list, tuple)):
            if all(isinstance(item, str) for item in node):
                flat.setdefault(path or "body", []).extend(node)
            else:
                for item in node:
                    walk(item, path)
        else:
            flat.setdefault(path or "body", []).append(str(node))

    walk(messages, prefix)
    return flat


def validation_problem(errors: dict[str, list[str]]) -> Response:
    # a GET's values come from its query string (GET /zones?system=XX), not a JSON body
    query = has_request_context() and request.method == "GET"
    what = "The query string is well-formed" if query else "The request is well-formed JSON"
    return problem(
        422,
        title="Invalid request",
        detail=f"{what} but some values are missing, of the wrong type, out of range or "
        "inconsistent; see errors.",
        type_=VALIDATION_TYPE,
        errors=errors,
    )


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status >= 500:
        return _internal_error(getattr(exc, "original_exception", None) or exc)
    if isinstance(exc, UnsupportedMediaType):  # a body not sent as JSON is a 400 (SPEC §4)
        mimetype = request.mimetype if has_request_context() else ""
        return problem(400, title="Bad Request", detail=not_json_detail(mimetype))
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return problem(
        status,
        title=exc.name,
        detail=exc.description or exc.name,
        headers=headers,
    )


def _validation_error(exc: ValidationError) -> Response:
    return validation_problem(flatten_messages(exc.messages))


def _battery_error(exc: InvalidBatteryError) -> Response:
    return validation_problem({f"battery_params.{exc.field}": [exc.message]})


def _prices_error(exc: OptimizerError) -> Response:
    return validation_problem({"market_params.prices": [str(exc)]})


def _strategy_error(exc: UnknownStrategyError) -> Response:
    return validation_problem({"strategy": [str(exc)]})


def _price_source_error(exc: PriceSourceError) -> Response:
    level = logging.INFO if exc.status < 500 else logging.WARNING
    logger.log(level, "price source error %s: %s", exc.status, exc.detail)
    return problem(
        exc.status,
        title=exc.title,
        detail=exc.detail,
        type_=_SOURCE_TYPES.get(exc.status, UPSTREAM_TYPE),
    )


def _deadline_error(exc: DeadlineExceededError) -> Response:
    logger.warning("request deadline passed while computing: %s", exc)
    return problem(
        503,
        title="Request deadline exceeded",
        detail=f"The request's deadline passed before the schedule was computed: {exc}.",
        type_=SOLVER_BUDGET_TYPE,
    )


def _internal_error(exc: BaseException) -> Response:
    rid = request_id()
    logger.error("unhandled error, request_id=%s", rid, exc_info=exc)
    return problem(
        500,
        title="Internal Server Error",
        detail=f"The service failed to answer this request. Quote request id {rid} when "
        "reporting it.",
        type_=INTERNAL_TYPE,
        request_id=rid,
    )


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ValidationError, _validation_error)
    app.register_error_handler(PriceSourceError, _price_source_error)
    app.register_error_handler(InvalidBatteryError, _battery_error)
    app.register_error_handler(InvalidPricesError, _prices_error)
    app.register_error_handler(UnknownStrategyError, _strategy_error)
    app.register_error_handler(DeadlineExceededError, _deadline_error)
    app.register_error_handler(OptimizerError, _internal_error)
    app.register_error_handler(Exception, _internal_error)
