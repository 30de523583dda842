"""Response bodies: marshmallow schemas (the documented contract, used by /openapi.json) and
the one serialiser of POST /optimize, ``dump_optimize_response``.

Dumping a year (8 784 hours) through nested marshmallow schemas costs tens of milliseconds,
so the serialiser builds the body straight from the result arrays (each column converted to
Python numbers once for the whole run); ``tests/schemas/test_response.py`` checks that real
responses validate against ``OptimizeResponseSchema``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from marshmallow import Schema, fields, validate

from optimizer import Action, ComparisonRow, Horizon, Report
from optimizer.market import ALLOWED_HOURS_PER_DAY
from prices import Process, System
from schemas.analyst import (  # SPEC §9 keys
    AnalystComparisonFields,
    AnalystDayFields,
    AnalystResponseFields,
    AnalystSummaryFields,
)
from schemas.fields import StrictFloat
from schemas.request import Market

CURRENCY = "MXN"
PRICE_UNIT = "MXN/MWh"
#: the ``source`` reported when the caller sent its own prices
INLINE_SOURCE = "inline"


class HourStepSchema(Schema):
    hour = fields.Integer(required=True, metadata={"description": "0-based, hour-beginning."})
    action = fields.Enum(Action, by_value=True, required=True)
    power = StrictFloat(
        required=True, attribute="power_mw", metadata={"description": "MW at the grid, >= 0."}
    )
    price = StrictFloat(
        required=True, attribute="price_mxn_per_mwh", metadata={"description": "MXN/MWh."}
    )
    soc = StrictFloat(
        required=True, metadata={"description": "State of charge after the hour, fraction of E."}
    )


class DayScheduleSchema(AnalystDayFields):
    date = fields.Date(required=True)
    schedule = fields.List(fields.Nested(HourStepSchema), required=True)
    revenue = StrictFloat(required=True, attribute="revenue_mxn", metadata={"description": "MXN."})
    energy_charged = StrictFloat(
        required=True, attribute="energy_charged_mwh", metadata={"description": "MWh at the grid."}
    )
    energy_discharged = StrictFloat(
        required=True,
        attribute="energy_discharged_mwh",
        metadata={"description": "MWh at the grid."},
    )
    avg_charge_price = StrictFloat(
        required=True,
        allow_none=True,
        attribute="avg_charge_price_mxn_per_mwh",
        metadata={"description": "Energy-weighted MXN/MWh; null when nothing was charged."},
    )
    avg_discharge_price = StrictFloat(
        required=True,
        allow_none=True,
        attribute="avg_discharge_price_mxn_per_mwh",
        metadata={"description": "Energy-weighted MXN/MWh; null when nothing was discharged."},
    )
    cycles = StrictFloat(
        required=True,
        metadata={"description": "Battery-side energy withdrawn / (E * (max_soc - min_soc))."},
    )


class DayRevenueSchema(Schema):
    date = fields.Date(required=True)
    revenue = StrictFloat(required=True, attribute="revenue_mxn")


class SummarySchema(AnalystSummaryFields):
    days = fields.Integer(required=True, metadata={"description": "Market days scheduled."})
    total_revenue = StrictFloat(required=True, attribute="total_revenue_mxn")
    avg_daily_revenue = StrictFloat(required=True, attribute="avg_daily_revenue_mxn")
    best_day = fields.Nested(DayRevenueSchema, required=True)
    worst_day = fields.Nested(DayRevenueSchema, required=True)


class ComparisonRowSchema(AnalystComparisonFields):
    strategy = fields.String(required=True)
    total_revenue = StrictFloat(required=True, attribute="total_revenue_mxn")
    pct_of_optimal = StrictFloat(
        required=True,
        allow_none=True,
        metadata={"description": "100 * total / optimal total; null if the optimum is <= 0."},
    )
    energy_discharged = StrictFloat(required=True, attribute="energy_discharged_mwh")
    cycles = StrictFloat(required=True)
    runtime_ms = StrictFloat(required=True)


class MarketSchema(Schema):
    zone = fields.String(required=True, allow_none=True)
    system = fields.Enum(System, by_value=True, required=True)
    process = fields.Enum(Process, by_value=True, required=True)
    source = fields.String(
        required=True,
        metadata={"description": "Price source (synthetic, batu, cenace) or inline."},
    )
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    currency = fields.String(required=True, validate=validate.Equal(CURRENCY))
    price_unit = fields.String(required=True, validate=validate.Equal(PRICE_UNIT))
    forecast = fields.String(
        validate=validate.OneOf(["mean7", "caller"]),
        metadata={
            "description": "What the forecast strategy scheduled on: caller (the request's "
            "market_params.forecast_prices) or mean7 (the same hour's mean over the 7 days "
            "before). Always present in POST /optimize and POST /sizing answers."
        },
    )


class OptimizeResponseSchema(AnalystResponseFields):
    strategy = fields.String(required=True)
    horizon = fields.Enum(Horizon, by_value=True, required=True)
    market = fields.Nested(MarketSchema, required=True)
    daily_schedules = fields.List(fields.Nested(DayScheduleSchema), required=True)
    summary = fields.Nested(SummarySchema, required=True)
    comparison = fields.List(
        fields.Nested(ComparisonRowSchema),
        required=True,
        allow_none=True,
        metadata={"description": "Every strategy on the same prices; null when compare=false."},
    )


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.Equal("ok"))
    price_source = fields.String(required=True)


class StrategyInfoSchema(Schema):
    name = fields.String(required=True)
    description = fields.String(required=True)


class StrategiesSchema(Schema):
    strategies = fields.List(fields.Nested(StrategyInfoSchema), required=True)


class ProblemSchema(Schema):
    """RFC 9457 problem details (``application/problem+json``)."""

    type = fields.String(required=True, metadata={"description": "URI naming the problem."})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    request_id = fields.String(
        metadata={"description": "Identifier of the request in the service logs (5xx)."}
    )
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={
            "description": "Validation errors (422): field path such as "
            "battery_params.min_soc -> messages."
        },
    )


# --- serialisation -------------------------------------------------------------------------


#: the ``action`` of codes 0, 1 and 2 (idle, charge, discharge)
_ACTION_NAMES = (Action.IDLE.value, Action.CHARGE.value, Action.DISCHARGE.value)
#: ``hour`` of a day's rows
_HOUR_NUMBERS = tuple(range(max(ALLOWED_HOURS_PER_DAY)))


class FiniteRows(list[dict[str, Any]]):
    """A list of JSON rows whose numbers were checked finite (with numpy) when it was built:
    the JSON encoder's NaN/Infinity guard skips it instead of walking 8 784 hours again. Whoever
    adds a number to one of its rows checks it first."""


def _schedules(report: Report) -> FiniteRows:
    """``daily_schedules``: the run's hourly arrays are joined and turned into Python values
    once, then cut into days. Every number in it is checked finite here (whoever adds keys to
    a day must check theirs: ``schemas.analyst.add_analyst_metrics`` does)."""
    days = report.run.days
    charge = np.concatenate([day.charge_mw for day in days])
    discharge = np.concatenate([day.discharge_mw for day in days])
    code = np.where(charge > 0, 1, np.where(discharge > 0, 2, 0))
    columns = np.stack(
        [
            np.where(code == 1, charge, np.where(code == 2, discharge, 0.0)),
            np.concatenate([day.prices_mxn_per_mwh for day in days]),
            np.concatenate([day.soc for day in days]),
        ]
    )
    if not np.isfinite(columns).all():
        raise ValueError("a schedule holds a NaN or an infinity")
    power, price, soc = columns.tolist()
    sizes = [day.soc.size for day in days]
    hour = [h for size in sizes for h in _HOUR_NUMBERS[:size]]
    rows = [
        {"hour": h, "action": _ACTION_NAMES[c], "power": p, "price": q, "soc": s}
        for h, c, p, q, s in zip(hour, code.tolist(), power, price, soc, strict=True)
    ]
    # the days' own numbers, checked at once like the hours' (None, no average, is fine)
    day_numbers = np.array(
        [
            (
                day.revenue_mxn,
                day.energy_charged_mwh,
                day.energy_discharged_mwh,
                day.cycles,
                0.0
                if day.avg_charge_price_mxn_per_mwh is None
                else day.avg_charge_price_mxn_per_mwh,
                0.0
                if day.avg_discharge_price_mxn_per_mwh is None
                else day.avg_discharge_price_mxn_per_mwh,
            )
            for day in days
        ],
        dtype=float,
    )
    if not np.isfinite(day_numbers).all():
        raise ValueError("a day's result holds a NaN or an infinity")
    out = FiniteRows()
    lo = 0
    for day, size in zip(days, sizes, strict=True):
        out.append(
            {
                "date": day.date.isoformat(),
                "schedule": FiniteRows(rows[lo : lo + size]),
                "revenue": day.revenue_mxn,
                "energy_charged": day.energy_charged_mwh,
                "energy_discharged": day.energy_discharged_mwh,
                "avg_charge_price": day.avg_charge_price_mxn_per_mwh,
                "avg_discharge_price": day.avg_discharge_price_mxn_per_mwh,
                "cycles": day.cycles,
            }
        )
        lo += size
    return out


def _row_json(row: ComparisonRow) -> dict[str, Any]:
    return {
        "strategy": row.strategy,
        "total_revenue": row.total_revenue_mxn,
        "pct_of_optimal": row.pct_of_optimal,
        "energy_discharged": row.energy_discharged_mwh,
        "cycles": row.cycles,
        "runtime_ms": row.runtime_ms,
    }


def dump_optimize_response(report: Report, market: Market, *, source: str) -> dict[str, Any]:
    """The POST /optimize body (``OptimizeResponseSchema``'s shape) for ``report`` on
    ``market``, whose prices came from ``source`` (a price source's name or ``inline``)."""
    run = report.run
    summary = run.summary
    return {
        "strategy": run.strategy,
        "horizon": run.horizon.value,
        "market": {
            "zone": market.zone,
            "system": market.system.value,
            "process": market.process.value,
            "source": source,
            "start_date": market.start.isoformat(),
            "end_date": market.end.isoformat(),
            "currency": CURRENCY,
            "price_unit": PRICE_UNIT,
        },
        "daily_schedules": _schedules(report),
        "summary": {
            "days": len(run.days),
            "total_revenue": summary.total_revenue_mxn,
            "avg_daily_revenue": summary.avg_daily_revenue_mxn,
            "best_day": {
                "date": summary.best_day.date.isoformat(),
                "revenue": summary.best_day.revenue_mxn,
            },
            "worst_day": {
                "date": summary.worst_day.date.isoformat(),
                "revenue": summary.worst_day.revenue_mxn,
            },
        },
        "comparison": (
            None if report.comparison is None else [_row_json(row) for row in report.comparison]
        ),
    }
