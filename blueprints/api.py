"""HTTP routes: POST /optimize, GET /health, GET /strategies."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request
from marshmallow import ValidationError
from werkzeug.exceptions import BadRequest

from blueprints.encoding import StrictJSONProvider, decode_json, encode_json
from blueprints.errors import not_json_detail
from blueprints.service import price_source, request_deadline, run_optimize
from optimizer import STRATEGIES
from schemas.analyst import CSV_MIMETYPE, schedule_csv
from schemas.request import MAX_ERROR_KEY_CHARS

bp = Blueprint("api", __name__)


def _json_response(body: Any) -> Response:
    provider = current_app.json
    if isinstance(provider, StrictJSONProvider):  # its bytes as they are (no str round trip)
        return Response(encode_json(body), mimetype="application/json")
    return Response(provider.dumps(body), mimetype="application/json")


def read_json_body() -> Any:
    """The decoded JSON body, or a 400/413 problem (raised as an HTTPException).

    413: larger than MAX_CONTENT_LENGTH. 400, each with its own detail: empty; not sent as JSON
    (a ``Content-Type`` other than ``application/json`` or ``application/*+json``, or none);
    not valid JSON."""
    _refuse_query()
    raw = request.get_data(cache=False)  # 413 above MAX_CONTENT_LENGTH
    if not raw.strip():
        raise BadRequest("The request body is empty; send a JSON object.")
    if not request.is_json:  # application/json or application/*+json (RFC 6839)
        raise BadRequest(not_json_detail(request.mimetype))
    try:
        return decode_json(raw)
    except (ValueError, RecursionError):
        raise BadRequest("The request body is not valid JSON.") from None


#: query parameters named in a POST's 422 (the rest are not listed)
_LISTED_QUERY_NAMES = 10


def _refuse_query() -> None:
    """A POST reads its values from the JSON body only, so a query parameter is an unknown
    field (SPEC §4: 422), not silently ignored: ``POST /optimize?strategy=dp`` used to run
    ``optimal`` and answer 200."""
    names = list(dict.fromkeys(request.args))
    if names:
        message = f"Unknown query parameter: {request.method} {request.path} reads its values "
        message += "from the JSON body only."
        listed = names[:_LISTED_QUERY_NAMES]
        raise ValidationError({"query": {name[:MAX_ERROR_KEY_CHARS]: [message] for name in listed}})


def _wants_csv() -> bool:
    """Whether the Accept header prefers text/csv to JSON (errors stay problem+json)."""
    best = request.accept_mimetypes.best_match(["application/json", CSV_MIMETYPE])
    return best == CSV_MIMETYPE


@bp.post("/optimize")
def optimize() -> Response:
    deadline_s = request_deadline()  # one deadline for the whole request (SPEC §13)
    body = run_optimize(read_json_body(), source=price_source(), deadline_s=deadline_s)
    if _wants_csv():  # SPEC §9: the hourly schedule as CSV
        return Response(schedule_csv(body), mimetype=CSV_MIMETYPE)
    return _json_response(body)


@bp.get("/health")
def health() -> Response:
    return _json_response({"status": "ok", "price_source": price_source().name})


@bp.get("/strategies")
def strategies() -> Response:
    return _json_response(
        {
            "strategies": [
                {"name": name, "description": strategy.description}
                for name, strategy in STRATEGIES.items()
            ]
        }
    )
