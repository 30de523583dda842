"""The one path from a request body to a response body, shared by POST /optimize and the
``flask optimize`` command: schema -> prices -> optimizer -> response serialiser, under one
request deadline (SPEC §13)."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, current_app

from optimizer import MarketDay, optimize
from prices import PriceSource, UpstreamError
from schemas.analyst import add_analyst_metrics
from schemas.request import OptimizeRequest, OptimizeRequestSchema
from schemas.response import INLINE_SOURCE, dump_optimize_response

logger = logging.getLogger(__name__)

#: key of the configured price source in ``app.extensions``
SOURCE_EXTENSION = "price_source"
#: REQUEST_DEADLINE_S when the app's settings do not say (SPEC §13)
DEFAULT_REQUEST_DEADLINE_S = 20.0

_REQUEST_SCHEMA = OptimizeRequestSchema()


def price_source(app: Flask | None = None) -> PriceSource:
    """The price source configured for ``app`` (default: the current app)."""
    source: PriceSource = (app or current_app).extensions[SOURCE_EXTENSION]
    return source


def request_deadline(app: Flask | None = None) -> float:
    """The deadline of a request starting now: a ``time.monotonic()`` instant
    ``REQUEST_DEADLINE_S`` seconds ahead (``PriceSettings.request_deadline_s``)."""
    settings = (app or current_app).config.get("PRICE_SETTINGS")
    seconds = getattr(settings, "request_deadline_s", DEFAULT_REQUEST_DEADLINE_S)
    return time.monotonic() + float(seconds)


def run_optimize(
    payload: Any, *, source: PriceSource, deadline_s: float | None = None
) -> dict[str, Any]:
    """Validate ``payload`` (decoded JSON), get the prices, optimise and serialise.

    ``deadline_s`` is the request's deadline (``time.monotonic()``), shared by the price fetch
    and the optimizer; None: no deadline (the CLI). Raises ``marshmallow.ValidationError``
    (422), ``prices.PriceSourceError`` (404/502/504, 504 past the deadline),
    ``optimizer.DeadlineExceededError`` (503) or another ``optimizer.OptimizerError``; the
    error handlers turn them into problem responses.
    """
    request = _REQUEST_SCHEMA.load(payload)
    if not isinstance(request, OptimizeRequest):  # pragma: no cover - post_load guarantees it
        raise TypeError("the request schema did not build an OptimizeRequest")
    days, source_name = _market_days(request, source=source, deadline_s=deadline_s)
    report = optimize(
        days,
        request.battery,
        strategy=request.strategy,
        horizon=request.horizon,
        compare=request.compare,
        deadline_s=deadline_s,
    )
    body = dump_optimize_response(report, request.market, source=source_name)
    return add_analyst_metrics(body, report, request.battery)  # SPEC §9 keys


def _market_days(
    request: OptimizeRequest, *, source: PriceSource, deadline_s: float | None
) -> tuple[tuple[MarketDay, ...], str]:
    if request.inline_days is not None:
        return request.inline_days, INLINE_SOURCE
    query = request.query
    if query is None:  # pragma: no cover - the schema sets exactly one of them
        raise TypeError("a request needs a price query or inline prices")
    days = tuple(source.fetch(query, deadline_s=deadline_s))
    expected = query.days
    got = [day.date for day in days]
    if got != expected:
        logger.warning(
            "price source %s returned %d days for a %d-day query",
            source.name,
            len(got),
            len(expected),
        )
        raise UpstreamError(
            f"The price source returned prices for {len(got)} of the {len(expected)} "
            "requested market days."
        )
    return days, source.name
