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
from schemas.request import MAX_DAYS, OptimizeRequest, OptimizeRequestSchema

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
    assert (request.system, request.process) == (System.SIN, Process.MDA)
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
    assert request.start.isoformat() == start[:10]


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
    assert load(market_params={"zone": " VDM CENTRO\t"}).zone == "VDM CENTRO"


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
    assert (request.start, request.end) == (dt.date(2024, 1, 1), dt.date(2024, 1, 2))


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
        # the field itself, or min_soc for the min < max rule a new max_soc can break
        blamed = {f"battery_params.{field}", "battery_params.min_soc"}
        assert set(flatten_messages(exc.messages)) & blamed
        return
    battery = request.battery
    assert math.isfinite(battery.power_mw) and 0 < battery.power_mw <= 100_000
    assert 0 <= battery.min_soc < battery.max_soc <= 1
    assert 0 < battery.round_trip_efficiency <= 1
