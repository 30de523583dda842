"""The one path from a request body to a response body, shared by POST /optimize and the
``flask optimize`` command: schema -> prices -> optimizer -> response serialiser, under one
request deadline (SPEC §13)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Sequence
from typing import Any

from flask import Flask, current_app, has_app_context

from optimizer import STRATEGIES, MarketDay, get_strategy, optimize
from prices import NoPricesError, PriceQuery, PriceSource, PriceSourceError, UpstreamError
from schemas.analyst import add_analyst_metrics
from schemas.fields import MIN_DATE
from schemas.request import OptimizeRequest, OptimizeRequestSchema
from schemas.response import INLINE_SOURCE, dump_optimize_response

logger = logging.getLogger(__name__)

#: key of the configured price source in ``app.extensions``
SOURCE_EXTENSION = "price_source"
#: REQUEST_DEADLINE_S when the app's settings do not say (SPEC §13)
DEFAULT_REQUEST_DEADLINE_S = 20.0
#: FORECAST_HISTORY_DAYS when the app's settings do not say (SPEC §11)
DEFAULT_FORECAST_HISTORY_DAYS = 56
#: share of the time left before the request deadline a history fetch may use
HISTORY_FETCH_SHARE = 0.5
#: shortest history span tried after the source had no prices for a longer one (a week:
#: the 7-day mean's window)
MIN_HISTORY_DAYS = 7

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
    history = request_history(request, days, source=source, deadline_s=deadline_s)
    report = optimize(
        days,
        request.battery,
        strategy=request.strategy,
        horizon=request.horizon,
        compare=request.compare,
        deadline_s=deadline_s,
        history=history,
        caller_forecast=request.forecast_days,
    )
    body = dump_optimize_response(report, request.market, source=source_name)
    body["market"]["forecast"] = "caller" if request.forecast_days is not None else "mean7"
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


def request_history(
    request: OptimizeRequest,
    days: Sequence[MarketDay],
    *,
    source: PriceSource,
    deadline_s: float | None,
) -> tuple[MarketDay, ...]:
    """Days before the first requested day for the strategies without foresight (SPEC §11): the
    caller's ``history_prices``, else -- for fetched prices, when a strategy that
    ``needs_history`` runs (``forecast``, ``learned``) -- ``fetch_history``'s. POST /optimize
    and POST /sizing (its ``base``) take their history here."""
    if request.history_days is not None:
        return request.history_days
    if request.query is None or not _runs_without_foresight(request):
        return ()
    return fetch_history(
        request.query,
        days[0].date,
        span=forecast_history_days(),
        source=source,
        deadline_s=deadline_s,
    )


def fetch_history(
    query: PriceQuery,
    first: dt.date,
    *,
    span: int,
    source: PriceSource,
    deadline_s: float | None,
) -> tuple[MarketDay, ...]:
    """Up to ``span`` (``FORECAST_HISTORY_DAYS``) days before ``first`` of ``query``'s market,
    fetched from the same source (through its cache). Best effort, and it never fails the
    request: sources refuse a whole span when some of its days have no prices (404), so on a 404
    the span is halved, keeping its latest days, down to ``MIN_HISTORY_DAYS`` (days the source
    lacks at the start of the span, e.g. before a node or the market opened, are thus left out);
    any other failure, or a 404 on the shortest span, is logged and leaves no history (the first
    days then forecast from the request's own days). All attempts share half the time left
    before the request deadline, so the optimizer keeps the rest. Safe in any thread (it reads
    no app state)."""
    if span == 0:
        return ()
    end = first - dt.timedelta(days=1)
    fetch_deadline = None
    if deadline_s is not None:
        now = time.monotonic()
        fetch_deadline = now + HISTORY_FETCH_SHARE * max(deadline_s - now, 0.0)
    while True:
        start = max(first - dt.timedelta(days=span), MIN_DATE)
        if start >= first:
            return ()
        try:
            fetched = source.fetch(
                dataclasses.replace(query, start=start, end=end), deadline_s=fetch_deadline
            )
        except PriceSourceError as exc:
            if isinstance(exc, NoPricesError) and span > MIN_HISTORY_DAYS:
                span = max(span // 2, MIN_HISTORY_DAYS)
                continue
            logger.warning(
                "no forecast history: %s %s..%s from %s failed (%s)",
                query.zone,
                start,
                end,
                source.name,
                exc.detail,
            )
            return ()
        by_date = {day.date: day for day in fetched if start <= day.date < first}
        return tuple(by_date[date] for date in sorted(by_date))


def _runs_without_foresight(request: OptimizeRequest) -> bool:
    """Whether a strategy that forecasts from earlier days (``Strategy.needs_history``) runs:
    the requested one, or with ``compare`` any registered one."""
    if request.compare:
        return any(strategy.needs_history for strategy in STRATEGIES.values())
    return get_strategy(request.strategy).needs_history


def forecast_history_days() -> int:
    """FORECAST_HISTORY_DAYS of the current app (``PriceSettings.forecast_history_days``; the
    default outside an app context)."""
    if not has_app_context():
        return DEFAULT_FORECAST_HISTORY_DAYS
    settings = current_app.config.get("PRICE_SETTINGS")
    return int(getattr(settings, "forecast_history_days", DEFAULT_FORECAST_HISTORY_DAYS))
