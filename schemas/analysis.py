"""POST /sizing, POST /siting and GET /zones (SPEC §10): requests, validation and the documented
response shapes.

Sizing takes §4's battery without ``duration_hours`` plus ``durations_hours`` (1..16 distinct
values in [0.01, 168] h, the bounds of §4's ``duration_hours``); siting takes §4's battery and
``zones`` (1..108 distinct load zones or node keys, or ``"all"``), with zones x days at most
40,000. Every rule here answers 422 with exact field paths. A well-formed zone key the
catalogue does not know is not one of them: SPEC §10 lists it in the siting answer's
``failed`` (404) beside the ranked zones, so the schema keeps it as an :class:`UnknownSite`.

Bounded work per byte (SPEC §13), as for POST /optimize: both request schemas are
``BoundedErrorsSchema`` s (at most ``MAX_LISTED_ERRORS`` field errors listed, plus a count of the
rest), and each list's length is checked before any of its items (``durations_hours``,
``zones``; inline prices as in §4).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from optimizer import STRATEGIES, Battery, Horizon
from prices import Process, System
from prices.zones import ZONES, close_matches, node_zone, tie_node_system
from schemas.fields import ZONE_PATTERN, DateOrDateTime, StrictFloat, ZoneKey
from schemas.request import (
    MAX_DAYS,
    MAX_DURATION_HOURS,
    MAX_LISTED_ERRORS,
    MIN_DURATION_HOURS,
    BatteryParamsSchema,
    BoundedErrorsSchema,
    MarketParamsSchema,
    OptimizeRequest,
    OptimizeRequestSchema,
    StrictSchema,
)
from schemas.response import MarketSchema

DEFAULT_DURATIONS_HOURS = (1.0, 2.0, 4.0, 6.0, 8.0)
MAX_DURATIONS = 16
#: the catalogue has 108 load zones (a constant: the catalogue loads on first use only)
MAX_SITING_ZONES = 108
#: zones x days of one siting request (the CLI may run more)
MAX_ZONE_DAYS = 40_000
ALL_ZONES = "all"
#: unknown keys of one siting request whose ``failed`` detail suggests close catalogue names
#: (each suggestion is a search of the catalogue: bounded work per byte, SPEC §13)
MAX_HINTED_KEYS = MAX_LISTED_ERRORS

_DURATION_HINT = (
    "Not used by /sizing: give the durations to compare in durations_hours at the top level, "
    "e.g. [1, 2, 4]."
)


# --- domain requests -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SizingRequest:
    """One market, one power, several durations. ``base`` is the POST /optimize request of
    the first duration (``compare`` off); ``with_duration`` gives any other."""

    base: OptimizeRequest
    durations_hours: tuple[float, ...]

    def with_duration(self, hours: float) -> OptimizeRequest:
        battery = dataclasses.replace(self.base.battery, duration_h=hours)
        return dataclasses.replace(self.base, battery=battery)


@dataclass(frozen=True, kw_only=True)
class Site:
    zone: str
    system: System


@dataclass(frozen=True, kw_only=True)
class UnknownSite:
    """A well-formed key of ``zones`` that is no load zone or node of the catalogue: not
    fetched, listed in ``failed`` with 404 (SPEC §10)."""

    key: str


@dataclass(frozen=True, kw_only=True)
class SitingRequest:
    battery: Battery
    #: every key of ``zones``, in the request's order (``"all"``: the catalogue's order)
    requested: tuple[Site | UnknownSite, ...]
    process: Process
    start: dt.date
    end: dt.date
    strategy: str
    horizon: Horizon

    @property
    def sites(self) -> tuple[Site, ...]:
        """The keys the catalogue knows, in the request's order: the ones fetched."""
        return tuple(entry for entry in self.requested if isinstance(entry, Site))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def resolve_site(key: str) -> Site | None:
    """The load zone (catalogue spelling, '-' read as a space) or node key and its system, or
    ``None`` when the catalogue does not know it."""
    for name in (key, key.replace("-", " ")):
        system = ZONES.get(name)
        if system is not None:
            return Site(zone=name, system=system)
    zone = node_zone(key)
    if zone is not None:
        return Site(zone=key, system=ZONES[zone])
    tie = tie_node_system(key)
    if tie is not None:
        return Site(zone=key, system=tie)
    return None


def unknown_site_detail(key: str, *, hint: bool = True) -> str:
    """The ``failed`` detail of a key the catalogue does not know: it names the key, says
    where the valid ones are listed and (``hint``) suggests the closest catalogue names, a
    search of milliseconds for a node-like key."""
    hints = close_matches(key) if hint else []
    suggestion = f" Did you mean {', '.join(hints)}?" if hints else ""
    return (
        f"Unknown load zone or node {key!r}: not in the catalogue of CENACE load zones and "
        f"NodosP (GET /zones lists the load zones).{suggestion}"
    )


# --- sizing --------------------------------------------------------------------------------


class SizingBatteryParamsSchema(BatteryParamsSchema):
    """§4's battery without ``duration_hours`` (the durations are the sweep)."""

    class Meta(StrictSchema.Meta):
        exclude = ("duration_hours",)

    @pre_load
    def _no_duration(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and "duration_hours" in data:
            raise ValidationError({"duration_hours": [_DURATION_HINT]})
        return data

    @post_load
    def _battery(self, data: dict[str, Any], **kwargs: Any) -> Battery:
        # a placeholder duration: every row replaces it with one of durations_hours
        battery: Battery = BatteryParamsSchema._battery(
            self, {**data, "duration_hours": 1.0}, **kwargs
        )
        return battery


class DurationsField(fields.List[Any]):
    """``durations_hours``: at most ``MAX_DURATIONS`` items, counted before any item is
    looked at (SPEC §13), unless the schema's ``api_limits`` is off (the CLI)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        limits = getattr(self.parent, "api_limits", True)
        if limits and isinstance(value, list) and len(value) > MAX_DURATIONS:
            raise ValidationError(f"Give at most {MAX_DURATIONS} durations.")
        return super()._deserialize(value, attr, data, **kwargs)


class SizingRequestSchema(BoundedErrorsSchema):
    """``api_limits=False`` (the ``flask sizing`` command) lifts the 16-duration limit."""

    def __init__(self, *, api_limits: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_limits = api_limits

    battery_params = fields.Nested(SizingBatteryParamsSchema, required=True)
    market_params = fields.Nested(MarketParamsSchema, required=True)
    durations_hours = DurationsField(
        StrictFloat(validate=validate.Range(min=MIN_DURATION_HOURS, max=MAX_DURATION_HOURS)),
        load_default=lambda: list(DEFAULT_DURATIONS_HOURS),
        validate=validate.Length(min=1, error="Give at least one duration."),
        metadata={
            "maxItems": MAX_DURATIONS,
            "description": f"Durations to compare (hours, distinct, {MIN_DURATION_HOURS:g} to "
            f"{MAX_DURATION_HOURS:g}, at most {MAX_DURATIONS}); rows come back in ascending "
            "order. Default [1, 2, 4, 6, 8].",
            "example": [1, 2, 4, 6, 8],
        },
    )
    strategy = fields.String(
        load_default="optimal",
        validate=validate.OneOf(list(STRATEGIES)),
        metadata={"description": "Strategy run at every duration (see GET /strategies)."},
    )
    horizon = fields.Enum(Horizon, by_value=True, load_default=Horizon.DAILY)

    @validates("durations_hours")
    def _distinct(self, value: list[float], **kwargs: Any) -> None:
        seen: dict[float, int] = {}
        errors: dict[int, list[str]] = {}
        for index, hours in enumerate(value):
            if hours in seen:
                errors[index] = [f"Duplicate of item {seen[hours]} ({hours:g} h)."]
            else:
                seen[hours] = index
        if errors:
            raise ValidationError(errors)

    @post_load
    def _request(self, data: dict[str, Any], **kwargs: Any) -> SizingRequest:
        durations = tuple(sorted(data["durations_hours"]))
        optimize_data = {
            "battery_params": dataclasses.replace(data["battery_params"], duration_h=durations[0]),
            "market_params": data["market_params"],
            "strategy": data["strategy"],
            "horizon": data["horizon"],
            "compare": False,
        }
        base = OptimizeRequestSchema._request(self, optimize_data)
        return SizingRequest(base=base, durations_hours=durations)


# --- siting --------------------------------------------------------------------------------


class ZonesField(fields.Field[Any]):
    """A list of distinct zone or node keys, or the string ``"all"``: at most
    ``MAX_SITING_ZONES`` items, counted before any item is looked at (SPEC §13), unless the
    schema's ``api_limits`` is off (the CLI: any list of nodes, SPEC §10).

    Deserialises to ``Site`` s and ``UnknownSite`` s in the request's order. A key that is not
    a string, is empty or breaks ``ZONE_PATTERN``, or repeats an earlier one (a zone read
    through '-' or not, or the same unknown key) is a 422 at its index; a well-formed key the
    catalogue does not know is an ``UnknownSite`` (404 in ``failed``, SPEC §10)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {
            "oneOf": [
                {
                    "type": "array",
                    "items": {"type": "string", "pattern": ZONE_PATTERN},
                    "minItems": 1,
                    "maxItems": MAX_SITING_ZONES,
                },
                {"type": "string", "enum": [ALL_ZONES]},
            ],
            **kwargs.get("metadata", {}),
        }
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if value == ALL_ZONES:
            return tuple(Site(zone=zone, system=system) for zone, system in ZONES.items())
        if not isinstance(value, list):
            raise ValidationError(
                f'Must be a list of zone or node keys or the string "{ALL_ZONES}".'
            )
        limits = getattr(self.parent, "api_limits", True)
        if not value or (limits and len(value) > MAX_SITING_ZONES):
            raise ValidationError(
                f"Give 1 to {MAX_SITING_ZONES} zones or nodes."
                if limits
                else "Give at least one zone or node."
            )
        key_field = ZoneKey()
        errors: dict[int, list[str]] = {}
        requested: list[Site | UnknownSite] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(value):
            try:
                key = key_field.deserialize(item)
            except ValidationError as exc:
                errors[index] = (
                    list(exc.messages) if isinstance(exc.messages, list) else [str(exc.messages)]
                )
                continue
            site = resolve_site(key)
            entry: Site | UnknownSite = UnknownSite(key=key) if site is None else site
            name = key if site is None else site.zone
            if name in seen:
                errors[index] = [f"Duplicate of item {seen[name]} ({name})."]
            else:
                seen[name] = index
                requested.append(entry)
        if errors:
            raise ValidationError(errors)
        return tuple(requested)


class SitingMarketParamsSchema(StrictSchema):
    """``api_limits``: set by :class:`SitingRequestSchema` for its ``zones``."""

    def __init__(self, *, api_limits: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_limits = api_limits

    zones = ZonesField(
        required=True,
        metadata={
            "description": f"1 to {MAX_SITING_ZONES} distinct CENACE load zones or node keys "
            f'(each one\'s system comes from the catalogue), or "{ALL_ZONES}" for every load '
            f"zone; zones x days at most {MAX_ZONE_DAYS:,}. A key the catalogue does not know "
            "is listed in the answer's `failed` with status 404 (GET /zones lists the load "
            "zones); the others are still ranked.",
            "example": ["APATZINGAN", "MONTERREY", "VDM CENTRO"],
        },
    )
    process = fields.Enum(Process, by_value=True, load_default=Process.MDA)
    start_date = DateOrDateTime(required=True, metadata={"description": "First market day."})
    end_date = DateOrDateTime(
        required=True, metadata={"description": "Last market day, inclusive."}
    )

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["end_date"] < data["start_date"]:
            raise ValidationError({"end_date": ["Must not be before start_date."]})


class SitingRequestSchema(BoundedErrorsSchema):
    """``api_limits=False`` (the ``flask siting`` command) lifts the 366-day, 108-zone and
    zone-day limits: nothing times a terminal out."""

    def __init__(self, *, api_limits: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_limits = api_limits
        market = self.fields["market_params"]
        if isinstance(market, fields.Nested) and isinstance(market.schema, Schema):
            market.schema.api_limits = api_limits  # type: ignore[attr-defined]

    battery_params = fields.Nested(BatteryParamsSchema, required=True)
    market_params = fields.Nested(SitingMarketParamsSchema, required=True)
    strategy = fields.String(
        load_default="optimal",
        validate=validate.OneOf(list(STRATEGIES)),
        metadata={"description": "Strategy ranked in every zone (see GET /strategies)."},
    )
    horizon = fields.Enum(Horizon, by_value=True, load_default=Horizon.DAILY)

    @validates_schema
    def _limits(self, data: dict[str, Any], **kwargs: Any) -> None:
        market = data["market_params"]
        days = (market["end_date"] - market["start_date"]).days + 1
        if not self.api_limits:
            return
        if days > MAX_DAYS:
            raise ValidationError(
                {
                    "market_params": {
                        "end_date": [f"The range covers more than {MAX_DAYS} market days."]
                    }
                }
            )
        zones = len(market["zones"])
        if zones * days > MAX_ZONE_DAYS:
            raise ValidationError(
                {
                    "market_params": {
                        "zones": [
                            f"{zones} zones x {days} days is more than {MAX_ZONE_DAYS:,} "
                            "zone-days; ask for fewer zones or days (the `flask siting` "
                            "command has no such limit)."
                        ]
                    }
                }
            )

    @post_load
    def _request(self, data: dict[str, Any], **kwargs: Any) -> SitingRequest:
        market = data["market_params"]
        return SitingRequest(
            battery=data["battery_params"],
            requested=market["zones"],
            process=market["process"],
            start=market["start_date"],
            end=market["end_date"],
            strategy=data["strategy"],
            horizon=data["horizon"],
        )


class ZonesQuerySchema(StrictSchema):
    system = fields.Enum(System, by_value=True, metadata={"description": "Only this system."})


# --- responses (the documented contract) ---------------------------------------------------


class SizingRowSchema(Schema):
    duration_hours = StrictFloat(required=True)
    energy_mwh = StrictFloat(required=True)
    total_revenue = StrictFloat(required=True, metadata={"description": "MXN over the period."})
    revenue_per_mw_year = StrictFloat(required=True, metadata={"description": "MXN/MW-year."})
    revenue_per_mwh_year = StrictFloat(required=True, metadata={"description": "MXN/MWh-year."})
    marginal_revenue_per_mwh_year = StrictFloat(
        required=True,
        allow_none=True,
        metadata={
            "description": "Extra annualised revenue per extra MWh of capacity over the "
            "previous row (MXN/MWh-year); null for the first row."
        },
    )
    energy_discharged = StrictFloat(required=True, metadata={"description": "MWh at the grid."})
    cycles = StrictFloat(required=True)
    pct_of_tb = StrictFloat(
        required=True,
        allow_none=True,
        metadata={"description": "100 x revenue / TBk benchmark; null when it is <= 0."},
    )


class SizingResponseSchema(Schema):
    market = fields.Nested(MarketSchema, required=True)
    strategy = fields.String(required=True)
    horizon = fields.Enum(Horizon, by_value=True, required=True)
    capacity_mw = StrictFloat(required=True)
    rows = fields.List(fields.Nested(SizingRowSchema), required=True)


class SitingRowSchema(Schema):
    rank = fields.Integer(required=True, metadata={"description": "1 = earns most."})
    zone = fields.String(required=True)
    system = fields.Enum(System, by_value=True, required=True)
    total_revenue = StrictFloat(required=True)
    revenue_per_mw_year = StrictFloat(required=True)
    price_mean = StrictFloat(required=True, metadata={"description": "MXN/MWh over all hours."})
    tb4_spread_mean = StrictFloat(required=True, metadata={"description": "MXN/MWh."})
    pct_of_tb = StrictFloat(required=True, allow_none=True)
    cycles = StrictFloat(required=True)
    forecast_pct_of_optimal = StrictFloat(
        required=True,
        allow_none=True,
        metadata={
            "description": "What the no-foresight `forecast` strategy captures there, % of "
            "optimal; null when the optimum is <= 0."
        },
    )


class SitingFailureSchema(Schema):
    zone = fields.String(
        required=True,
        metadata={"description": "The zone or node (catalogue spelling), or an unknown key."},
    )
    status = fields.Integer(
        required=True,
        metadata={
            "description": "404 (not in the catalogue, or no prices for the dates), 502 "
            "(the price source failed) or 504 (not fetched or optimised by the deadline)."
        },
    )
    detail = fields.String(required=True)


class SitingMarketSchema(Schema):
    process = fields.Enum(Process, by_value=True, required=True)
    source = fields.String(required=True)
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    currency = fields.String(required=True)
    price_unit = fields.String(required=True)


class SitingResponseSchema(Schema):
    strategy = fields.String(required=True)
    horizon = fields.Enum(Horizon, by_value=True, required=True)
    market = fields.Nested(SitingMarketSchema, required=True)
    rows = fields.List(
        fields.Nested(SitingRowSchema),
        required=True,
        metadata={"description": "Sorted by total_revenue, highest first."},
    )
    failed = fields.List(
        fields.Nested(SitingFailureSchema),
        required=True,
        metadata={
            "description": "Zones whose prices could not be had, unknown keys among them "
            "(the others are ranked), in the order of the request's `zones`."
        },
    )


class ZoneInfoSchema(Schema):
    zone = fields.String(required=True)
    system = fields.Enum(System, by_value=True, required=True)
    nodes = fields.Integer(required=True, metadata={"description": "NodosP in the zone."})


class ZonesResponseSchema(Schema):
    zones = fields.List(fields.Nested(ZoneInfoSchema), required=True)


SIZING_EXAMPLE: dict[str, Any] = {
    "battery_params": {"capacity_mw": 10, "efficiency": 0.85, "min_soc": 0.1, "max_soc": 1.0},
    "market_params": {
        "zone": "APATZINGAN",
        "start_date": "2024-01-01",
        "end_date": "2024-12-31",
    },
    "durations_hours": [1, 2, 4, 6, 8],
    "strategy": "optimal",
    "horizon": "daily",
}
SITING_EXAMPLE: dict[str, Any] = {
    "battery_params": {"capacity_mw": 10, "duration_hours": 4, "efficiency": 0.85},
    "market_params": {
        "zones": ["APATZINGAN", "MONTERREY", "VDM CENTRO"],
        "process": "MDA",
        "start_date": "2024-01-01",
        "end_date": "2024-12-31",
    },
    "strategy": "optimal",
}
