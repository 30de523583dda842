"""The POST /optimize request (SPEC §4): every validation rule lives here.

``OptimizeRequestSchema().load(json_body)`` returns an ``OptimizeRequest`` holding domain
objects (``optimizer.Battery``, the ``Market`` asked about and, for inline prices, the
``optimizer.MarketDay`` s) or raises ``marshmallow.ValidationError`` whose messages mirror the
request's structure.

Inline price lists (up to 366 x 25 items) are checked in one pass over the list rather than
through a nested schema per item (which cost ~19 us an item): the list's length first, then
every item's keys and types, then the values as arrays. Only items that fail go through the
item schema (``InlinePriceSchema``), so their messages and paths
(``market_params.prices.8783.price``) are marshmallow's; at most ``MAX_LISTED_ERRORS`` field
errors are listed, plus a count of the rest.

The priced days of an inline list are consecutive calendar days (SPEC §4: inline prices with
gaps are a 422): ``prices`` cover every day from ``start_date`` (else their first day) to
``end_date`` (else their last), a span of at most 366 days; ``history_prices`` every day from
their first up to the day before the first requested day, as fetched history does; and
``forecast_prices`` every requested day. One message names the first few runs of missing days
and counts the rest.

Bounds beyond the physics of SPEC §2 (documented in the README and in /openapi.json):
capacity_mw 0.001 .. 100 000 MW, duration_hours 0.01 .. 168 h (a week), efficiencies
0.01 .. 1, degradation_cost_per_mwh 0 .. 100 000 MXN/MWh, max_cycles_per_day 0.1 .. 100,
|inline price| <= 1 000 000 MXN/MWh, dates within 2016-01-01 .. 2100-12-31, at most 366
market days per request.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
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
from schemas.fields import (
    MAX_DATE,
    MIN_DATE,
    DateOrDateTime,
    StrictBoolean,
    StrictDate,
    StrictFloat,
    ZoneKey,
)

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
#: field errors listed in one 422 (the rest are counted): error bodies stay small (SPEC §13)
MAX_LISTED_ERRORS = 50


_FRACTION = validate.Range(min=0, max=1)
_EFFICIENCY = validate.Range(min=MIN_EFFICIENCY, max=1)


class StrictSchema(Schema):
    """Unknown fields are errors everywhere, and where an object is expected anything else
    (an array, a number, null at the top) is named as such, not "Invalid input type."."""

    error_messages = {"type": "Must be a JSON object."}  # noqa: RUF012 (marshmallow merges it)

    class Meta:
        unknown = RAISE


#: longest field name quoted back in an error path (names come from the client)
MAX_ERROR_KEY_CHARS = 80


class BoundedErrorsSchema(StrictSchema):
    """A top-level request schema whose ValidationError lists at most ``MAX_LISTED_ERRORS``
    field errors (in request order) plus a count of the rest under ``_schema``, and quotes
    client-chosen field names cut to ``MAX_ERROR_KEY_CHARS``: error bodies stay small
    whatever the body held (SPEC §13)."""

    def handle_error(self, error: ValidationError, data: Any, *, many: bool, **kwargs: Any) -> None:
        budget = [MAX_LISTED_ERRORS]
        bounded = _bounded(error.messages, budget)
        omitted = _count_fields(error.messages, skip="_schema") - MAX_LISTED_ERRORS + budget[0]
        if omitted > 0:
            bounded = bounded if isinstance(bounded, dict) else {"_schema": bounded}
            bounded.setdefault("_schema", [])
            bounded["_schema"] = [*bounded["_schema"], _unlisted_message(omitted, "fields have")]
        raise ValidationError(bounded) from None


def _bounded(messages: Any, budget: list[int]) -> Any:
    """The first ``budget[0]`` field errors of ``messages`` (nested dicts of message lists)
    with long keys cut; ``budget[0]`` is decreased by the field errors kept. Whole-object
    messages (``_schema``, written by our own validators, a few each) are always kept."""
    if not isinstance(messages, dict):
        budget[0] -= 1
        return messages
    kept: dict[Any, Any] = {}
    for key, value in messages.items():
        if key == "_schema":
            kept[key] = value
            continue
        if budget[0] <= 0:
            continue
        name = key
        if isinstance(key, str) and len(key) > MAX_ERROR_KEY_CHARS:
            name = key[:MAX_ERROR_KEY_CHARS] + "..."
        kept[name] = _bounded(value, budget)
    return kept


@dataclass(frozen=True, kw_only=True)
class Market:
    """The market a request is about: zone or node (None for inline prices without one),
    system, process and the market days ``start`` .. ``end`` inclusive."""

    zone: str | None
    system: System
    process: Process
    start: dt.date
    end: dt.date

    def query(self) -> PriceQuery:
        """The price query for this market (needs a zone)."""
        if self.zone is None:
            raise ValueError("a price query needs a zone")
        return PriceQuery(
            zone=self.zone,
            system=self.system,
            process=self.process,
            start=self.start,
            end=self.end,
        )


@dataclass(frozen=True, kw_only=True)
class OptimizeRequest:
    """A validated POST /optimize request as domain objects.

    ``inline_days`` holds the caller's prices; when it is None the prices of ``market`` are
    fetched (``query``).
    """

    battery: Battery
    market: Market
    inline_days: tuple[MarketDay, ...] | None
    strategy: str
    horizon: Horizon
    compare: bool
    #: ``market_params.history_prices`` (days before ``start_date``), or None (SPEC §11)
    history_days: tuple[MarketDay, ...] | None = None
    #: ``market_params.forecast_prices`` (one day per requested day), or None (SPEC §11)
    forecast_days: tuple[MarketDay, ...] | None = None

    @property
    def query(self) -> PriceQuery | None:
        """What to fetch, or None when the prices came with the request."""
        return None if self.inline_days is not None else self.market.query()


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
        allow_none=True,  # null is no limit, as absent, and as the response echoes it
        metadata={
            "description": "Limit on battery-side energy withdrawn per day, in cycles (absent "
            "or null: no limit).",
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
        if has_charge and has_discharge:
            product = data["charge_efficiency"] * data["discharge_efficiency"]
            if product < MIN_EFFICIENCY:
                message = (
                    f"charge_efficiency * discharge_efficiency (the round trip) is {product:.6g}; "
                    f"it must be at least {MIN_EFFICIENCY}."
                )
                errors["charge_efficiency"] = [message]
                errors["discharge_efficiency"] = [message]
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


_ITEM_KEYS = frozenset(InlinePriceSchema().fields)
#: a calendar date as the item schema's field accepts it, checked without marshmallow
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ITEM_SCHEMA = InlinePriceSchema()
_DATE_FIELD = StrictDate()
#: hour slots per day in the (day, hour) keys of the checks
_SLOTS = max(ALLOWED_HOURS_PER_DAY)
_LENGTH = validate.Length(min=1, max=MAX_INLINE_PRICES)


@dataclass(frozen=True, eq=False)
class InlinePrices:
    """Inline price items that passed the per-item rules, as arrays in request order:
    ``day`` (proleptic ordinal of the date), ``hour`` and ``price`` (MXN/MWh)."""

    day: np.ndarray
    hour: np.ndarray
    price: np.ndarray

    def __len__(self) -> int:
        return int(self.price.size)

    def market_days(self) -> tuple[MarketDay, ...]:
        """The items grouped into market days, in date order (run the list checks first)."""
        order = np.argsort(self.day * _SLOTS + self.hour, kind="stable")
        days, starts = np.unique(self.day[order], return_index=True)
        return MarketDay.split(
            [dt.date.fromordinal(day) for day in days.tolist()],
            self.price[order],
            [*starts.tolist(), order.size],
        )


class InlinePriceList(fields.List[Any]):
    """``market_params.prices``: documented as a list of ``InlinePriceSchema`` items, loaded
    in one pass (length first, then keys and types, then values as arrays) into
    ``InlinePrices``. Items that fail are loaded through the item schema for their messages."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.Nested(InlinePriceSchema), validate=_LENGTH, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, list):
            raise self.make_error("invalid")
        _LENGTH(value)  # before looking at any item (SPEC §13)
        fast = _load_columns(value)
        if fast is not None:
            return fast
        return _load_items(value)


def _load_columns(items: list[Any]) -> InlinePrices | None:
    """The whole list at array speed (C-level passes over it), or None when any item needs
    a closer look."""
    if set(map(type, items)) != {dict} or set(map(len, items)) != {len(_ITEM_KEYS)}:
        return None
    try:  # three keys each, all of them ours: exactly the item schema's fields
        dates = [item["date"] for item in items]
        hours = [item["hour"] for item in items]
        prices = [item["price"] for item in items]
    except KeyError:
        return None
    if set(map(type, dates)) != {str} or set(map(type, hours)) != {int}:
        return None
    if not set(map(type, prices)) <= {int, float}:
        return None
    day_of = _valid_dates(set(dates))
    try:
        hour = np.array(hours, dtype=np.int64)
        price = np.array(prices, dtype=float)
        day = np.array(list(map(day_of.__getitem__, dates)), dtype=np.int64)
    except (KeyError, OverflowError):
        return None
    if not ((hour >= 0) & (hour < _SLOTS)).all():
        return None
    if not (np.abs(price) <= MAX_ABS_PRICE).all():  # NaN fails too
        return None
    price.flags.writeable = False
    return InlinePrices(day=day, hour=hour, price=price)


def _valid_dates(texts: set[str]) -> dict[str, int]:
    """Each text that is a valid market date -> its ordinal (others are left out). Plain
    ``YYYY-MM-DD`` texts are read directly; anything else goes through the date field."""
    valid = {}
    for text in texts:
        try:
            if _ISO_DATE.fullmatch(text):
                day = dt.date.fromisoformat(text)
                if not MIN_DATE <= day <= MAX_DATE:
                    continue
            else:
                day = _DATE_FIELD.deserialize(text)
        except (ValueError, ValidationError):
            continue
        valid[text] = day.toordinal()
    return valid


def _item_fast(item: Any, day_of: Mapping[str, int]) -> tuple[int, int, float] | None:
    """``(day, hour, price)`` of an item every rule accepts, or None."""
    if type(item) is not dict or item.keys() != _ITEM_KEYS:
        return None
    date, hour, price = item["date"], item["hour"], item["price"]
    if type(date) is not str or type(hour) is not int or type(price) not in (int, float):
        return None
    if date not in day_of or not 0 <= hour < _SLOTS or not abs(price) <= MAX_ABS_PRICE:
        return None
    return day_of[date], hour, float(price)


def _load_items(items: list[Any]) -> InlinePrices:
    """Item by item: the valid ones at a dict lookup each, the others through the item
    schema; raises a ValidationError listing at most ``MAX_LISTED_ERRORS`` field errors."""
    texts = {i["date"] for i in items if type(i) is dict and type(i.get("date")) is str}
    day_of = _valid_dates(texts)
    loaded: list[tuple[int, int, float]] = []
    errors: dict[Any, Any] = {}
    listed = unlisted = 0
    for index, item in enumerate(items):
        row = _item_fast(item, day_of)
        if row is not None:
            loaded.append(row)
            continue
        if listed >= MAX_LISTED_ERRORS:
            unlisted += 1  # every rule _item_fast applies is the item schema's
            continue
        try:
            value = _ITEM_SCHEMA.load(item)
        except ValidationError as exc:
            errors[index] = exc.messages
            listed += _count_fields(exc.messages)
            continue
        loaded.append((value["date"].toordinal(), value["hour"], value["price"]))
    if errors:
        if unlisted:
            errors["_schema"] = [_unlisted_message(unlisted, "items have")]
        raise ValidationError(errors)
    day, hour, price = (np.array(column) for column in zip(*loaded, strict=True))
    price = price.astype(float)
    price.flags.writeable = False
    return InlinePrices(day=day.astype(np.int64), hour=hour.astype(np.int64), price=price)


def _count_fields(messages: Any, *, skip: str | None = None) -> int:
    """Field errors in nested ``messages`` (a message list counts once; ``skip``: a key not
    counted)."""
    if isinstance(messages, dict):
        return sum(_count_fields(v, skip=skip) for k, v in messages.items() if k != skip)
    return 1


def _unlisted_message(count: int, what: str) -> str:
    return f"{count} more {what} errors; only the first {MAX_LISTED_ERRORS} are listed."


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
    prices = InlinePriceList(
        metadata={
            "description": "Your own hourly prices; when present nothing is fetched. One "
            "entry per hour, hours 0..n-1 of each day with n in 23, 24, 25, for every day "
            "from start_date to end_date (when given; else from the first day to the last), "
            "at most 366 days."
        },
    )
    history_prices = InlinePriceList(
        metadata={
            "description": "Days before start_date (same format as prices, at most 366 days, "
            "each day complete, every day up to the day before start_date) that the "
            "strategies without foresight (forecast, learned) forecast the first requested "
            "days from; never scheduled or reported. When given, no history is fetched."
        },
    )
    forecast_prices = InlinePriceList(
        metadata={
            "description": "Your own price forecast (same format as prices), every requested "
            "day exactly once: the forecast strategy schedules each day on it instead of "
            "its 7-day mean, then settles at the actual prices (market.forecast: caller)."
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
            price_errors = _check_inline(
                data["prices"],
                start=start,
                end=end,
                outside_message=_outside_range(start, end),
                needs="every market day from {} to {} needs prices",
            )
            if price_errors:
                errors["prices"] = price_errors
        if not errors:
            errors.update(_check_history_and_forecast(data))
        if errors:
            raise ValidationError(errors)


def _outside_range(start: dt.date | None, end: dt.date | None) -> str:
    """The message of an inline price dated outside the request's ``start_date`` ..
    ``end_date``, naming only the bounds the request gave, with their dates."""
    if start is not None and end is not None:
        return f"Date outside start_date .. end_date ({start.isoformat()} .. {end.isoformat()})."
    if start is not None:
        return f"Date before start_date ({start.isoformat()})."
    if end is not None:
        return f"Date after end_date ({end.isoformat()})."
    return "Date outside the requested range."  # (no bound given: no date is outside)


def _requested_days(data: dict[str, Any]) -> tuple[dt.date, dt.date]:
    """The first and last market day a valid request schedules (every day between them
    too: inline prices have no missing day)."""
    if "prices" in data:
        day = data["prices"].day
        return dt.date.fromordinal(int(day.min())), dt.date.fromordinal(int(day.max()))
    start: dt.date = data["start_date"]
    end: dt.date = data["end_date"]
    return start, end


def _check_history_and_forecast(data: dict[str, Any]) -> dict[str, Any]:
    """Messages for ``history_prices`` (consecutive days up to the day before the first
    requested day) and ``forecast_prices`` (every requested day exactly once), SPEC §11."""
    errors: dict[str, Any] = {}
    first, last = _requested_days(data)
    if "history_prices" in data:
        history_errors = _check_inline(
            data["history_prices"],
            start=None,
            end=first - dt.timedelta(days=1),
            outside_message="History days must be before start_date.",
            needs="history_prices need every market day from {} to {}, the day before the "
            "first requested day",
        )
        if history_errors:
            errors["history_prices"] = history_errors
    if "forecast_prices" in data:
        forecast = data["forecast_prices"]
        forecast_errors = _check_inline(
            forecast,
            start=first,
            end=last,
            outside_message="Date outside the requested market days.",
        )
        if not forecast_errors:
            given = set(np.unique(forecast.day).tolist())
            missing = [d for d in range(first.toordinal(), last.toordinal() + 1) if d not in given]
            if missing:
                forecast_errors["_schema"] = [
                    "No forecast for requested days: "
                    + ", ".join(dt.date.fromordinal(d).isoformat() for d in missing[:5])
                    + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                ]
        if forecast_errors:
            errors["forecast_prices"] = forecast_errors
    return errors


def _check_inline(
    prices: InlinePrices,
    *,
    start: dt.date | None,
    end: dt.date | None,
    outside_message: str,
    needs: str | None = None,
) -> dict[Any, list[str]]:
    """Messages for duplicates, dates outside ``start`` .. ``end`` (keys: item index) and days
    with gaps (key ``_schema``), at most ``MAX_LISTED_ERRORS`` of each kind listed.

    With ``needs`` (a message part naming the two ends of the range, ``{}`` each) the days
    must also be consecutive: every day from ``start`` (else the first day given) to ``end``
    (else the last) has prices, and that range spans at most ``MAX_DAYS`` days; the missing
    days are one message naming the first few runs of them."""
    keys = prices.day * _SLOTS + prices.hour
    unique, first = np.unique(keys, return_index=True)
    first_of_item = first[np.searchsorted(unique, keys)]
    duplicate = first_of_item != np.arange(keys.size)
    outside = np.zeros(keys.size, dtype=bool)
    if start is not None:
        outside |= prices.day < start.toordinal()
    if end is not None:
        outside |= prices.day > end.toordinal()
    bad = np.flatnonzero(duplicate | outside)
    errors: dict[Any, list[str]] = {}
    for index in bad[:MAX_LISTED_ERRORS].tolist():
        if duplicate[index]:
            earlier = int(first_of_item[index])
            day = dt.date.fromordinal(int(prices.day[index])).isoformat()
            errors[index] = [f"Duplicate of item {earlier} ({day} hour {prices.hour[index]})."]
        else:
            errors[index] = [outside_message]
    days, day_starts, hour_counts = np.unique(
        unique // _SLOTS, return_index=True, return_counts=True
    )
    problems: list[str] = []
    if needs is not None:
        problems.extend(_missing_days(days, prices.day[~outside], start, end, needs))
    hours_of = unique % _SLOTS
    first_hour = np.minimum.reduceat(hours_of, day_starts)
    last_hour = np.maximum.reduceat(hours_of, day_starts)
    complete = (last_hour == hour_counts - 1) & np.isin(hour_counts, ALLOWED_HOURS_PER_DAY)
    broken = np.flatnonzero(~complete)
    for i in broken[:MAX_LISTED_ERRORS].tolist():
        day = dt.date.fromordinal(int(days[i])).isoformat()
        count, low, high = int(hour_counts[i]), int(first_hour[i]), int(last_hour[i])
        if low == 1 and high == count and count in ALLOWED_HOURS_PER_DAY:
            # CENACE's numbering (hours 1..24): a different convention, not a gap
            problems.append(
                f"{day}: hours are numbered from 0 (hour 0 begins at 00:00), but these run "
                f"1..{high}; send them as 0..{high - 1} (CENACE's hour h is hour h - 1 here)."
            )
            continue
        present = np.zeros(high + 1, dtype=bool)
        present[hours_of[day_starts[i] : day_starts[i] + count]] = True
        missing = np.flatnonzero(~present)
        got = f"got hour {low}" if count == 1 else f"got {count} hours, {low}..{high}"
        if missing.size:
            listed = ", ".join(str(h) for h in missing[:_LISTED_HOURS].tolist())
            extra = missing.size - _LISTED_HOURS
            more = f" and {extra} more" if extra > 0 else ""
            got += f" without {listed}{more}"
        problems.append(
            f"{day}: needs one price for each hour 0..n-1 with n in 23, 24 or 25 and no gaps "
            f"({got})."
        )
    unlisted = max(0, bad.size - MAX_LISTED_ERRORS) + max(0, broken.size - MAX_LISTED_ERRORS)
    if unlisted:
        problems.append(_unlisted_message(unlisted, "items or days have"))
    if problems:
        errors["_schema"] = problems
    return errors


#: runs of missing days named in one message (the rest are counted)
_LISTED_RUNS = 5
#: missing hours of a day named in its message
_LISTED_HOURS = 5


def _missing_days(
    days: np.ndarray,
    inside: np.ndarray,
    start: dt.date | None,
    end: dt.date | None,
    needs: str,
) -> list[str]:
    """The span and missing-day messages of ``_check_inline``: ``days`` are the distinct days
    given (ordinals, sorted), ``inside`` the days of the items within ``start`` .. ``end``."""
    if inside.size == 0 and (start is None or end is None):
        return []  # every item is outside a one-sided range: the item errors say so
    lo = start.toordinal() if start is not None else int(inside.min())
    hi = end.toordinal() if end is not None else int(inside.max())
    present = days[(days >= lo) & (days <= hi)]
    messages: list[str] = []
    span = hi - lo + 1
    if span > MAX_DAYS:
        messages.append(
            f"The prices span {span:,} market days ({_iso(lo)} to {_iso(hi)}); at most {MAX_DAYS}."
        )
    missing = span - present.size
    if missing == 0:
        return messages
    # runs of missing days: between neighbours of lo - 1, the present days and hi + 1
    bounds = np.concatenate(([lo - 1], present, [hi + 1]))
    holes = np.flatnonzero(np.diff(bounds) > 1)
    named: list[str] = []
    shown = 0
    for i in holes[:_LISTED_RUNS].tolist():
        first, last = int(bounds[i]) + 1, int(bounds[i + 1]) - 1
        named.append(_iso(first) if first == last else f"{_iso(first)} .. {_iso(last)}")
        shown += last - first + 1
    rest = f" and {missing - shown:,} more" if missing > shown else ""
    what = "day" if missing == 1 else "days"
    messages.append(
        f"Days without prices: {', '.join(named)}{rest} ({missing:,} {what}; "
        f"{needs.format(_iso(lo), _iso(hi))})."
    )
    return messages


def _iso(ordinal: int) -> str:
    return dt.date.fromordinal(ordinal).isoformat()


class OptimizeRequestSchema(BoundedErrorsSchema):
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
        params = data["market_params"]
        inline_days: tuple[MarketDay, ...] | None = None
        if "prices" in params:
            inline_days = params["prices"].market_days()
            start = params.get("start_date", inline_days[0].date)
            end = params.get("end_date", inline_days[-1].date)
        else:
            start, end = params["start_date"], params["end_date"]
        return OptimizeRequest(
            battery=data["battery_params"],
            market=Market(
                zone=params.get("zone"),
                system=params["system"],
                process=params["process"],
                start=start,
                end=end,
            ),
            inline_days=inline_days,
            strategy=data["strategy"],
            horizon=data["horizon"],
            compare=data["compare"],
            history_days=(
                params["history_prices"].market_days() if "history_prices" in params else None
            ),
            forecast_days=(
                params["forecast_prices"].market_days() if "forecast_prices" in params else None
            ),
        )
