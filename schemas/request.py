"""The POST /optimize request (SPEC §4): every validation rule lives here.

``OptimizeRequestSchema().load(json_body)`` returns an ``OptimizeRequest`` holding domain
objects (``optimizer.Battery``, ``prices.PriceQuery`` or inline ``optimizer.MarketDay`` s) or
raises ``marshmallow.ValidationError`` whose messages mirror the request's structure.

Bounds beyond the physics of SPEC §2 (documented in the README and in /openapi.json):
capacity_mw 0.001 .. 100 000 MW, duration_hours 0.01 .. 168 h (a week), efficiencies
0.01 .. 1, degradation_cost_per_mwh 0 .. 100 000 MXN/MWh, max_cycles_per_day 0.1 .. 100,
|inline price| <= 1 000 000 MXN/MWh, dates within 2000-01-01 .. 2100-12-31, at most 366
market days per request.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from optimizer import (
    ALLOWED_HOURS_PER_DAY,
    STRATEGIES,
    Battery,
    Horizon,
    InvalidBatteryError,
    MarketDay,
)
from prices import PriceQuery, Process, System
from schemas.fields import DateOrDateTime, StrictBoolean, StrictDate, StrictFloat, ZoneKey

MAX_DAYS = 366
#: Lower bounds keep the programs numerically sane (SPEC §2 only asks for > 0): a 1 kW battery,
#: a 36-second duration, a 1 % efficiency and 0.1 cycles a day are the smallest accepted.
MIN_CAPACITY_MW = 0.001
MIN_DURATION_HOURS = 0.01
MIN_EFFICIENCY = 0.01
MIN_CYCLES_PER_DAY = 0.1
MAX_CAPACITY_MW = 100_000.0
MAX_DURATION_HOURS = 168.0
MAX_DEGRADATION_COST = 100_000.0
MAX_CYCLES_PER_DAY = 100.0
MAX_ABS_PRICE = 1_000_000.0
MAX_INLINE_PRICES = MAX_DAYS * max(ALLOWED_HOURS_PER_DAY)


_FRACTION = validate.Range(min=0, max=1)
_EFFICIENCY = validate.Range(min=MIN_EFFICIENCY, max=1)


class StrictSchema(Schema):
    """Unknown fields are errors everywhere."""

    class Meta:
        unknown = RAISE


@dataclass(frozen=True, kw_only=True)
class OptimizeRequest:
    """A validated POST /optimize request as domain objects.

    Exactly one of ``query`` (prices to fetch) and ``inline_days`` (the caller's prices) is set.
    """

    battery: Battery
    query: PriceQuery | None
    inline_days: tuple[MarketDay, ...] | None
    zone: str | None
    system: System
    process: Process
    start: dt.date
    end: dt.date
    strategy: str
    horizon: Horizon
    compare: bool


class BatteryParamsSchema(StrictSchema):
    capacity_mw = StrictFloat(
        required=True,
        validate=validate.Range(min=MIN_CAPACITY_MW, max=MAX_CAPACITY_MW),
        metadata={
            "description": "Power limit P (MW at the grid), charging and discharging.",
        },
    )
    duration_hours = StrictFloat(
        required=True,
        validate=validate.Range(min=MIN_DURATION_HOURS, max=MAX_DURATION_HOURS),
        metadata={
            "description": "Energy capacity E = capacity_mw * duration_hours (MWh).",
        },
    )
    efficiency = StrictFloat(
        validate=_EFFICIENCY,
        metadata={
            "description": "Round-trip efficiency in [0.01, 1], split sqrt(eta) each way. Required "
            "unless charge_efficiency and discharge_efficiency are both given.",
        },
    )
    charge_efficiency = StrictFloat(
        validate=_EFFICIENCY,
        metadata={
            "description": "One-way charging efficiency; give both or neither.",
        },
    )
    discharge_efficiency = StrictFloat(
        validate=_EFFICIENCY,
        metadata={
            "description": "One-way discharging efficiency; give both or neither.",
        },
    )
    min_soc = StrictFloat(
        load_default=0.0,
        validate=_FRACTION,
        metadata={"description": "Lowest state of charge, fraction of E (default 0)."},
    )
    max_soc = StrictFloat(
        load_default=1.0,
        validate=_FRACTION,
        metadata={"description": "Highest state of charge, fraction of E (default 1)."},
    )
    initial_soc = StrictFloat(
        validate=_FRACTION,
        metadata={"description": "State of charge at 00:00 of every day (default min_soc)."},
    )
    degradation_cost_per_mwh = StrictFloat(
        load_default=0.0,
        validate=validate.Range(min=0, max=MAX_DEGRADATION_COST),
        metadata={"description": "Cost per MWh discharged to the grid (MXN/MWh, default 0)."},
    )
    max_cycles_per_day = StrictFloat(
        validate=validate.Range(min=MIN_CYCLES_PER_DAY, max=MAX_CYCLES_PER_DAY),
        metadata={
            "description": "Limit on battery-side energy withdrawn per day, in cycles.",
        },
    )

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        has_charge = "charge_efficiency" in data
        has_discharge = "discharge_efficiency" in data
        if has_charge != has_discharge:
            missing = "discharge_efficiency" if has_charge else "charge_efficiency"
            errors[missing] = ["charge_efficiency and discharge_efficiency must be given together."]
        if "efficiency" not in data and not (has_charge and has_discharge):
            errors["efficiency"] = ["Missing data for required field."]
        lo, hi = data["min_soc"], data["max_soc"]
        if lo >= hi:
            errors["min_soc"] = ["Must be less than max_soc."]
        elif "initial_soc" in data and not lo <= data["initial_soc"] <= hi:
            errors["initial_soc"] = ["Must lie between min_soc and max_soc."]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _battery(self, data: dict[str, Any], **kwargs: Any) -> Battery:
        one_way = "charge_efficiency" in data
        try:
            return Battery(
                power_mw=data["capacity_mw"],
                duration_h=data["duration_hours"],
                round_trip_efficiency=data.get(
                    "efficiency",
                    data["charge_efficiency"] * data["discharge_efficiency"] if one_way else 0.0,
                ),
                charge_efficiency=data.get("charge_efficiency"),
                discharge_efficiency=data.get("discharge_efficiency"),
                min_soc=data["min_soc"],
                max_soc=data["max_soc"],
                initial_soc=data.get("initial_soc"),
                degradation_cost_mxn_per_mwh=data["degradation_cost_per_mwh"],
                max_cycles_per_day=data.get("max_cycles_per_day"),
            )
        except InvalidBatteryError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None


class InlinePriceSchema(StrictSchema):
    date = StrictDate(required=True, metadata={"description": "Market day (local)."})
    hour = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0, max=max(ALLOWED_HOURS_PER_DAY) - 1),
        metadata={"description": "0-based, hour-beginning, local market time."},
    )
    price = StrictFloat(
        required=True,
        validate=validate.Range(min=-MAX_ABS_PRICE, max=MAX_ABS_PRICE),
        metadata={"description": "MXN/MWh; zero and negative prices are allowed."},
    )


class MarketParamsSchema(StrictSchema):
    zone = ZoneKey(
        metadata={
            "description": "CENACE load zone (APATZINGAN) or node key (01PLO-115); required "
            "unless prices are given."
        }
    )
    system = fields.Enum(System, by_value=True, load_default=System.SIN)
    process = fields.Enum(Process, by_value=True, load_default=Process.MDA)
    start_date = DateOrDateTime(
        metadata={"description": "First market day (its date is used); required unless prices."}
    )
    end_date = DateOrDateTime(
        metadata={"description": "Last market day, inclusive; required unless prices."}
    )
    prices = fields.List(
        fields.Nested(InlinePriceSchema),
        validate=validate.Length(min=1, max=MAX_INLINE_PRICES),
        metadata={
            "description": "Your own hourly prices; when present nothing is fetched. One "
            "entry per hour, hours 0..n-1 of each day with n in 23, 24, 25."
        },
    )

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        inline = "prices" in data
        if not inline:
            for key in ("zone", "start_date", "end_date"):
                if key not in data:
                    errors[key] = ["Missing data for required field (no inline prices given)."]
        start, end = data.get("start_date"), data.get("end_date")
        if start is not None and end is not None:
            if end < start:
                errors["end_date"] = ["Must not be before start_date."]
            elif (end - start).days + 1 > MAX_DAYS:
                errors["end_date"] = [f"The range covers more than {MAX_DAYS} market days."]
        if inline and not errors:
            price_errors = _check_inline(data["prices"], start=start, end=end)
            if price_errors:
                errors["prices"] = price_errors
        if errors:
            raise ValidationError(errors)


def _check_inline(
    items: list[dict[str, Any]], *, start: dt.date | None, end: dt.date | None
) -> dict[Any, list[str]]:
    """Per-item and per-list messages for inline prices (keys: index or ``_schema``)."""
    errors: dict[Any, list[str]] = {}
    seen: dict[tuple[dt.date, int], int] = {}
    hours: defaultdict[dt.date, set[int]] = defaultdict(set)
    for index, item in enumerate(items):
        key = (item["date"], item["hour"])
        if key in seen:
            errors[index] = [f"Duplicate of item {seen[key]} ({key[0].isoformat()} hour {key[1]})."]
            continue
        seen[key] = index
        hours[item["date"]].add(item["hour"])
        if (start is not None and item["date"] < start) or (end is not None and item["date"] > end):
            errors[index] = ["Date outside start_date .. end_date."]
    problems: list[str] = []
    if len(hours) > MAX_DAYS:
        problems.append(f"Prices cover more than {MAX_DAYS} market days.")
    for day in sorted(hours):
        n = len(hours[day])
        if hours[day] != set(range(n)) or n not in ALLOWED_HOURS_PER_DAY:
            problems.append(
                f"{day.isoformat()}: needs one price for each hour 0..n-1 with n in 23, 24 or "
                f"25 and no gaps (got {n} hours)."
            )
    if problems:
        errors["_schema"] = problems
    return errors


class OptimizeRequestSchema(StrictSchema):
    battery_params = fields.Nested(BatteryParamsSchema, required=True)
    market_params = fields.Nested(MarketParamsSchema, required=True)
    strategy = fields.String(
        load_default="optimal",
        validate=validate.OneOf(list(STRATEGIES)),
        metadata={"description": "Strategy whose schedules are returned (see GET /strategies)."},
    )
    compare = StrictBoolean(
        load_default=True,
        metadata={"description": "Also run every other strategy on the same prices."},
    )
    horizon = fields.Enum(
        Horizon,
        by_value=True,
        load_default=Horizon.DAILY,
        metadata={
            "description": "daily: every day ends where it started; continuous: "
            "the state of charge carries over midnight."
        },
    )

    @post_load
    def _request(self, data: dict[str, Any], **kwargs: Any) -> OptimizeRequest:
        market = data["market_params"]
        inline_days: tuple[MarketDay, ...] | None = None
        query: PriceQuery | None = None
        if "prices" in market:
            by_day: defaultdict[dt.date, dict[int, float]] = defaultdict(dict)
            for item in market["prices"]:
                by_day[item["date"]][item["hour"]] = item["price"]
            inline_days = tuple(
                MarketDay(day, tuple(prices[h] for h in range(len(prices))))
                for day, prices in sorted(by_day.items())
            )
            start = market.get("start_date", inline_days[0].date)
            end = market.get("end_date", inline_days[-1].date)
        else:
            start, end = market["start_date"], market["end_date"]
            query = PriceQuery(
                zone=market["zone"],
                system=market["system"],
                process=market["process"],
                start=start,
                end=end,
            )
        return OptimizeRequest(
            battery=data["battery_params"],
            query=query,
            inline_days=inline_days,
            zone=market.get("zone"),
            system=market["system"],
            process=market["process"],
            start=start,
            end=end,
            strategy=data["strategy"],
            horizon=data["horizon"],
            compare=data["compare"],
        )
