"""Turning parsed prices into complete market days."""

from __future__ import annotations

import datetime as dt

import pytest

from optimizer import MarketDay
from optimizer.clock import hours_in_day
from prices import NoPricesError, System, UpstreamError
from prices.validation import HourPrice, assemble_days, parse_price


@pytest.mark.parametrize(
    ("system", "day", "hours"),
    [
        (System.SIN, "2016-04-03", 23),
        (System.SIN, "2016-10-30", 25),
        (System.SIN, "2024-10-27", 24),  # no clock change in Mexico since 2022
        (System.BCA, "2024-03-10", 23),  # Baja California follows the US
        (System.BCA, "2024-11-03", 25),
        (System.BCA, "2016-04-03", 24),
    ],
    ids=lambda v: str(v),
)
def test_assemble_wants_the_hours_of_the_systems_calendar(
    system: System, day: str, hours: int
) -> None:
    """Exactly hours_in_day hours (optimizer.clock, tested in tests/optimizer/test_clock.py)."""
    date = dt.date.fromisoformat(day)
    assert hours_in_day(system, date) == hours

    def assemble_on(n: int) -> list[MarketDay]:
        return assemble_days(full_day(date, n), days=[date], system=system, source="t", zone="Z")

    assert assemble_on(hours)[0].hours == hours
    for wrong in {23, 24, 25} - {hours}:
        message = "missing hour" if wrong < hours else "prices came for hour"
        with pytest.raises(UpstreamError, match=message):
            assemble_on(wrong)


@pytest.mark.parametrize(
    ("value", "price"), [(12, 12.0), (-3.5, -3.5), ("929.10", 929.1), (" 1e3", 1000.0)]
)
def test_parse_price_accepts_numbers_and_numeric_strings(value: object, price: float) -> None:
    assert parse_price(value, source="t", where="x") == price


@pytest.mark.parametrize("value", [None, True, "", "abc", "nan", "inf", float("nan"), [1]])
def test_parse_price_rejects_anything_else(value: object) -> None:
    with pytest.raises(UpstreamError):
        parse_price(value, source="t", where="x")


DAY = dt.date(2024, 1, 1)


def full_day(day: dt.date = DAY, n: int = 24) -> list[HourPrice]:
    return [HourPrice(day, h, 100.0 + h) for h in range(n)]


def assemble(entries: list[HourPrice], days: list[dt.date] | None = None):
    return assemble_days(entries, days=days or [DAY], system=System.SIN, source="t", zone="Z")


def test_assemble_orders_days_and_hours() -> None:
    day2 = DAY + dt.timedelta(days=1)
    entries = list(reversed(full_day(day2))) + full_day()
    result = assemble(entries, [DAY, day2])
    assert [d.date for d in result] == [DAY, day2]
    assert result[0].prices_mxn_per_mwh == tuple(100.0 + h for h in range(24))


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (full_day()[:-1], "missing hour 23"),
        ([*full_day(), HourPrice(DAY, 3, 1.0)], "hour 3 appears more than once"),
        ([*full_day(), HourPrice(DAY, 24, 1.0)], "prices came for hour 24"),
        ([*full_day(), HourPrice(DAY + dt.timedelta(days=3), 0, 1.0)], "was not asked"),
        ([*full_day()[:5], HourPrice(DAY, 5, float("nan")), *full_day()[6:]], "not finite"),
    ],
    ids=["missing", "duplicate", "extra-hour", "other-day", "nan"],
)
def test_assemble_rejects_incomplete_or_inconsistent_days(
    entries: list[HourPrice], message: str
) -> None:
    with pytest.raises(UpstreamError, match=message):
        assemble(entries)


def test_assemble_without_any_price_is_404() -> None:
    with pytest.raises(NoPricesError, match="from 2024-01-01 to 2024-01-01"):
        assemble([])


def test_assemble_with_a_day_left_out_is_404_never_partial() -> None:
    days = [DAY + dt.timedelta(days=i) for i in range(3)]
    with pytest.raises(NoPricesError, match="1 of the 3 requested days"):
        assemble(full_day(days[0]) + full_day(days[2]), days)
