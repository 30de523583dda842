"""The one path from a request body to a response body, shared by POST /optimize and the
``flask optimize`` command: schema -> prices -> optimizer -> response serialiser."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app

from optimizer import MarketDay, optimize
from prices import PriceSource, UpstreamError
from schemas.request import OptimizeRequest, OptimizeRequestSchema
from schemas.response import INLINE_SOURCE, MarketInfo, dump_optimize_response

logger = logging.getLogger(__name__)

#: key of the configured price source in ``app.extensions``
SOURCE_EXTENSION = "price_source"

_REQUEST_SCHEMA = OptimizeRequestSchema()


def price_source(app: Flask | None = None) -> PriceSource:
    """The price source configured for ``app`` (default: the current app)."""
    source: PriceSource = (app or current_app).extensions[SOURCE_EXTENSION]
    return source


def run_optimize(payload: Any, *, source: PriceSource) -> dict[str, Any]:
    """Validate ``payload`` (decoded JSON), get the prices, optimise and serialise.

    Raises ``marshmallow.ValidationError`` (422), ``prices.PriceSourceError`` (404/502/504) or
    an ``optimizer.OptimizerError``; the error handlers turn them into problem responses.
    """
    request = _REQUEST_SCHEMA.load(payload)
    if not isinstance(request, OptimizeRequest):  # pragma: no cover - post_load guarantees it
        raise TypeError("the request schema did not build an OptimizeRequest")
    days, source_name = _market_days(request, source=source)
    report = optimize(
        days,
        request.battery,
        strategy=request.strategy,
        horizon=request.horizon,
        compare=request.compare,
    )
    market = MarketInfo(
        zone=request.zone,
        system=request.system,
        process=request.process,
        source=source_name,
        start_date=request.start,
        end_date=request.end,
    )
    return dump_optimize_response(report, market)


def _market_days(
    request: OptimizeRequest, *, source: PriceSource
) -> tuple[tuple[MarketDay, ...], str]:
    if request.inline_days is not None:
        return request.inline_days, INLINE_SOURCE
    if request.query is None:  # pragma: no cover - the schema sets exactly one of them
        raise TypeError("a request needs a price query or inline prices")
    days = tuple(source.fetch(request.query))
    expected = request.query.days
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
