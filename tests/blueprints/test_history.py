"""SPEC §11 through POST /optimize: forecast history fetched before start_date (best effort,
never reported), ``market_params.history_prices`` and ``forecast_prices``, ``market.forecast``."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from optimizer import MarketDay
from prices import PriceQuery, PriceSettings, UpstreamError
from testkit.events import prd_request
from tests.conftest import RecordedSource


class HistoryFailsSource(RecordedSource):
    """The recording, failing (502) on any query that starts before ``first``."""

    name = "recorded"

    def __init__(self, first: dt.date) -> None:
        super().__init__()
        self.first = first

    def fetch(self, query: PriceQuery, *, deadline_s: float | None = None) -> list[MarketDay]:
        if query.start < self.first:
            self.calls.append(query)
            raise UpstreamError("the upstream failed")
        return super().fetch(query, deadline_s=deadline_s)


class FlatSource:
    """Flat 24-hour days for any query, recording the queries."""

    name = "flat"

    def __init__(self) -> None:
        self.calls: list[PriceQuery] = []

    def fetch(self, query: PriceQuery, *, deadline_s: float | None = None) -> list[MarketDay]:
        self.calls.append(query)
        return [MarketDay(day, (100.0,) * 24) for day in query.days]


def make_client(source: Any, history_days: int = 56) -> FlaskClient:
    settings = PriceSettings(forecast_history_days=history_days)
    app: Flask = create_app(
        {"TESTING": True, "PRICE_SOURCE_OBJECT": source, "PRICE_SETTINGS": settings}
    )
    return app.test_client()


def request(start: str, end: str, **top: Any) -> dict[str, Any]:
    body = prd_request(start_date=start, end_date=end)
    body.update(top)
    return body


def schedules(body: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {day["date"]: day["schedule"] for day in body["daily_schedules"]}


def items(days: list[MarketDay]) -> list[dict[str, Any]]:
    return [
        {"date": day.date.isoformat(), "hour": hour, "price": price}
        for day in days
        for hour, price in enumerate(day.prices_mxn_per_mwh)
    ]


@pytest.mark.parametrize("strategy", ["forecast", "learned"])
def test_fetched_history_continues_the_run(strategy: str) -> None:
    """With 14 days of history, 2020-08-15.. is scheduled as inside a run from 2020-08-01;
    the history days are fetched but never reported."""
    source = RecordedSource()
    client = make_client(source, history_days=14)
    short = client.post("/optimize", json=request("2020-08-15", "2020-08-31", strategy=strategy))
    assert short.status_code == 200, short.get_json()
    assert source.calls[-1] == PriceQuery(
        zone="APATZINGAN", start=dt.date(2020, 8, 1), end=dt.date(2020, 8, 14)
    )
    body = short.get_json()
    assert next(d["date"] for d in body["daily_schedules"]) == "2020-08-15"
    assert body["summary"]["days"] == 17
    assert body["market"]["forecast"] == "mean7"
    assert body["daily_schedules"][0]["energy_discharged"] > 0  # not idle: it had history
    long = make_client(RecordedSource(), history_days=0).post(
        "/optimize", json=request("2020-08-01", "2020-08-31", strategy=strategy)
    )
    whole = schedules(long.get_json())
    for date, schedule in schedules(body).items():
        assert schedule == whole[date]


def test_without_history_the_first_day_idles() -> None:
    client = make_client(RecordedSource(), history_days=0)
    body = client.post(
        "/optimize", json=request("2020-08-15", "2020-08-20", strategy="forecast")
    ).get_json()
    assert body["daily_schedules"][0]["energy_discharged"] == 0.0


def test_history_only_fetched_when_a_strategy_without_foresight_runs() -> None:
    source = RecordedSource()
    client = make_client(source, history_days=14)
    response = client.post("/optimize", json=request("2020-08-15", "2020-08-20", compare=False))
    assert response.status_code == 200
    assert [q.start for q in source.calls] == [dt.date(2020, 8, 15)]
    response = client.post(
        "/optimize", json=request("2020-08-15", "2020-08-20", compare=False, strategy="learned")
    )
    assert response.status_code == 200
    assert [q.start for q in source.calls][-1] == dt.date(2020, 8, 1)


def test_history_stops_at_the_market_opening() -> None:
    source = FlatSource()
    client = make_client(source, history_days=366)
    response = client.post("/optimize", json=request("2016-01-10", "2016-01-12"))
    assert response.status_code == 200
    assert [(q.start, q.end) for q in source.calls] == [
        (dt.date(2016, 1, 10), dt.date(2016, 1, 12)),
        (dt.date(2016, 1, 1), dt.date(2016, 1, 9)),
    ]
    response = client.post("/optimize", json=request("2016-01-01", "2016-01-02"))
    assert response.status_code == 200
    assert source.calls[-1].start == dt.date(2016, 1, 1)  # nothing before the opening


def test_a_failed_history_fetch_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    source = HistoryFailsSource(first=dt.date(2020, 8, 10))
    client = make_client(source, history_days=14)
    with caplog.at_level(logging.WARNING, logger="blueprints.service"):
        response = client.post(
            "/optimize", json=request("2020-08-10", "2020-08-20", strategy="forecast")
        )
    assert response.status_code == 200
    body = response.get_json()
    assert body["daily_schedules"][0]["energy_discharged"] == 0.0  # no history: idles
    assert "no forecast history" in caplog.text
    assert "the upstream failed" in caplog.text


def test_history_the_source_lacks_in_part_is_shortened() -> None:
    """The recording starts on 2020-08-01: 56 and 28 days before 2020-08-20 are refused (404),
    the latest 14 are there and used."""
    source = RecordedSource()
    client = make_client(source, history_days=56)
    response = client.post(
        "/optimize", json=request("2020-08-20", "2020-08-31", strategy="forecast")
    )
    assert response.status_code == 200
    assert [(q.start, q.end) for q in source.calls] == [
        (dt.date(2020, 8, 20), dt.date(2020, 8, 31)),
        (dt.date(2020, 6, 25), dt.date(2020, 8, 19)),
        (dt.date(2020, 7, 23), dt.date(2020, 8, 19)),
        (dt.date(2020, 8, 6), dt.date(2020, 8, 19)),
    ]
    assert response.get_json()["daily_schedules"][0]["energy_discharged"] > 0


def test_inline_history_prices() -> None:
    recorded = RecordedSource()
    august = recorded.fetch(
        PriceQuery(zone="MORELIA", start=dt.date(2020, 8, 1), end=dt.date(2020, 8, 31))
    )
    client = make_client(recorded)
    battery = prd_request()["battery_params"]
    market: dict[str, Any] = {"prices": items(august[20:])}
    whole = client.post(
        "/optimize",
        json={"battery_params": battery, "market_params": {"prices": items(august)},
              "strategy": "learned"},
    ).get_json()  # fmt: skip
    market["history_prices"] = items(august[:20])
    response = client.post(
        "/optimize",
        json={"battery_params": battery, "market_params": market, "strategy": "learned"},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [d["date"] for d in body["daily_schedules"]] == [d.date.isoformat() for d in august[20:]]
    expected = schedules(whole)
    for date, schedule in schedules(body).items():
        assert schedule == expected[date]


def test_caller_forecast() -> None:
    recorded = RecordedSource()
    days = recorded.fetch(
        PriceQuery(zone="APATZINGAN", start=dt.date(2020, 8, 1), end=dt.date(2020, 8, 7))
    )
    client = make_client(recorded)
    body = request("2020-08-01", "2020-08-07", strategy="forecast")
    body["market_params"]["forecast_prices"] = items(days)  # a perfect forecast
    response = client.post("/optimize", json=body)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["market"]["forecast"] == "caller"
    rows = {r["strategy"]: r for r in answer["comparison"]}
    assert rows["forecast"]["total_revenue"] == pytest.approx(rows["optimal"]["total_revenue"])
    assert answer["daily_schedules"][0]["energy_discharged"] > 0


@pytest.mark.parametrize(
    ("field", "prices", "errors"),
    [
        ("history_prices", [("2020-08-01", 0)] + [("2020-07-31", h) for h in range(24)],
         {"market_params.history_prices.0": ["History days must be before start_date."],
          "market_params.history_prices": [
              "2020-08-01: needs one price for each hour 0..n-1 with n in 23, 24 or 25 and no "
              "gaps (got hour 0)."]}),
        ("history_prices", [("2020-07-31", h) for h in range(23)] + [("2020-07-31", 0)],
         {"market_params.history_prices.23": ["Duplicate of item 0 (2020-07-31 hour 0)."]}),
        ("history_prices", [("2020-07-31", h) for h in range(20)],
         {"market_params.history_prices": [
             "2020-07-31: needs one price for each hour 0..n-1 with n in 23, 24 or 25 and no "
             "gaps (got 20 hours, 0..19)."]}),
        ("forecast_prices", [("2020-08-01", h) for h in range(24)],
         {"market_params.forecast_prices": [
             "No forecast for requested days: 2020-08-02"]}),
        ("forecast_prices", [(d, h) for d in ("2020-08-01", "2020-08-02", "2020-08-03")
                             for h in range(24)],
         {**{f"market_params.forecast_prices.{i}": ["Date outside the requested market days."]
             for i in range(48, 72)}}),
    ],
    ids=["history-after-start", "history-duplicate", "history-gap", "forecast-missing-day",
         "forecast-extra-day"],
)  # fmt: skip
def test_422_with_exact_field_paths(
    field: str, prices: list[tuple[str, int]], errors: dict[str, list[str]]
) -> None:
    body = request("2020-08-01", "2020-08-02", strategy="forecast")
    body["market_params"][field] = [{"date": d, "hour": h, "price": 100.0} for d, h in prices]
    response = make_client(RecordedSource()).post("/optimize", json=body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"] == errors


def test_forecast_for_an_inline_gap_day_is_refused() -> None:
    day = [100.0 + h for h in range(24)]
    prices = [{"date": d, "hour": h, "price": p} for d in ("2024-01-01", "2024-01-03")
              for h, p in enumerate(day)]  # fmt: skip
    forecast = [{"date": d, "hour": h, "price": p}
                for d in ("2024-01-01", "2024-01-02", "2024-01-03")
                for h, p in enumerate(day)]  # fmt: skip
    body = {"battery_params": prd_request()["battery_params"],
            "market_params": {"prices": prices, "forecast_prices": forecast}}  # fmt: skip
    response = make_client(RecordedSource()).post("/optimize", json=body)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {  # the prices' own gap, before any forecast
        "market_params.prices": [
            "Days without prices: 2024-01-02 (1 day; every market day from 2024-01-01 to "
            "2024-01-03 needs prices)."
        ]
    }


# --- POST /sizing and POST /siting run each strategy as POST /optimize does -----------------


def optimize_total(client: FlaskClient, body: dict[str, Any]) -> float:
    response = client.post("/optimize", json={**body, "compare": False})
    assert response.status_code == 200, response.get_json()
    return float(response.get_json()["summary"]["total_revenue"])


@pytest.mark.parametrize("strategy", ["forecast", "learned"])
def test_sizing_fetches_the_history_optimize_fetches(strategy: str) -> None:
    """A sizing row is POST /optimize's run of its duration, history included: before stop 30
    sizing ran ``forecast`` and ``learned`` without history, so its first days idled and
    its rows disagreed with /optimize's."""
    source = RecordedSource()
    client = make_client(source, history_days=14)
    body = request("2020-08-15", "2020-08-31", strategy=strategy)
    battery = {k: v for k, v in body["battery_params"].items() if k != "duration_hours"}
    sizing = {**body, "battery_params": battery, "durations_hours": [2, 4]}
    response = client.post("/sizing", json=sizing)
    assert response.status_code == 200, response.get_json()
    assert PriceQuery(zone="APATZINGAN", start=dt.date(2020, 8, 1), end=dt.date(2020, 8, 14)) in (
        source.calls
    )
    without = make_client(RecordedSource(), history_days=0).post("/sizing", json=sizing)
    for row, bare in zip(response.get_json()["rows"], without.get_json()["rows"], strict=True):
        duration = {**battery, "duration_hours": row["duration_hours"]}
        single = optimize_total(client, {**body, "battery_params": duration})
        assert row["total_revenue"] == pytest.approx(single, rel=1e-12)
        assert row["total_revenue"] != pytest.approx(bare["total_revenue"], rel=1e-6)


def test_sizing_uses_the_caller_s_history_and_forecast() -> None:
    """Inline ``history_prices`` and ``forecast_prices`` reach every sizing row as they reach
    POST /optimize (sizing ignored both before stop 30)."""
    recorded = RecordedSource().fetch(
        PriceQuery(zone="APATZINGAN", start=dt.date(2020, 8, 1), end=dt.date(2020, 8, 20))
    )
    history, days, forecast = items(recorded[:10]), items(recorded[10:15]), items(recorded[15:])
    forecast = [{**item, "date": days[i]["date"]} for i, item in enumerate(forecast)]
    client = make_client(FlatSource())
    battery = {"capacity_mw": 10, "efficiency": 0.85}
    for market in (
        {"prices": days, "history_prices": history},
        {"prices": days, "forecast_prices": forecast},
    ):
        sizing = {"battery_params": battery, "market_params": market, "strategy": "forecast"}
        response = client.post("/sizing", json={**sizing, "durations_hours": [4]})
        assert response.status_code == 200, response.get_json()
        # which forecast was scheduled on, as POST /optimize says it
        said = "caller" if "forecast_prices" in market else "mean7"
        assert response.get_json()["market"]["forecast"] == said
        total = response.get_json()["rows"][0]["total_revenue"]
        single = optimize_total(
            client, {**sizing, "battery_params": {**battery, "duration_hours": 4}}
        )
        assert total == pytest.approx(single, rel=1e-12)
        bare = client.post(
            "/sizing",
            json={**sizing, "market_params": {"prices": days}, "durations_hours": [4]},
        )
        assert total != pytest.approx(bare.get_json()["rows"][0]["total_revenue"], rel=1e-6)


@pytest.mark.parametrize("strategy", ["optimal", "learned"])
def test_siting_rows_fetch_the_history_optimize_fetches(strategy: str) -> None:
    """Each zone's row, and what ``forecast`` captures there, are POST /optimize's for that
    zone, history included (siting ran ``forecast`` and ``learned`` without history before
    stop 30)."""
    source = RecordedSource()
    client = make_client(source, history_days=14)
    zones = ["APATZINGAN", "MORELIA"]
    body = request("2020-08-15", "2020-08-31", strategy=strategy)
    market = {"zones": zones, "start_date": "2020-08-15", "end_date": "2020-08-31"}
    response = client.post("/siting", json={**body, "market_params": market})
    assert response.status_code == 200, response.get_json()
    for zone in zones:
        assert PriceQuery(zone=zone, start=dt.date(2020, 8, 1), end=dt.date(2020, 8, 14)) in (
            source.calls
        )
    for row in response.get_json()["rows"]:
        single_body = {**body, "market_params": {**body["market_params"], "zone": row["zone"]}}
        single = client.post("/optimize", json={**single_body, "compare": True}).get_json()
        assert row["total_revenue"] == pytest.approx(single["summary"]["total_revenue"], rel=1e-12)
        forecast = next(r for r in single["comparison"] if r["strategy"] == "forecast")
        assert row["forecast_pct_of_optimal"] == pytest.approx(forecast["pct_of_optimal"], 1e-9)
