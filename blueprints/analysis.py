"""POST /sizing, POST /siting, GET /zones (SPEC §10), and the service functions the
``flask sizing`` / ``flask siting`` commands share with them.

Sizing fetches the prices once and runs the strategy at every duration. Siting fetches the
zones concurrently under one ``time.monotonic()`` deadline, optimises each zone as its prices
arrive, lists zones whose prices could not be had in ``failed`` (404/502/504; keys the
catalogue does not know as 404 without a fetch; those not fetched by the deadline as 504) in
the order of the request's ``zones``, and ranks the others; when none succeeds the first
failure (in that order) is the answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from apispec import APISpec
from flask import Blueprint, Response, current_app, request
from marshmallow import ValidationError

from blueprints.api import read_json_body
from blueprints.service import (
    fetch_history,
    forecast_history_days,
    price_source,
    request_history,
)
from optimizer import STRATEGIES, DeadlineExceededError, MarketDay, optimize, run_strategy
from optimizer.metrics import PriceTable, run_metrics
from prices import (
    NoPricesError,
    PriceQuery,
    PriceSource,
    PriceSourceError,
    System,
    UpstreamError,
    UpstreamTimeoutError,
)
from prices.zones import ZONES, nodes_of
from schemas.analysis import (
    MAX_HINTED_KEYS,
    SITING_EXAMPLE,
    SIZING_EXAMPLE,
    Site,
    SitingRequest,
    SitingRequestSchema,
    SitingResponseSchema,
    SizingRequest,
    SizingRequestSchema,
    SizingResponseSchema,
    ZonesQuerySchema,
    ZonesResponseSchema,
    unknown_site_detail,
)
from schemas.analyst import CSV_MIMETYPE
from schemas.response import CURRENCY, INLINE_SOURCE, PRICE_UNIT

logger = logging.getLogger(__name__)

bp = Blueprint("analysis", __name__)

OPTIMAL = "optimal"
FORECAST = "forecast"
#: concurrent price fetches of one siting request
SITING_FETCH_WORKERS = 8
#: ``failed`` detail of a zone fetched but not optimised by the request deadline
_LATE = (
    "This zone was not optimised within the request deadline; ask for fewer zones or days, "
    "or use the `flask siting` command."
)
#: seconds when the app has no price settings (a test app with an injected source)
DEFAULT_DEADLINE_S = 20.0

_SIZING_SCHEMA = SizingRequestSchema()
_SITING_SCHEMA = SitingRequestSchema()
_ZONES_QUERY_SCHEMA = ZonesQuerySchema()

#: called after each zone of a siting run: (zone, succeeded)
Progress = Callable[[str, bool], None]


def _json_response(body: Any) -> Response:
    return Response(current_app.json.dumps(body), mimetype="application/json")


def request_deadline_s() -> float:
    """The app's one request deadline (REQUEST_DEADLINE_S, else PRICE_FETCH_DEADLINE_S)."""
    settings = current_app.config.get("PRICE_SETTINGS")
    for name in ("request_deadline_s", "fetch_deadline_s"):
        value = getattr(settings, name, None)
        if isinstance(value, (int, float)):
            return float(value)
    return DEFAULT_DEADLINE_S


def _fetch(source: PriceSource, query: PriceQuery, deadline: float | None) -> tuple[MarketDay, ...]:
    """All days of ``query`` or a ``PriceSourceError`` (``deadline``: a ``time.monotonic()``
    instant the source must not run past)."""
    days = tuple(source.fetch(query, deadline_s=deadline))
    if [d.date for d in days] != query.days:
        raise UpstreamError(
            f"The price source returned prices for {len(days)} of the {len(query.days)} "
            "requested market days."
        )
    return days


# --- sizing --------------------------------------------------------------------------------


def run_sizing(
    payload: Any,
    *,
    source: PriceSource,
    deadline_s: float | None,
    schema: SizingRequestSchema = _SIZING_SCHEMA,
) -> dict[str, Any]:
    """Validate a POST /sizing body, fetch the prices once (within ``deadline_s`` seconds;
    ``None``: no deadline) and run every duration."""
    deadline = None if deadline_s is None else time.monotonic() + deadline_s
    sizing = schema.load(payload)
    if not isinstance(sizing, SizingRequest):  # pragma: no cover - post_load guarantees it
        raise TypeError("the sizing schema did not build a SizingRequest")
    base = sizing.base
    if base.inline_days is not None:
        days, source_name = base.inline_days, INLINE_SOURCE
    else:
        if base.query is None:  # pragma: no cover - the schema sets exactly one of them
            raise TypeError("a request needs a price query or inline prices")
        days, source_name = _fetch(source, base.query, deadline), source.name
    history = request_history(base, days, source=source, deadline_s=deadline)
    return {
        "market": {
            "zone": base.market.zone,
            "system": base.market.system.value,
            "process": base.market.process.value,
            "source": source_name,
            "start_date": base.market.start.isoformat(),
            "end_date": base.market.end.isoformat(),
            "currency": CURRENCY,
            "price_unit": PRICE_UNIT,
            # what forecast scheduled on, as POST /optimize says (SPEC §11)
            "forecast": "caller" if base.forecast_days is not None else "mean7",
        },
        "strategy": base.strategy,
        "horizon": base.horizon.value,
        "capacity_mw": base.battery.power_mw,
        "rows": sizing_rows(sizing, days, history=history, deadline=deadline),
    }


def sizing_rows(
    sizing: SizingRequest,
    days: Sequence[MarketDay],
    *,
    history: Sequence[MarketDay] = (),
    deadline: float | None = None,
) -> list[dict[str, Any]]:
    """One row per duration, ascending; marginal revenue against the previous row. Each row is
    POST /optimize's run of that duration: the same ``history`` (SPEC §11) and the caller's
    ``forecast_prices``. ``deadline`` (``time.monotonic()``): past it the optimizer raises a
    503."""
    table = PriceTable.from_arrays([d.date for d in days], [d.prices_mxn_per_mwh for d in days])
    rows: list[dict[str, Any]] = []
    previous: tuple[float, float] | None = None  # (energy MWh, annualised revenue MXN)
    for hours in sizing.durations_hours:
        req = sizing.with_duration(hours)
        battery = req.battery
        report = optimize(
            days,
            battery,
            strategy=req.strategy,
            horizon=req.horizon,
            compare=False,
            deadline_s=deadline,
            history=history,
            caller_forecast=req.forecast_days,
        )
        metrics = run_metrics(report.run, battery, table=table)
        total = report.run.summary.total_revenue_mxn
        annual = total * 365 / len(days)
        energy = battery.energy_mwh
        marginal = None
        if previous is not None:
            marginal = round((annual - previous[1]) / (energy - previous[0]), 6) + 0.0
        previous = (energy, annual)
        rows.append(
            {
                "duration_hours": hours,
                "energy_mwh": round(energy, 9),
                "total_revenue": total,
                "revenue_per_mw_year": metrics.revenue_per_mw_year,
                "revenue_per_mwh_year": metrics.revenue_per_mwh_year,
                "marginal_revenue_per_mwh_year": marginal,
                "energy_discharged": metrics.energy_discharged_mwh,
                "cycles": metrics.cycles,
                "pct_of_tb": metrics.pct_of_tb,
            }
        )
    return rows


# --- siting --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prices:
    """One site's prices: the requested days and the days before them that the strategies
    without foresight forecast from (SPEC §11; empty when none of the run's needs them)."""

    days: tuple[MarketDay, ...]
    history: tuple[MarketDay, ...]


@dataclass(frozen=True)
class _Failure:
    #: the key's place in the request's ``zones``
    position: int
    zone: str
    error: PriceSourceError


def run_siting(
    payload: Any,
    *,
    source: PriceSource,
    deadline_s: float | None,
    schema: SitingRequestSchema = _SITING_SCHEMA,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Validate a POST /siting body, fetch every known zone concurrently within ``deadline_s``
    (``None``: no deadline, the CLI), optimise and rank. Keys the catalogue does not know are
    not fetched: each is a 404 in ``failed`` (the first ``MAX_HINTED_KEYS`` with the closest
    catalogue names). ``failed`` follows the order of the request's ``zones``; ``progress``
    hears of the unknown keys first.

    Raises the first failure's ``PriceSourceError`` (in that order) when no zone succeeds.
    """
    deadline = None if deadline_s is None else time.monotonic() + deadline_s
    siting = schema.load(payload)
    if not isinstance(siting, SitingRequest):  # pragma: no cover - post_load guarantees it
        raise TypeError("the siting schema did not build a SitingRequest")
    rows: list[tuple[int, dict[str, Any]]] = []
    failures: list[_Failure] = []
    sites = siting.sites
    #: the place in ``zones`` of each of ``sites`` (the fetched ones, in the request's order)
    positions: list[int] = []
    #: (place in ``zones``, key) of each key the catalogue does not know
    unknown: list[tuple[int, str]] = []
    for position, entry in enumerate(siting.requested):
        if isinstance(entry, Site):
            positions.append(position)
            continue
        unknown.append((position, entry.key))
        if progress is not None:
            progress(entry.key, False)

    def done(index: int, outcome: _Prices | PriceSourceError) -> None:
        site = sites[index]
        if not isinstance(outcome, PriceSourceError):
            try:
                row = siting_row(
                    siting, site, outcome.days, history=outcome.history, deadline=deadline
                )
                rows.append((positions[index], row))
            except DeadlineExceededError:
                outcome = UpstreamTimeoutError(_LATE)
        if isinstance(outcome, PriceSourceError):
            failures.append(_Failure(positions[index], site.zone, outcome))
        if progress is not None:
            progress(site.zone, not isinstance(outcome, PriceSourceError))

    if positions:
        span = forecast_history_days() if _without_foresight(siting) else 0
        _fetch_all(siting, source=source, deadline=deadline, history_span=span, on_done=done)
    failures.sort(key=lambda f: f.position)
    if not rows:
        # the first failure in the order of zones; an unknown key's detail (and its one
        # catalogue search) is built only when it is that one
        if unknown and (not failures or unknown[0][0] < failures[0].position):
            raise NoPricesError(unknown_site_detail(unknown[0][1]))
        raise failures[0].error
    failures += [
        _Failure(position, key, NoPricesError(unknown_site_detail(key, hint=n < MAX_HINTED_KEYS)))
        for n, (position, key) in enumerate(unknown)
    ]
    failures.sort(key=lambda f: f.position)
    rows.sort(key=lambda item: (-item[1]["total_revenue"], item[0]))
    ranked = [{"rank": rank, **row} for rank, (_, row) in enumerate(rows, start=1)]
    return {
        "strategy": siting.strategy,
        "horizon": siting.horizon.value,
        "market": {
            "process": siting.process.value,
            "source": source.name,
            "start_date": siting.start.isoformat(),
            "end_date": siting.end.isoformat(),
            "currency": CURRENCY,
            "price_unit": PRICE_UNIT,
        },
        "rows": ranked,
        "failed": [
            {"zone": f.zone, "status": f.error.status, "detail": f.error.detail} for f in failures
        ],
    }


def _fetch_all(
    siting: SitingRequest,
    *,
    source: PriceSource,
    deadline: float | None,
    history_span: int,
    on_done: Callable[[int, _Prices | PriceSourceError], None],
) -> None:
    """Fetch every known site (``siting.sites``, at least one) concurrently, each with up to
    ``history_span`` days of history (``fetch_history``: best effort, 0 for none); hand each
    outcome to ``on_done`` (in this thread, with the site's index in ``siting.sites``) as it
    arrives; sites still pending at ``deadline`` get an ``UpstreamTimeoutError``."""
    queries = [
        PriceQuery(
            zone=site.zone,
            system=site.system,
            process=siting.process,
            start=siting.start,
            end=siting.end,
        )
        for site in siting.sites
    ]
    pool = ThreadPoolExecutor(
        max_workers=min(SITING_FETCH_WORKERS, len(queries)), thread_name_prefix="siting"
    )
    try:
        pending: dict[Future[_Prices], int] = {
            pool.submit(_fetch_site, source, query, deadline, history_span): index
            for index, query in enumerate(queries)
        }
        while pending:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            finished, _ = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
            if not finished:
                break
            for future in sorted(finished, key=pending.__getitem__):
                index = pending.pop(future)
                try:
                    outcome: _Prices | PriceSourceError = future.result()
                except PriceSourceError as exc:
                    outcome = exc
                on_done(index, outcome)
        for index in sorted(pending.values()):
            logger.warning("siting: %s not fetched within the request deadline", queries[index])
            on_done(
                index,
                UpstreamTimeoutError(
                    "The prices of this zone did not arrive within the request deadline; ask "
                    "for fewer zones or days, or use the `flask siting` command."
                ),
            )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _fetch_site(
    source: PriceSource, query: PriceQuery, deadline: float | None, history_span: int
) -> _Prices:
    """One site's days (``_fetch``), then its history (``fetch_history``, best effort)."""
    days = _fetch(source, query, deadline)
    history = fetch_history(
        query, query.start, span=history_span, source=source, deadline_s=deadline
    )
    return _Prices(days, history)


def _siting_strategies(siting: SitingRequest) -> list[str]:
    """The strategies a siting row runs: the request's, ``optimal`` and ``forecast``."""
    names = dict.fromkeys([siting.strategy, OPTIMAL, FORECAST])
    return [name for name in names if name in STRATEGIES]


def _without_foresight(siting: SitingRequest) -> bool:
    """Whether a strategy the rows run forecasts from earlier days (SPEC §11)."""
    return any(STRATEGIES[name].needs_history for name in _siting_strategies(siting))


def siting_row(
    siting: SitingRequest,
    site: Site,
    days: Sequence[MarketDay],
    *,
    history: Sequence[MarketDay] = (),
    deadline: float | None = None,
) -> dict[str, Any]:
    """One zone's row (without its rank): the strategy's economics and what ``forecast``
    captures of ``optimal`` there, each run as POST /optimize runs it for that zone (the same
    ``history``, SPEC §11). Raises ``DeadlineExceededError`` past ``deadline``."""
    if deadline is not None and time.monotonic() >= deadline:
        raise DeadlineExceededError("the request deadline passed before this zone's turn")
    battery = siting.battery
    runs = {
        name: run_strategy(
            name, days, battery, horizon=siting.horizon, deadline_s=deadline, history=history
        )
        for name in _siting_strategies(siting)
    }
    run = runs[siting.strategy]
    metrics = run_metrics(run, battery)
    best = runs[OPTIMAL].summary.total_revenue_mxn
    forecast_pct = None
    if FORECAST in runs and best > 0:
        forecast_pct = round(100.0 * runs[FORECAST].summary.total_revenue_mxn / best, 6)
    return {
        "zone": site.zone,
        "system": site.system.value,
        "total_revenue": run.summary.total_revenue_mxn,
        "revenue_per_mw_year": metrics.revenue_per_mw_year,
        "price_mean": metrics.price_mean,
        "tb4_spread_mean": metrics.tb4_spread_mean,
        "pct_of_tb": metrics.pct_of_tb,
        "cycles": metrics.cycles,
        "forecast_pct_of_optimal": forecast_pct,
    }


# --- zones ---------------------------------------------------------------------------------


def zones_body(system: str | None = None) -> dict[str, Any]:
    return {
        "zones": [
            {"zone": zone, "system": zone_system.value, "nodes": len(nodes_of(zone))}
            for zone, zone_system in sorted(ZONES.items())
            if system is None or zone_system.value == system
        ]
    }


# --- routes --------------------------------------------------------------------------------


@bp.post("/sizing")
def sizing() -> Response:
    return _json_response(
        run_sizing(read_json_body(), source=price_source(), deadline_s=request_deadline_s())
    )


@bp.post("/siting")
def siting() -> Response:
    return _json_response(
        run_siting(read_json_body(), source=price_source(), deadline_s=request_deadline_s())
    )


@bp.get("/zones")
def zones() -> Response:
    repeated = [name for name in request.args if len(request.args.getlist(name)) > 1]
    if repeated:  # ?system=BCA&system=SIN took the first one unseen
        raise ValidationError({name: ["Given more than once; give it once."] for name in repeated})
    query = _ZONES_QUERY_SCHEMA.load(request.args.to_dict())
    system = query.get("system")
    return _json_response(zones_body(None if system is None else system.value))


__all__ = ["bp", "run_siting", "run_sizing", "siting_row", "sizing_rows", "zones_body"]


# --- OpenAPI -------------------------------------------------------------------------------

_CSV_EXAMPLE = (
    "date,hour,price_mxn_per_mwh,action,power_mw,soc,revenue_mxn\n"
    "2024-01-01,0,20.0,charge,10.0,0.330488,-200.0\n"
)


def register_openapi(
    spec: APISpec, responses: Callable[..., dict[str, Any]], body_problems: Sequence[str]
) -> None:
    """Add POST /sizing, POST /siting and GET /zones (schemas, examples, problems) to
    ``spec``; ``responses(ok_schema, description, *problem_names)`` is the builder's helper
    and ``body_problems`` the problems every POST with a body and prices can answer."""
    spec.components.schema("SizingRequest", schema=SizingRequestSchema)
    spec.components.schema("SizingResponse", schema=SizingResponseSchema)
    spec.components.schema("SitingRequest", schema=SitingRequestSchema)
    spec.components.schema("SitingResponse", schema=SitingResponseSchema)
    spec.components.schema("Zones", schema=ZonesResponseSchema)

    def post(
        name: str, summary: str, example: dict[str, Any], ok: str, problems: Sequence[str]
    ) -> dict[str, Any]:
        return {
            "post": {
                "summary": summary,
                "operationId": name,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": f"{name.capitalize()}Request",
                            "examples": {"spec": {"summary": summary, "value": example}},
                        }
                    },
                },
                "responses": responses(f"{name.capitalize()}Response", ok, *problems),
            }
        }

    spec.path(
        path="/sizing",
        operations=post(
            "sizing",
            "One market, one power, several durations: what each more hour of storage earns",
            SIZING_EXAMPLE,
            "One row per duration, ascending, with the marginal revenue per extra MWh.",
            body_problems,
        ),
    )
    spec.path(
        path="/siting",
        operations=post(
            "siting",
            "One battery, many zones or nodes, the same dates: where it earns most",
            SITING_EXAMPLE,
            "Zones ranked by revenue; zones whose prices could not be had are listed in "
            "`failed` (404/502/504; a key the catalogue does not know is a 404 there, not a "
            "422), in the order of the request's `zones`. When no zone succeeds, the first "
            "failure's problem.",
            body_problems,
        ),
    )
    spec.path(
        path="/zones",
        operations={
            "get": {
                "summary": "The catalogue of CENACE load zones, their system and NodosP count",
                "operationId": "zones",
                "parameters": [
                    {
                        "name": "system",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": [s.value for s in System]},
                        "description": "Only the zones of this system.",
                    }
                ],
                "responses": responses("Zones", "Every load zone.", "ValidationFailed"),
            }
        },
    )


def amend_openapi(document: dict[str, Any]) -> None:
    """POST /optimize also answers ``text/csv`` (SPEC §9) when the Accept header asks."""
    ok = document["paths"]["/optimize"]["post"]["responses"]["200"]
    ok["description"] += (
        " With `Accept: text/csv`, the chosen strategy's hours as CSV (columns "
        "date,hour,price_mxn_per_mwh,action,power_mw,soc,revenue_mxn); errors stay "
        "problem+json."
    )
    ok["content"][CSV_MIMETYPE] = {"schema": {"type": "string"}, "example": _CSV_EXAMPLE}
