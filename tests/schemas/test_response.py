"""The one POST /optimize serialiser: built from the result arrays, it says what the domain
results say hour by hour, and its output validates against the documented schema."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from optimizer import Battery, DayResult, Horizon, MarketDay, Report, optimize
from prices import PriceQuery, Process, System
from schemas.analyst import add_analyst_metrics
from schemas.request import Market
from schemas.response import OptimizeResponseSchema, dump_optimize_response
from tests.conftest import RecordedSource

BATTERY = Battery(power_mw=10, duration_h=4, round_trip_efficiency=0.85, min_soc=0.1, max_soc=1)


def _market(days: list[MarketDay]) -> Market:
    return Market(zone="APATZINGAN", system=System.SIN, process=Process.MDA,
                  start=days[0].date, end=days[-1].date)  # fmt: skip


def _august(recorded_source: RecordedSource) -> list[MarketDay]:
    query = PriceQuery(zone="APATZINGAN", start=dt.date(2020, 8, 1), end=dt.date(2020, 8, 31))
    return recorded_source.fetch(query)


def _day_from_steps(day: DayResult) -> dict[str, Any]:
    """What a day must serialise to, from the domain's per-hour view (``DayResult.schedule``)."""
    return {
        "date": day.date.isoformat(),
        "schedule": [
            {"hour": s.hour, "action": s.action.value, "power": s.power_mw,
             "price": s.price_mxn_per_mwh, "soc": s.soc}
            for s in day.schedule
        ],
        "revenue": day.revenue_mxn,
        "energy_charged": day.energy_charged_mwh,
        "energy_discharged": day.energy_discharged_mwh,
        "avg_charge_price": day.avg_charge_price_mxn_per_mwh,
        "avg_discharge_price": day.avg_discharge_price_mxn_per_mwh,
        "cycles": day.cycles,
    }  # fmt: skip


def _with_metrics(body: dict[str, Any], report: Report) -> dict[str, Any]:
    """A copy of ``body`` with the SPEC §9 keys the service adds (schemas.analyst)."""
    return add_analyst_metrics(copy.deepcopy(body), report, BATTERY)


FLAT = MarketDay(dt.date(2024, 1, 1), (500.0,) * 24)  # nothing to arbitrage: idle all day
SHORT = MarketDay(dt.date(2016, 4, 3), tuple(float(100 + 50 * (h % 12)) for h in range(23)))
LONG = MarketDay(dt.date(2016, 10, 30), tuple(float(-20 + 40 * (h % 6)) for h in range(25)))


@pytest.mark.parametrize("compare", [True, False])
@pytest.mark.parametrize("horizon", list(Horizon))
def test_body_says_what_the_results_say(
    recorded_source: RecordedSource, compare: bool, horizon: Horizon
) -> None:
    days = _august(recorded_source)
    report = optimize(days, BATTERY, strategy="optimal", horizon=horizon, compare=compare)
    body = dump_optimize_response(report, _market(days), source="recorded")
    assert OptimizeResponseSchema().validate(_with_metrics(body, report)) == {}
    assert body["daily_schedules"] == [_day_from_steps(day) for day in report.run.days]
    assert body["market"] == {
        "zone": "APATZINGAN", "system": "SIN", "process": "MDA", "source": "recorded",
        "start_date": "2020-08-01", "end_date": "2020-08-31", "currency": "MXN",
        "price_unit": "MXN/MWh",
    }  # fmt: skip
    assert body["summary"]["days"] == 31
    assert body["summary"]["total_revenue"] == report.run.summary.total_revenue_mxn
    assert (body["comparison"] is None) is not compare
    assert list(body) == ["strategy", "horizon", "market", "daily_schedules", "summary",
                          "comparison"]  # fmt: skip


@pytest.mark.parametrize("days", [[FLAT], [SHORT, LONG]], ids=["idle-day", "clock-changes"])
def test_edge_days(days: list[MarketDay]) -> None:
    report = optimize(days, BATTERY, compare=True)
    body = dump_optimize_response(report, _market(days), source="inline")
    assert OptimizeResponseSchema().validate(_with_metrics(body, report)) == {}
    assert body["daily_schedules"] == [_day_from_steps(day) for day in report.run.days]
    assert [len(d["schedule"]) for d in body["daily_schedules"]] == [d.hours for d in days]
    if days == [FLAT]:
        day = body["daily_schedules"][0]
        assert day["avg_charge_price"] is None
        assert day["avg_discharge_price"] is None
        assert {s["action"] for s in day["schedule"]} == {"idle"}


def test_schema_rejects_a_wrong_shape() -> None:
    report = optimize([FLAT], BATTERY, compare=False)
    body = dump_optimize_response(report, _market([FLAT]), source="inline")
    add_analyst_metrics(body, report, BATTERY)
    body["daily_schedules"][0]["schedule"][0]["power"] = "5"
    del body["summary"]["best_day"]
    errors = OptimizeResponseSchema().validate(body)
    assert set(errors) == {"daily_schedules", "summary"}


@pytest.mark.parametrize(
    "field", ["revenue_mxn", "energy_charged_mwh", "cycles", "avg_discharge_price_mxn_per_mwh"]
)
def test_a_non_finite_day_number_is_refused_where_the_body_is_built(field: str) -> None:
    """``daily_schedules`` is not walked again by the JSON encoder's NaN guard, so the
    serialiser checks every number of a day itself."""
    import dataclasses
    import math

    from blueprints.encoding import encode_json

    report = optimize([SHORT, LONG], BATTERY, compare=False)
    good = dump_optimize_response(report, _market([SHORT, LONG]), source="inline")
    assert b"NaN" not in encode_json(_with_metrics(good, report))
    for bad in (math.nan, math.inf):
        days = list(report.run.days)
        changed: dict[str, Any] = {field: bad}
        days[1] = dataclasses.replace(days[1], **changed)
        broken = dataclasses.replace(report, run=dataclasses.replace(report.run, days=tuple(days)))
        with pytest.raises(ValueError, match="NaN or an infinity"):
            dump_optimize_response(broken, _market([SHORT, LONG]), source="inline")


def test_a_non_finite_price_statistic_is_refused_where_it_is_added(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SPEC §9 per-day keys join the checked ``daily_schedules`` only once checked."""
    import dataclasses
    import math

    import schemas.analyst as analyst

    report = optimize([SHORT, LONG], BATTERY, compare=False)
    body = dump_optimize_response(report, _market([SHORT, LONG]), source="inline")
    real = getattr(analyst, "analyse")  # noqa: B009 - not re-exported, looked up at call

    def with_nan(run: Any, battery: Battery) -> Any:
        analysis = real(run, battery)
        stats = dataclasses.replace(analysis.day_stats, price_max=(1.0, math.nan))
        return dataclasses.replace(analysis, day_stats=stats)

    monkeypatch.setattr(analyst, "analyse", with_nan)
    with pytest.raises(ValueError, match="NaN or an infinity"):
        add_analyst_metrics(body, report, BATTERY)
