"""Inline price lists with missing days (SPEC §4: inline prices with gaps are a 422): the
priced days must be consecutive calendar days, cover start_date .. end_date when those are
given and span at most 366 days; history_prices run without a gap up to the day before the
first requested day (SPEC §11)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from marshmallow import ValidationError

from blueprints.errors import flatten_messages
from schemas.request import MAX_DAYS, OptimizeRequest, OptimizeRequestSchema

SCHEMA = OptimizeRequestSchema()
BATTERY = {"capacity_mw": 10, "duration_hours": 4, "efficiency": 0.85}


def day_items(*days: dt.date | str) -> list[dict[str, Any]]:
    """24 hourly prices for each day."""
    return [
        {"date": str(day), "hour": hour, "price": 100.0 + hour}
        for day in days
        for hour in range(24)
    ]


def run(first: dt.date, count: int) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range(count)]


def body(prices: list[dict[str, Any]], **market: Any) -> dict[str, Any]:
    return {"battery_params": BATTERY, "market_params": {"prices": prices, **market}}


def errors_of(request: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        SCHEMA.load(request)
    return flatten_messages(info.value.messages)


def loads(request: dict[str, Any]) -> OptimizeRequest:
    result = SCHEMA.load(request)
    assert isinstance(result, OptimizeRequest)
    return result


def test_two_days_eight_years_apart_are_refused() -> None:
    errors = errors_of(body(day_items("2016-01-01", "2024-01-03")))
    span = (dt.date(2024, 1, 3) - dt.date(2016, 1, 1)).days + 1
    assert errors == {
        "market_params.prices": [
            f"The prices span {span:,} market days (2016-01-01 to 2024-01-03); at most {MAX_DAYS}.",
            f"Days without prices: 2016-01-02 .. 2024-01-02 ({span - 2:,} days; every market "
            "day from 2016-01-01 to 2024-01-03 needs prices).",
        ]
    }


def test_one_missing_day_is_named() -> None:
    errors = errors_of(body(day_items("2024-01-01", "2024-01-03")))
    assert errors == {
        "market_params.prices": [
            "Days without prices: 2024-01-02 (1 day; every market day from 2024-01-01 to "
            "2024-01-03 needs prices)."
        ]
    }


def test_many_missing_days_name_the_first_runs_only() -> None:
    """Every other day for 300 days: 149 one-day holes, five of them named."""
    days = run(dt.date(2024, 1, 1), 299)[::2]
    (message,) = errors_of(body(day_items(*days)))["market_params.prices"]
    named = ", ".join(
        (dt.date(2024, 1, 2) + dt.timedelta(days=2 * i)).isoformat() for i in range(5)
    )
    assert message == (
        f"Days without prices: {named} and 144 more (149 days; every market day from "
        f"2024-01-01 to {days[-1].isoformat()} needs prices)."
    )
    assert len(message) < 300


def test_prices_must_cover_start_date_to_end_date() -> None:
    errors = errors_of(
        body(day_items("2024-01-01"), start_date="2024-01-01", end_date="2024-01-31")
    )
    assert errors == {
        "market_params.prices": [
            "Days without prices: 2024-01-02 .. 2024-01-31 (30 days; every market day from "
            "2024-01-01 to 2024-01-31 needs prices)."
        ]
    }


def test_a_missing_first_day_with_only_start_date_is_refused() -> None:
    errors = errors_of(body(day_items("2024-01-03"), start_date="2024-01-01"))
    assert errors == {
        "market_params.prices": [
            "Days without prices: 2024-01-01 .. 2024-01-02 (2 days; every market day from "
            "2024-01-01 to 2024-01-03 needs prices)."
        ]
    }


def test_a_span_over_366_days_from_start_date_is_refused() -> None:
    errors = errors_of(body(day_items("2024-12-31"), start_date="2016-01-01"))
    (span, missing) = errors["market_params.prices"]
    assert span.startswith("The prices span 3,288 market days (2016-01-01 to 2024-12-31)")
    assert missing.startswith("Days without prices: 2016-01-01 .. 2024-12-30 (3,287 days;")


def test_consecutive_days_covering_the_range_load() -> None:
    days = run(dt.date(2024, 1, 1), 31)
    request = loads(body(day_items(*days), start_date="2024-01-01", end_date="2024-01-31"))
    assert [d.date for d in request.inline_days or ()] == days
    assert (request.market.start, request.market.end) == (days[0], days[-1])


def test_a_full_span_of_366_consecutive_days_loads() -> None:
    days = run(dt.date(2024, 1, 1), MAX_DAYS)
    request = loads(body(day_items(*reversed(days))))
    assert len(request.inline_days or ()) == MAX_DAYS


def test_gap_messages_stay_one_each_beside_the_capped_item_errors() -> None:
    """Dates outside the range are item errors (50 listed); the days they leave out of the
    range are one message."""
    items = day_items(*run(dt.date(2023, 12, 1), 10))  # all before start_date
    errors = errors_of(body(items, start_date="2024-01-01", end_date="2024-01-05"))
    assert len([p for p in errors if p != "market_params.prices"]) == 50
    assert errors["market_params.prices"] == [
        "Days without prices: 2024-01-01 .. 2024-01-05 (5 days; every market day from "
        "2024-01-01 to 2024-01-05 needs prices).",
        "190 more items or days have errors; only the first 50 are listed.",
    ]


def _with_history(history: list[dict[str, Any]]) -> dict[str, Any]:
    request = body(day_items(*run(dt.date(2024, 1, 1), 3)))
    request["market_params"]["history_prices"] = history
    request["strategy"] = "forecast"
    return request


def test_history_must_run_up_to_the_first_requested_day() -> None:
    errors = errors_of(_with_history(day_items("2023-12-20")))
    assert errors == {
        "market_params.history_prices": [
            "Days without prices: 2023-12-21 .. 2023-12-31 (11 days; history_prices need every "
            "market day from 2023-12-20 to 2023-12-31, the day before the first requested day)."
        ]
    }


def test_history_with_a_hole_is_refused() -> None:
    days = [d for d in run(dt.date(2023, 12, 1), 31) if d != dt.date(2023, 12, 15)]
    errors = errors_of(_with_history(day_items(*days)))
    assert errors == {
        "market_params.history_prices": [
            "Days without prices: 2023-12-15 (1 day; history_prices need every market day from "
            "2023-12-01 to 2023-12-31, the day before the first requested day)."
        ]
    }


def test_history_spanning_over_366_days_is_refused() -> None:
    errors = errors_of(_with_history(day_items("2022-01-01", *run(dt.date(2023, 12, 1), 31))))
    (span, missing) = errors["market_params.history_prices"]
    assert span == "The prices span 730 market days (2022-01-01 to 2023-12-31); at most 366."
    assert missing.startswith("Days without prices: 2022-01-02 .. 2023-11-30 (698 days;")


def test_consecutive_history_up_to_the_first_day_loads() -> None:
    history = run(dt.date(2023, 12, 1), 31)
    request = loads(_with_history(day_items(*history)))
    assert [d.date for d in request.history_days or ()] == history


def test_history_is_checked_against_start_date() -> None:
    """With start_date given the history runs up to the day before it."""
    request = body(
        day_items(*run(dt.date(2024, 1, 1), 3)), start_date="2024-01-01", end_date="2024-01-03"
    )
    request["market_params"]["history_prices"] = day_items("2023-12-30")
    errors = errors_of(request)
    assert errors == {
        "market_params.history_prices": [
            "Days without prices: 2023-12-31 (1 day; history_prices need every market day from "
            "2023-12-30 to 2023-12-31, the day before the first requested day)."
        ]
    }


def test_a_fetched_request_takes_history_up_to_start_date() -> None:
    request = {
        "battery_params": BATTERY,
        "market_params": {
            "zone": "APATZINGAN",
            "start_date": "2024-01-01",
            "end_date": "2024-01-02",
            "history_prices": day_items("2023-12-01"),
        },
    }
    errors = errors_of(request)
    assert list(errors) == ["market_params.history_prices"]
    assert errors["market_params.history_prices"][0].startswith(
        "Days without prices: 2023-12-02 .. 2023-12-31 (30 days;"
    )
