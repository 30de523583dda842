"""The request schema: what it builds from valid input and which field each rule blames."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from blueprints.errors import flatten_messages
from optimizer import Battery, Horizon
from prices import PriceQuery, Process, System
from schemas.request import (
    MAX_DAYS,
    MAX_INLINE_PRICES,
    MAX_LISTED_ERRORS,
    Market,
    OptimizeRequest,
    OptimizeRequestSchema,
)

SCHEMA = OptimizeRequestSchema()

PRD = {
    "battery_params": {"capacity_mw": 10, "duration_hours": 4, "efficiency": 0.85,
                       "min_soc": 0.1, "max_soc": 1.0},
    "market_params": {"zone": "APATZINGAN", "start_date": "2024-01-01T00:00:00Z",
                      "end_date": "2024-01-31T23:59:59Z"},
    "strategy": "optimal",
}  # fmt: skip


def load(**changes: Any) -> OptimizeRequest:
    body = {**PRD}
    for section, values in changes.items():
        body[section] = {**PRD[section], **values} if isinstance(values, dict) else values
    result = SCHEMA.load(body)
    assert isinstance(result, OptimizeRequest)
    return result


def errors_of(**changes: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        load(**changes)
    return flatten_messages(info.value.messages)


def test_prd_example_builds_domain_objects() -> None:
    request = load()
    assert request.battery == Battery(power_mw=10.0, duration_h=4.0, round_trip_efficiency=0.85,
                                      min_soc=0.1, max_soc=1.0)  # fmt: skip
    assert request.query == PriceQuery(zone="APATZINGAN", system=System.SIN,
                                       process=Process.MDA, start=dt.date(2024, 1, 1),
                                       end=dt.date(2024, 1, 31))  # fmt: skip
    assert request.market == Market(zone="APATZINGAN", system=System.SIN,
                                    process=Process.MDA, start=dt.date(2024, 1, 1),
                                    end=dt.date(2024, 1, 31))  # fmt: skip
    assert request.inline_days is None
    assert (request.strategy, request.horizon, request.compare) == ("optimal", Horizon.DAILY, True)


def test_optional_battery_fields() -> None:
    battery = load(battery_params={"charge_efficiency": 0.95, "discharge_efficiency": 0.9,
                                   "initial_soc": 0.5, "degradation_cost_per_mwh": 25,
                                   "max_cycles_per_day": 1.5}).battery  # fmt: skip
    assert (battery.eta_charge, battery.eta_discharge) == (0.95, 0.9)
    assert battery.soc_start == 0.5
    assert battery.degradation_cost_mxn_per_mwh == 25.0
    assert battery.max_cycles_per_day == 1.5


def test_one_way_efficiencies_replace_a_missing_round_trip() -> None:
    body = {
        **PRD,
        "battery_params": {
            "capacity_mw": 1,
            "duration_hours": 2,
            "charge_efficiency": 0.9,
            "discharge_efficiency": 0.8,
        },
    }
    battery = SCHEMA.load(body).battery  # fmt: skip
    assert battery.eta_charge * battery.eta_discharge == pytest.approx(0.72)


def test_defaults() -> None:
    body = {"battery_params": {"capacity_mw": 1, "duration_hours": 2, "efficiency": 0.9},
            "market_params": {"zone": "01PLO-115", "start_date": "2024-03-01",
                              "end_date": "2024-03-01"}}  # fmt: skip
    request = SCHEMA.load(body)
    assert (request.battery.min_soc, request.battery.max_soc) == (0.0, 1.0)
    assert request.battery.degradation_cost_mxn_per_mwh == 0.0
    assert (request.market.system, request.market.process) == (System.SIN, Process.MDA)
    assert request.query.days == [dt.date(2024, 3, 1)]


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [("2024-01-01", "2024-01-01", 1), ("2024-01-01T23:00:00-06:00", "2024-01-02T00:30:00Z", 2),
     ("2024-01-01T00:00:00Z", "2024-12-31T23:59:59Z", 366), ("2023-03-01", "2024-02-29", 366)],
    ids=["one-day", "offsets", "leap-year", "max-range"],
)  # fmt: skip
def test_dates_are_the_written_calendar_days(start: str, end: str, days: int) -> None:
    request = load(market_params={"start_date": start, "end_date": end})
    assert len(request.query.days) == days
    assert request.market.start.isoformat() == start[:10]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"battery_params": {"capacity_mw": 100_001}}, "battery_params.capacity_mw", "less than"),
        ({"battery_params": {"duration_hours": 169}}, "battery_params.duration_hours", "less"),
        ({"battery_params": {"efficiency": 0}}, "battery_params.efficiency", "or equal to 0.01"),
        # found by schemathesis: HiGHS called a denormal efficiency's program infeasible
        ({"battery_params": {"charge_efficiency": 5e-324, "discharge_efficiency": 5e-324}},
         "battery_params.charge_efficiency", "greater than or equal to 0.01"),
        ({"battery_params": {"capacity_mw": 1e-9}}, "battery_params.capacity_mw", "0.001"),
        ({"battery_params": {"min_soc": 0.5, "max_soc": 0.5}}, "battery_params.min_soc",
         "less than max_soc"),
        ({"battery_params": {"initial_soc": 0.05}}, "battery_params.initial_soc", "between"),
        ({"battery_params": {"discharge_efficiency": 0.9}}, "battery_params.charge_efficiency",
         "together"),
        ({"battery_params": {"degradation_cost_per_mwh": -1}},
         "battery_params.degradation_cost_per_mwh", "greater than or equal to 0"),
        ({"battery_params": {"max_cycles_per_day": 0}}, "battery_params.max_cycles_per_day",
         "greater than or equal to 0.1"),
        ({"market_params": {"zone": ""}}, "market_params.zone", "upper-case"),
        ({"market_params": {"zone": "   "}}, "market_params.zone", "upper-case"),
        ({"market_params": {"zone": "A" * 65}}, "market_params.zone", "upper-case"),
        ({"market_params": {"zone": "APAT\nZINGAN"}}, "market_params.zone", None),
        ({"market_params": {"zone": "ÁPATZINGAN"}}, "market_params.zone", "upper-case"),
        ({"market_params": {"system": "sin"}}, "market_params.system", "Must be one of"),
        ({"market_params": {"start_date": "2024-13-01"}}, "market_params.start_date", "ISO"),
        ({"market_params": {"start_date": 20240101}}, "market_params.start_date", "ISO"),
        ({"market_params": {"end_date": "2101-01-01"}}, "market_params.end_date", "between"),
        # the market opened in January 2016
        ({"market_params": {"start_date": "2015-12-31"}}, "market_params.start_date", "2016-01-01"),
        ({"market_params": {"zone": "08CHB-34,5"}}, "market_params.zone", "dots"),
        ({"market_params": {"zone": "08chb-34.5"}}, "market_params.zone", "dots"),
        # one-way efficiencies in range whose product (the round trip) is below 0.01
        ({"battery_params": {"charge_efficiency": 0.0263, "discharge_efficiency": 0.303}},
         "battery_params.charge_efficiency", "round trip"),
        ({"battery_params": {"charge_efficiency": 0.0263, "discharge_efficiency": 0.303}},
         "battery_params.discharge_efficiency", "round trip"),
        ({"market_params": {"start_date": "2023-01-01", "end_date": "2024-01-02"}},
         "market_params.end_date", f"more than {MAX_DAYS}"),
        ({"strategy": "Optimal"}, "strategy", "Must be one of"),
        ({"compare": 1}, "compare", "boolean"),
        ({"horizon": "DAILY"}, "horizon", "Must be one of"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)  # fmt: skip
def test_rules_blame_the_right_field(
    changes: dict[str, Any], field: str, message: str | None
) -> None:
    errors = errors_of(**changes)
    assert field in errors, errors
    if message is not None:
        assert any(message in m for m in errors[field]), errors[field]


def test_zone_is_stripped_then_checked() -> None:
    assert load(market_params={"zone": " VDM CENTRO\t"}).market.zone == "VDM CENTRO"


def _inline(prices: list[tuple[str, int, float]], **market: Any) -> dict[str, Any]:
    return {
        "battery_params": PRD["battery_params"],
        "market_params": {
            "prices": [{"date": d, "hour": h, "price": p} for d, h, p in prices],
            **market,
        },
    }


def test_inline_prices_build_market_days_in_date_order() -> None:
    prices = [("2024-01-02", h, 2.0 * h) for h in reversed(range(24))]
    prices += [("2024-01-01", h, -1.0 * h) for h in range(23)]
    request = SCHEMA.load(_inline(prices))
    assert request.query is None
    assert [d.date for d in request.inline_days] == [dt.date(2024, 1, 1), dt.date(2024, 1, 2)]
    assert request.inline_days[0].prices_mxn_per_mwh == tuple(-1.0 * h for h in range(23))
    assert request.inline_days[1].prices_mxn_per_mwh == tuple(2.0 * h for h in range(24))
    assert (request.market.start, request.market.end) == (dt.date(2024, 1, 1), dt.date(2024, 1, 2))
    assert request.market.zone is None


@pytest.mark.parametrize(
    ("prices", "market", "field"),
    [
        ([("2024-01-01", h, 1.0) for h in range(22)], {}, "market_params.prices"),
        ([("2024-01-01", h, 1.0) for h in range(24) if h != 7], {}, "market_params.prices"),
        ([("2024-01-01", h, 1.0) for h in range(24)] + [("2024-01-01", 3, 2.0)], {},
         "market_params.prices.24"),
        ([("2024-01-01", h, 1.0) for h in range(24)], {"start_date": "2024-01-02",
                                                        "end_date": "2024-01-03"},
         "market_params.prices.0"),
        ([("2024-01-01", 25, 1.0)], {}, "market_params.prices.0.hour"),
        ([("2024-01-01", 0, 2e6)], {}, "market_params.prices.0.price"),
        ([("2024-1-1", 0, 1.0)], {}, "market_params.prices.0.date"),
    ],
    ids=["22-hours", "gap", "duplicate", "outside-range", "hour-25", "price-huge", "bad-date"],
)  # fmt: skip
def test_inline_price_rules(
    prices: list[tuple[str, int, float]], market: dict[str, str], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        SCHEMA.load(_inline(prices, **market))
    assert field in flatten_messages(info.value.messages)


def test_inline_prices_over_366_days_are_rejected() -> None:
    start = dt.date(2024, 1, 1)
    prices = [((start + dt.timedelta(days=i)).isoformat(), h, 1.0)
              for i in range(MAX_DAYS + 1) for h in range(24)]  # fmt: skip
    with pytest.raises(ValidationError) as info:
        SCHEMA.load(_inline(prices))
    assert "market_params.prices" in flatten_messages(info.value.messages)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    value=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.text(max_size=20),
        st.booleans(),
        st.none(),
        st.lists(st.integers(), max_size=3),
    ),
    field=st.sampled_from(["capacity_mw", "duration_hours", "efficiency", "min_soc", "max_soc"]),
)
def test_any_battery_value_loads_in_range_or_fails_cleanly(value: Any, field: str) -> None:
    """Whatever JSON value a field gets, loading either succeeds with a finite, in-range
    battery or raises ValidationError naming that field (never another exception)."""
    body = {**PRD, "battery_params": {**PRD["battery_params"], field: value}}
    try:
        request = SCHEMA.load(body)
    except ValidationError as exc:
        error = exc
    else:
        error = None
    if error is not None:
        # the field itself, or min_soc for the min < max rule a new max_soc can break
        blamed = {f"battery_params.{field}", "battery_params.min_soc"}
        assert set(flatten_messages(error.messages)) & blamed
        return
    battery = request.battery
    assert math.isfinite(battery.power_mw)
    assert 0 < battery.power_mw <= 100_000
    assert 0 <= battery.min_soc < battery.max_soc <= 1
    assert 0 < battery.round_trip_efficiency <= 1


def test_efficiency_errors_blame_only_fields_the_client_sent() -> None:
    errors = errors_of(battery_params={"charge_efficiency": 0.0263, "discharge_efficiency": 0.303})
    assert set(errors) == {"battery_params.charge_efficiency",
                           "battery_params.discharge_efficiency"}  # fmt: skip


@pytest.mark.parametrize(
    "zone", ["08CHB-34.5", "01PLO-115", "VDM CENTRO", "A" * 64], ids=["dot", "node", "space", "64"]
)
def test_zone_and_node_keys(zone: str) -> None:
    assert load(market_params={"zone": zone}).market.zone == zone


def test_first_market_day_is_accepted() -> None:
    request = load(market_params={"start_date": "2016-01-01", "end_date": "2016-01-02"})
    assert request.market.start == dt.date(2016, 1, 1)


def _year_items() -> list[dict[str, Any]]:
    start = dt.date(2024, 1, 1)
    return [{"date": (start + dt.timedelta(days=i)).isoformat(), "hour": h, "price": 100.0 + h}
            for i in range(MAX_DAYS) for h in range(24)]  # fmt: skip


def _inline_errors(items: Any) -> dict[str, list[str]]:
    body = {"battery_params": PRD["battery_params"], "market_params": {"prices": items}}
    with pytest.raises(ValidationError) as info:
        SCHEMA.load(body)
    return flatten_messages(info.value.messages)


@pytest.mark.parametrize(
    ("bad", "path", "message"),
    [
        ({"price": "x"}, "price", "Not a valid number."),
        ({"price": None}, "price", "Field may not be null."),
        ({"price": True}, "price", "Not a valid number."),
        ({"price": float("nan")}, "price", None),
        ({"price": 10**400}, "price", "Number too large."),
        ({"price": -1_000_001}, "price", None),
        ({"hour": True}, "hour", "Not a valid integer."),
        ({"hour": 1.0}, "hour", "Not a valid integer."),
        ({"hour": -1}, "hour", None),
        ({"hour": 10**30}, "hour", None),
        ({"date": "2024-1-01"}, "date", "Not a valid date."),
        ({"date": 20240101}, "date", "Not a valid date."),
        ({"date": ["2024-01-01"]}, "date", "Not a valid date."),
        ({"date": "2015-12-31"}, "date", "2016-01-01"),
        ({"extra": 1}, "extra", "Unknown field."),
    ],
    ids=lambda v: repr(v)[:30] if isinstance(v, dict) else None,
)
def test_a_bad_item_in_a_year_is_blamed_by_its_exact_path(
    bad: dict[str, Any], path: str, message: str | None
) -> None:
    items = _year_items()
    last = len(items) - 1
    items[last] = {**items[last], **bad}
    errors = _inline_errors(items)
    assert list(errors) == [f"market_params.prices.{last}.{path}"]
    if message is not None:
        assert any(message in m for m in errors[f"market_params.prices.{last}.{path}"])


@pytest.mark.parametrize(
    ("item", "message"),
    [(5, "Must be a JSON object."), (None, "Must be a JSON object."),
     ([], "Must be a JSON object."),
     ({"date": "2024-01-01", "hour": 0}, "Missing data for required field.")],
    ids=["number", "null", "list", "missing-price"],
)  # fmt: skip
def test_a_malformed_item_is_blamed(item: Any, message: str) -> None:
    items = _year_items()
    items[7] = item
    errors = _inline_errors(items)
    (path,) = errors
    assert path.startswith("market_params.prices.7")
    assert errors[path] == [message]


@pytest.mark.parametrize(
    ("value", "message"),
    [([], "Length must be between 1"), ([0] * (MAX_INLINE_PRICES + 1), "Length must be between"),
     ({"date": "2024-01-01"}, "Not a valid list."), ("prices", "Not a valid list."),
     (None, "Field may not be null.")],
    ids=["empty", "too-long", "object", "string", "null"],
)  # fmt: skip
def test_the_list_itself_is_checked_before_its_items(value: Any, message: str) -> None:
    errors = _inline_errors(value)
    assert list(errors) == ["market_params.prices"]
    assert any(message in m for m in errors["market_params.prices"])


def test_a_million_zeros_are_refused_by_length_alone() -> None:
    errors = _inline_errors([0] * 1_000_000)
    assert errors == {
        "market_params.prices": [f"Length must be between 1 and {MAX_INLINE_PRICES}."]
    }


def test_at_most_50_field_errors_are_listed_plus_a_count() -> None:
    items = [{"date": "2024-01-01", "hour": 0, "price": "x"}] * 1000
    errors = _inline_errors(items)
    listed = [path for path in errors if path != "market_params.prices"]
    assert listed == [f"market_params.prices.{i}.price" for i in range(MAX_LISTED_ERRORS)]
    assert errors["market_params.prices"] == [
        f"{1000 - MAX_LISTED_ERRORS} more items have errors; only the first "
        f"{MAX_LISTED_ERRORS} are listed."
    ]


def test_list_rules_are_capped_too() -> None:
    """Duplicates, dates outside the range and days with gaps: 50 of each listed, the rest
    counted."""
    items = [{"date": "2024-01-01", "hour": h, "price": 1.0} for h in range(24)] * 4
    items += [{"date": (dt.date(2024, 1, 2) + dt.timedelta(days=i)).isoformat(), "hour": 0,
               "price": 1.0} for i in range(60)]  # fmt: skip
    errors = _inline_errors(items)
    duplicates = [p for p in errors if p != "market_params.prices"]
    assert duplicates == [f"market_params.prices.{i}" for i in range(24, 24 + MAX_LISTED_ERRORS)]
    assert errors["market_params.prices.24"] == ["Duplicate of item 0 (2024-01-01 hour 0)."]
    problems = errors["market_params.prices"]
    assert len(problems) == MAX_LISTED_ERRORS + 1
    assert problems[0].startswith("2024-01-02: needs one price for each hour")
    unlisted = (72 - MAX_LISTED_ERRORS) + (60 - MAX_LISTED_ERRORS)  # duplicates, broken days
    assert problems[-1] == (
        f"{unlisted} more items or days have errors; only the first {MAX_LISTED_ERRORS} are listed."
    )


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        (range(1, 25), "2024-01-01: hours are numbered from 0 (hour 0 begins at 00:00), but "
         "these run 1..24; send them as 0..23 (CENACE's hour h is hour h - 1 here)."),
        (range(1, 24), "2024-01-01: hours are numbered from 0 (hour 0 begins at 00:00), but "
         "these run 1..23; send them as 0..22 (CENACE's hour h is hour h - 1 here)."),
        ([h for h in range(24) if h not in (5, 6)], "2024-01-01: needs one price for each hour "
         "0..n-1 with n in 23, 24 or 25 and no gaps (got 22 hours, 0..23 without 5, 6)."),
        (range(1, 3), "2024-01-01: needs one price for each hour 0..n-1 with n in 23, 24 or 25 "
         "and no gaps (got 2 hours, 1..2 without 0)."),
        (range(8, 24), "2024-01-01: needs one price for each hour 0..n-1 with n in 23, 24 or 25 "
         "and no gaps (got 16 hours, 8..23 without 0, 1, 2, 3, 4 and 3 more)."),
        (range(20), "2024-01-01: needs one price for each hour 0..n-1 with n in 23, 24 or 25 "
         "and no gaps (got 20 hours, 0..19)."),
        ([3], "2024-01-01: needs one price for each hour 0..n-1 with n in 23, 24 or 25 and no "
         "gaps (got hour 3 without 0, 1, 2)."),
    ],
    ids=["cenace-24", "cenace-23", "gap", "short-from-1", "many-missing", "short", "one-hour"],
)  # fmt: skip
def test_a_broken_day_says_what_is_wrong_with_its_hours(hours: Any, message: str) -> None:
    """A day numbered 1..n (CENACE's convention) is told to count from 0; other broken days
    name their span and the first missing hours."""
    items = [{"date": "2024-01-01", "hour": h, "price": 1.0} for h in hours]
    assert _inline_errors(items) == {"market_params.prices": [message]}


@pytest.mark.parametrize(
    ("dates", "message"),
    [({"start_date": "2024-01-02"}, "Date before start_date (2024-01-02)."),
     ({"end_date": "2023-12-31"}, "Date after end_date (2023-12-31)."),
     ({"start_date": "2024-01-02", "end_date": "2024-01-02"},
      "Date outside start_date .. end_date (2024-01-02 .. 2024-01-02).")],
    ids=["start", "end", "both"],
)  # fmt: skip
def test_a_price_outside_the_range_names_the_bounds_the_request_gave(
    dates: dict[str, str], message: str
) -> None:
    """Not 'start_date .. end_date' where only one was sent: the bound given, with its date."""
    items = [{"date": day, "hour": h, "price": 1.0} for day in ("2024-01-01", "2024-01-02")
             for h in range(24)]  # fmt: skip
    body = {"battery_params": PRD["battery_params"], "market_params": {"prices": items, **dates}}
    with pytest.raises(ValidationError) as info:
        SCHEMA.load(body)
    errors = flatten_messages(info.value.messages)
    outside = {path: m for path, m in errors.items() if path != "market_params.prices"}
    assert outside
    assert set(map(tuple, outside.values())) == {(message,)}


@pytest.mark.parametrize(
    ("zone", "suggestion"),
    [("apatzingan", " Did you mean 'APATZINGAN'?"), ("Querétaro", " Did you mean 'QUERETARO'?"),
     ("08chb-34.5", " Did you mean '08CHB-34.5'?"), ("ÁPATZINGAN", " Did you mean 'APATZINGAN'?"),
     ("08CHB-34,5", ""), ("A" * 65, ""), ("", "")],
    ids=["lower", "accent", "node-lower", "accent-upper", "comma", "long", "empty"],
)  # fmt: skip
def test_a_zone_kept_out_by_its_case_or_accents_gets_the_key_it_means(
    zone: str, suggestion: str
) -> None:
    """Keys stay upper-case without accents (SPEC §4), but the 422 spells the one meant."""
    body = {**PRD, "market_params": {**PRD["market_params"], "zone": zone}}
    with pytest.raises(ValidationError) as info:
        SCHEMA.load(body)
    (message,) = flatten_messages(info.value.messages)["market_params.zone"]
    assert message == (
        "Must be 1 to 64 upper-case letters, digits, spaces, hyphens or dots (a CENACE load zone "
        f"such as APATZINGAN or a node key such as 01PLO-115 or 08CHB-34.5).{suggestion}"
    )


def test_a_null_cycle_limit_is_no_limit_as_the_response_echoes_it() -> None:
    """``max_cycles_per_day: null`` loads as an absent one (no cap), so a response's
    ``battery`` echo (``null`` when unset) can be sent back; 0 stays out of range."""
    absent = SCHEMA.load(PRD)
    null = SCHEMA.load({**PRD, "battery_params": {**PRD["battery_params"],
                                                  "max_cycles_per_day": None}})  # fmt: skip
    assert null.battery == absent.battery
    assert null.battery.max_cycles_per_day is None


def test_a_year_of_inline_prices_loads_as_read_only_arrays() -> None:
    items = _year_items()
    items.reverse()
    body = {"battery_params": PRD["battery_params"], "market_params": {"prices": items}}
    request = SCHEMA.load(body)
    assert len(request.inline_days) == MAX_DAYS
    first = request.inline_days[0]
    assert first.date == dt.date(2024, 1, 1)
    assert first.prices_mxn_per_mwh == tuple(100.0 + h for h in range(24))
    assert first.prices.tolist() == list(first.prices_mxn_per_mwh)
    assert not first.prices.flags.writeable


def test_integer_prices_load_as_floats() -> None:
    items = [{"date": "2024-01-01", "hour": h, "price": h} for h in range(24)]
    request = SCHEMA.load(_inline([(i["date"], i["hour"], i["price"]) for i in items]))
    assert request.inline_days[0].prices_mxn_per_mwh == tuple(float(h) for h in range(24))
    assert all(type(p) is float for p in request.inline_days[0].prices_mxn_per_mwh)


def test_unknown_fields_are_listed_up_to_50_with_short_names() -> None:
    battery = {**PRD["battery_params"], **{f"extra_{i}": 1 for i in range(1000)}}
    battery["x" * 100_000] = 1
    with pytest.raises(ValidationError) as info:
        SCHEMA.load({**PRD, "battery_params": battery})
    errors = flatten_messages(info.value.messages)
    listed = [path for path in errors if path != "body"]
    # marshmallow reports unknown fields in no particular order
    assert len(listed) == MAX_LISTED_ERRORS
    assert set(listed) <= {f"battery_params.extra_{i}" for i in range(1000)} | {
        "battery_params." + "x" * 80 + "..."
    }
    assert errors["body"] == [
        f"{1001 - MAX_LISTED_ERRORS} more fields have errors; only the first "
        f"{MAX_LISTED_ERRORS} are listed."
    ]


def test_a_long_field_name_is_quoted_cut() -> None:
    with pytest.raises(ValidationError) as info:
        SCHEMA.load({**PRD, "x" * 100_000: 1})
    (path,) = flatten_messages(info.value.messages)
    assert path == "x" * 80 + "..."
