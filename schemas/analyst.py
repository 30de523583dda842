"""SPEC §9 in the POST /optimize response: the analyst metrics' JSON and the hourly CSV.

``add_analyst_metrics(body, report, battery)`` extends a POST /optimize body built by
``schemas.response.dump_optimize_response`` with new keys only (``battery``, ``monthly``, the
per-day price statistics, the summary's totals and benchmarks, each comparison row's
``revenue_per_mw_year``); ``schedule_csv(body)`` writes the chosen strategy's hours as CSV.
The schemas below document those keys in /openapi.json.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from marshmallow import Schema, fields

from optimizer import Battery, Report
from optimizer.metrics import analyse, per_mw_year
from schemas.fields import StrictFloat

CSV_MIMETYPE = "text/csv"
CSV_COLUMNS = ("date", "hour", "price_mxn_per_mwh", "action", "power_mw", "soc", "revenue_mxn")
_MONEY_DECIMALS = 6


# --- documented shapes ---------------------------------------------------------------------


class BatteryEchoSchema(Schema):
    """The battery as resolved (defaults filled in, one-way efficiencies derived)."""

    capacity_mw = StrictFloat(required=True)
    duration_hours = StrictFloat(required=True)
    energy_mwh = StrictFloat(required=True)
    round_trip_efficiency = StrictFloat(required=True)
    charge_efficiency = StrictFloat(required=True)
    discharge_efficiency = StrictFloat(required=True)
    min_soc = StrictFloat(required=True)
    max_soc = StrictFloat(required=True)
    initial_soc = StrictFloat(required=True)
    degradation_cost_per_mwh = StrictFloat(required=True)
    max_cycles_per_day = StrictFloat(required=True, allow_none=True)


class MonthSchema(Schema):
    month = fields.String(required=True, metadata={"example": "2024-01"})
    days = fields.Integer(required=True)
    revenue = StrictFloat(required=True, metadata={"description": "MXN."})
    energy_charged = StrictFloat(required=True, metadata={"description": "MWh at the grid."})
    energy_discharged = StrictFloat(required=True, metadata={"description": "MWh at the grid."})
    cycles = StrictFloat(required=True)
    price_mean = StrictFloat(required=True, metadata={"description": "MXN/MWh over all hours."})
    tb4_spread_mean = StrictFloat(required=True, metadata={"description": "MXN/MWh."})


def _price(description: str) -> StrictFloat:
    return StrictFloat(required=True, metadata={"description": description})


# Base classes of the POST /optimize response schemas in schemas/response.py: each adds the
# §9 keys to the PRD fields of its schema.


class AnalystDayFields(Schema):
    """Per-day keys beside the PRD fields."""

    price_mean = _price("Mean hourly price of the day, MXN/MWh.")
    price_min = _price("Lowest hourly price, MXN/MWh.")
    price_max = _price("Highest hourly price, MXN/MWh.")
    tb4_spread = _price("Mean of the 4 highest minus mean of the 4 lowest prices, MXN/MWh.")


class AnalystSummaryFields(Schema):
    """Summary keys beside the PRD fields."""

    energy_charged = StrictFloat(required=True, metadata={"description": "MWh at the grid."})
    energy_discharged = StrictFloat(required=True, metadata={"description": "MWh at the grid."})
    cycles = StrictFloat(
        required=True,
        metadata={"description": "Battery-side energy withdrawn / (E x (max_soc - min_soc))."},
    )
    price_mean = _price("Mean price over all hours, MXN/MWh.")
    tb1_spread_mean = _price("Mean of the daily TB1 spreads, MXN/MWh.")
    tb2_spread_mean = _price("Mean of the daily TB2 spreads, MXN/MWh.")
    tb4_spread_mean = _price("Mean of the daily TB4 spreads, MXN/MWh.")
    captured_spread = StrictFloat(
        required=True,
        allow_none=True,
        metadata={
            "description": "Energy-weighted discharge price minus energy-weighted charge price "
            "over the run, MXN/MWh; null when nothing moved."
        },
    )
    revenue_per_mw = StrictFloat(required=True, metadata={"description": "Total / P, MXN/MW."})
    revenue_per_mw_year = StrictFloat(
        required=True, metadata={"description": "Total / P x 365 / days, MXN/MW-year."}
    )
    revenue_per_mwh_year = StrictFloat(
        required=True, metadata={"description": "Total / E x 365 / days, MXN/MWh-year."}
    )
    tb_benchmark_revenue = StrictFloat(
        required=True,
        metadata={
            "description": "TBk benchmark, MXN: sum over days of (k highest - k lowest prices) "
            "x P x (max_soc - min_soc), k = duration rounded to whole hours within 1..12."
        },
    )
    pct_of_tb = StrictFloat(
        required=True,
        allow_none=True,
        metadata={"description": "100 x total / TBk benchmark; null when it is <= 0."},
    )


class AnalystComparisonFields(Schema):
    """Comparison-row key beside the PRD fields."""

    revenue_per_mw_year = StrictFloat(
        required=True, metadata={"description": "Total / P x 365 / days, MXN/MW-year."}
    )


class AnalystResponseFields(Schema):
    """Top-level keys beside the PRD fields."""

    battery = fields.Nested(BatteryEchoSchema, required=True)
    monthly = fields.List(
        fields.Nested(MonthSchema),
        required=True,
        metadata={"description": "One row per calendar month touched, in date order."},
    )


# --- JSON ----------------------------------------------------------------------------------


def add_analyst_metrics(body: dict[str, Any], report: Report, battery: Battery) -> dict[str, Any]:
    """Extend a POST /optimize ``body`` (of ``report``) with the §9 keys; returns ``body``."""
    run = report.run
    analysis = analyse(run, battery)
    echo = analysis.battery
    body["battery"] = {
        "capacity_mw": echo.capacity_mw,
        "duration_hours": echo.duration_hours,
        "energy_mwh": echo.energy_mwh,
        "round_trip_efficiency": echo.round_trip_efficiency,
        "charge_efficiency": echo.charge_efficiency,
        "discharge_efficiency": echo.discharge_efficiency,
        "min_soc": echo.min_soc,
        "max_soc": echo.max_soc,
        "initial_soc": echo.initial_soc,
        "degradation_cost_per_mwh": echo.degradation_cost_per_mwh,
        "max_cycles_per_day": echo.max_cycles_per_day,
    }
    stats = analysis.day_stats
    # ``daily_schedules`` is a ``FiniteRows`` (the JSON encoder does not walk it again): its
    # days get numbers checked finite only
    columns = (stats.price_mean, stats.price_min, stats.price_max, stats.tb4_spread)
    if not np.isfinite(np.array(columns, dtype=float)).all():
        raise ValueError("a day's price statistics hold a NaN or an infinity")
    for day, mean, low, high, tb4 in zip(
        body["daily_schedules"],
        stats.price_mean,
        stats.price_min,
        stats.price_max,
        stats.tb4_spread,
        strict=True,
    ):
        day.update(price_mean=mean, price_min=low, price_max=high, tb4_spread=tb4)
    s = analysis.summary
    body["summary"].update(
        energy_charged=s.energy_charged_mwh,
        energy_discharged=s.energy_discharged_mwh,
        cycles=s.cycles,
        price_mean=s.price_mean,
        tb1_spread_mean=s.tb1_spread_mean,
        tb2_spread_mean=s.tb2_spread_mean,
        tb4_spread_mean=s.tb4_spread_mean,
        captured_spread=s.captured_spread,
        revenue_per_mw=s.revenue_per_mw,
        revenue_per_mw_year=s.revenue_per_mw_year,
        revenue_per_mwh_year=s.revenue_per_mwh_year,
        tb_benchmark_revenue=s.tb_benchmark_revenue,
        pct_of_tb=s.pct_of_tb,
    )
    body["monthly"] = [
        {
            "month": m.month,
            "days": m.days,
            "revenue": m.revenue_mxn,
            "energy_charged": m.energy_charged_mwh,
            "energy_discharged": m.energy_discharged_mwh,
            "cycles": m.cycles,
            "price_mean": m.price_mean,
            "tb4_spread_mean": m.tb4_spread_mean,
        }
        for m in analysis.monthly
    ]
    for row in body.get("comparison") or ():
        row["revenue_per_mw_year"] = per_mw_year(
            row["total_revenue"], battery.power_mw, len(run.days)
        )
    return body


# --- CSV -----------------------------------------------------------------------------------


def schedule_csv(body: dict[str, Any]) -> str:
    """The chosen strategy's hours of a POST /optimize ``body`` (with its ``battery`` echo) as
    CSV: header row, comma-separated, dot decimals, one row per hour (SPEC §9). Every field is a
    date, a whole number, a float or an action word, so none needs quoting."""
    kappa = float(body["battery"]["degradation_cost_per_mwh"])
    lines = [",".join(CSV_COLUMNS)]
    for day in body["daily_schedules"]:
        date = day["date"]
        for step in day["schedule"]:
            power = step["power"]
            action = step["action"]
            price = step["price"]
            if action == "discharge":
                revenue = price * power - kappa * power
            elif action == "charge":
                revenue = -price * power
            else:
                revenue = 0.0
            revenue = round(revenue, _MONEY_DECIMALS) + 0.0
            lines.append(
                f"{date},{step['hour']},{price!r},{action},{power!r},{step['soc']!r},{revenue!r}"
            )
    lines.append("")
    return "\n".join(lines)
