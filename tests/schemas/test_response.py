"""The fast response serialiser produces exactly what the documented schemas dump."""

from __future__ import annotations

import datetime as dt

import pytest

from optimizer import Battery, Horizon, MarketDay, optimize
from prices import PriceQuery, Process, System
from schemas.response import (
    MarketInfo,
    OptimizeResponseSchema,
    dump_optimize_response,
    response_view,
)
from tests.conftest import RecordedSource

BATTERY = Battery(power_mw=10, duration_h=4, round_trip_efficiency=0.85, min_soc=0.1, max_soc=1)


def _market(days: list[MarketDay], source: str = "recorded") -> MarketInfo:
    return MarketInfo(zone="APATZINGAN", system=System.SIN, process=Process.MDA, source=source,
                      start_date=days[0].date, end_date=days[-1].date)  # fmt: skip


def _august(recorded_source: RecordedSource) -> list[MarketDay]:
    query = PriceQuery(zone="APATZINGAN", start=dt.date(2020, 8, 1), end=dt.date(2020, 8, 31))
    return recorded_source.fetch(query)


FLAT = MarketDay(dt.date(2024, 1, 1), (500.0,) * 24)  # nothing to arbitrage: idle all day
SHORT = MarketDay(dt.date(2016, 4, 3), tuple(float(100 + 50 * (h % 12)) for h in range(23)))
LONG = MarketDay(dt.date(2016, 10, 30), tuple(float(-20 + 40 * (h % 6)) for h in range(25)))


@pytest.mark.parametrize("compare", [True, False])
@pytest.mark.parametrize("horizon", list(Horizon))
def test_fast_path_equals_schema_dump(
    recorded_source: RecordedSource, compare: bool, horizon: Horizon
) -> None:
    days = _august(recorded_source)
    report = optimize(days, BATTERY, strategy="optimal", horizon=horizon, compare=compare)
    fast = dump_optimize_response(report, _market(days))
    reference = OptimizeResponseSchema().dump(response_view(report, _market(days)))
    assert fast == reference
    assert OptimizeResponseSchema().validate(fast) == {}


@pytest.mark.parametrize("days", [[FLAT], [SHORT, LONG]], ids=["idle-day", "clock-changes"])
def test_fast_path_edge_days(days: list[MarketDay]) -> None:
    report = optimize(days, BATTERY, compare=True)
    fast = dump_optimize_response(report, _market(days, source="inline"))
    assert fast == OptimizeResponseSchema().dump(response_view(report, _market(days, "inline")))
    assert OptimizeResponseSchema().validate(fast) == {}
    assert [len(d["schedule"]) for d in fast["daily_schedules"]] == [d.hours for d in days]
    if days == [FLAT]:
        day = fast["daily_schedules"][0]
        assert day["avg_charge_price"] is None and day["avg_discharge_price"] is None
        assert {s["action"] for s in day["schedule"]} == {"idle"}


def test_schema_rejects_a_wrong_shape() -> None:
    report = optimize([FLAT], BATTERY, compare=False)
    body = dump_optimize_response(report, _market([FLAT], "inline"))
    body["daily_schedules"][0]["schedule"][0]["power"] = "5"
    del body["summary"]["best_day"]
    errors = OptimizeResponseSchema().validate(body)
    assert set(errors) == {"daily_schedules", "summary"}
