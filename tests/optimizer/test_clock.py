"""The clock-change calendar: against the real 23- and 25-hour days in data/cenace/, a table of
known dates, the IANA time zone database (the pinned ``tzdata`` package, read directly so the
machine's own, possibly stale, database plays no part) and its invariants."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import importlib.resources
import zoneinfo
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer.clock import (
    FALL_BACK_HOURS,
    FIRST_YEAR,
    MEXICO_LAST_DST_YEAR,
    REPEATED_CLOCK_HOUR,
    SKIPPED_CLOCK_HOUR,
    SPRING_FORWARD_HOURS,
    SYSTEMS,
    clock_changes,
    hours_in_day,
    market_hour,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "cenace"
PRICE_FILES = sorted(DATA.glob("pend_*.csv.gz"))
MDA_2016 = "pend_MDA_2016-01-27_2017-06-30_7zonas_jluisfgarza.csv.gz"
#: Days requests accept (SPEC §4).
FIRST_DAY, LAST_DAY = dt.date(2016, 1, 1), dt.date(2100, 12, 31)
#: The tz database's zone for each system's market clock.
TIME_ZONES = {"SIN": "America/Mexico_City", "BCS": "America/Mazatlan", "BCA": "America/Tijuana"}
UTC = dt.UTC


def tz(system: str) -> zoneinfo.ZoneInfo:
    name = TIME_ZONES[system]
    resource = importlib.resources.files("tzdata.zoneinfo").joinpath(*name.split("/"))
    with resource.open("rb") as fh:
        return zoneinfo.ZoneInfo.from_file(fh, key=name)


def utc_hours_of(system: str, day: dt.date) -> list[dt.datetime]:
    """The UTC starts of the hours of ``day``'s local calendar day (the market hours)."""
    zone = tz(system)
    start = dt.datetime.combine(day, dt.time(), zone).astimezone(UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).astimezone(UTC)
    return [start + dt.timedelta(hours=h) for h in range((end - start) // dt.timedelta(hours=1))]


def every_day(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


# --- the real data ----------------------------------------------------------------------------


def real_hour_counts() -> dict[tuple[str, str, str, dt.date], int]:
    """{(file, system, zone and process, day): hours} over every real price file."""
    counts: Counter[tuple[str, str, str, dt.date]] = Counter()
    for path in PRICE_FILES:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                zone = f"{row['proceso']} {row['zona_carga']}"
                counts[path.name, row["sistema"], zone, dt.date.fromisoformat(row["fecha"])] += 1
    return dict(counts)


def test_every_real_day_has_the_calendars_hour_count() -> None:
    counts = real_hour_counts()
    assert len(PRICE_FILES) == 4
    wrong = [(key, hours) for key, hours in counts.items() if hours != hours_in_day(key[1], key[3])]
    assert wrong == []
    short_or_long = {(system, day, hours) for (_, system, _, day), hours in counts.items()}
    assert {(s, d, h) for s, d, h in short_or_long if h != 24} == {
        ("SIN", dt.date(2016, 4, 3), 23),
        ("SIN", dt.date(2017, 4, 2), 23),
        ("SIN", dt.date(2016, 10, 30), 25),
        ("BCS", dt.date(2016, 4, 3), 23),
        ("BCS", dt.date(2017, 4, 2), 23),
        ("BCS", dt.date(2016, 10, 30), 25),
        ("BCA", dt.date(2016, 3, 13), 23),
        ("BCA", dt.date(2017, 3, 12), 23),
        ("BCA", dt.date(2016, 11, 6), 25),
    }


def test_real_hour_numbers_of_a_clock_change_day_map_onto_every_market_hour() -> None:
    """CENACE numbers a 23/25-hour day's hours 1..23 / 1..25: each is one market hour."""
    for system, day in [("SIN", dt.date(2016, 4, 3)), ("BCA", dt.date(2016, 11, 6))]:
        with gzip.open(DATA / MDA_2016, "rt", encoding="utf-8", newline="") as fh:
            hours = sorted(
                int(row["hora"])
                for row in csv.DictReader(fh)
                if row["sistema"] == system
                and row["fecha"] == day.isoformat()
                and row["zona_carga"] in ("APATZINGAN", "MEXICALI")
            )
        assert hours == list(range(1, hours_in_day(system, day) + 1))


# --- known dates ------------------------------------------------------------------------------

KNOWN = [
    # Mexico's last years of daylight saving time (SIN, BCS): first Sunday of April, last of
    # October, at 02:00.
    *[
        (system, spring, fall)
        for system in ("SIN", "BCS")
        for spring, fall in [
            ((2016, 4, 3), (2016, 10, 30)),
            ((2017, 4, 2), (2017, 10, 29)),
            ((2018, 4, 1), (2018, 10, 28)),
            ((2019, 4, 7), (2019, 10, 27)),
            ((2020, 4, 5), (2020, 10, 25)),
            ((2021, 4, 4), (2021, 10, 31)),
            ((2022, 4, 3), (2022, 10, 30)),
        ]
    ],
    # Baja California on the United States' dates.
    *[
        ("BCA", spring, fall)
        for spring, fall in [
            ((2016, 3, 13), (2016, 11, 6)),
            ((2017, 3, 12), (2017, 11, 5)),
            ((2020, 3, 8), (2020, 11, 1)),
            ((2022, 3, 13), (2022, 11, 6)),
            ((2023, 3, 12), (2023, 11, 5)),
            ((2024, 3, 10), (2024, 11, 3)),
            ((2025, 3, 9), (2025, 11, 2)),
            ((2026, 3, 8), (2026, 11, 1)),
            ((2030, 3, 10), (2030, 11, 3)),
            ((2050, 3, 13), (2050, 11, 6)),
            ((2099, 3, 8), (2099, 11, 1)),
            ((2100, 3, 14), (2100, 11, 7)),
        ]
    ],
]


@pytest.mark.parametrize(
    ("system", "spring", "fall"), KNOWN, ids=[f"{s}-{sp[0]}" for s, sp, _ in KNOWN]
)
def test_known_clock_change_days(
    system: str, spring: tuple[int, int, int], fall: tuple[int, int, int]
) -> None:
    spring_day, fall_day = dt.date(*spring), dt.date(*fall)
    assert clock_changes(system, spring_day.year) == (spring_day, fall_day)
    assert hours_in_day(system, spring_day) == 23
    assert hours_in_day(system, fall_day) == 25
    for day in (spring_day, fall_day):
        assert hours_in_day(system, day - dt.timedelta(days=1)) == 24
        assert hours_in_day(system, day + dt.timedelta(days=1)) == 24


@pytest.mark.parametrize("system", ["SIN", "BCS"])
@pytest.mark.parametrize("year", [2023, 2024, 2026, 2050, 2100], ids=str)
def test_mexico_has_no_clock_change_after_2022(system: str, year: int) -> None:
    assert clock_changes(system, year) is None
    # Neither Mexico's old dates nor the US's are short or long days any more.
    us_dates = clock_changes("BCA", year)
    assert us_dates is not None
    for day in (*us_dates, dt.date(year, 4, 2), dt.date(year, 10, 29)):
        assert hours_in_day(system, day) == 24


@pytest.mark.parametrize(
    ("system", "day", "hours"),
    [
        ("SIN", dt.date(2001, 5, 6), 23),  # Mexico's 2001 exception: May to September
        ("SIN", dt.date(2001, 9, 30), 25),
        ("SIN", dt.date(2001, 4, 1), 24),
        ("BCA", dt.date(2001, 4, 1), 23),  # Baja California kept the US's dates in 2001
        ("BCA", dt.date(2000, 4, 2), 23),
        ("BCA", dt.date(2008, 3, 9), 24),  # 2007-2009 on Mexico's dates, not the US's
        ("BCA", dt.date(2008, 4, 6), 23),
        ("BCA", dt.date(2010, 3, 14), 23),  # US dates from 2010
    ],
    ids=lambda v: str(v),
)
def test_history_before_the_market_follows_the_tz_database(
    system: str, day: dt.date, hours: int
) -> None:
    assert hours_in_day(system, day) == hours


# --- the tz database, every day ---------------------------------------------------------------


@pytest.mark.parametrize("system", SYSTEMS)
def test_every_day_matches_the_tz_database(system: str) -> None:
    """Every day from 1996 to 2100: the local day's length in the tz database."""
    zone = tz(system)
    days = every_day(dt.date(FIRST_YEAR, 1, 1), LAST_DAY + dt.timedelta(days=1))
    midnights = [dt.datetime.combine(d, dt.time(), zone).astimezone(UTC) for d in days]
    for day, start, end in zip(days, midnights, midnights[1:], strict=False):
        assert hours_in_day(system, day) == (end - start) // dt.timedelta(hours=1), day


@pytest.mark.parametrize("system", SYSTEMS)
def test_market_hours_of_clock_change_days_match_the_tz_database(system: str) -> None:
    """On every clock-change day from 2016 to 2100, the UTC hours of the local day, read on the
    local wall clock, are the clock hours whose market_hour is their position in the day."""
    zone = tz(system)
    checked = 0
    for year in range(FIRST_DAY.year, LAST_DAY.year + 1):
        for day in clock_changes(system, year) or ():
            seen: Counter[int] = Counter()
            utc_hours = utc_hours_of(system, day)
            assert len(utc_hours) == hours_in_day(system, day)
            for position, start in enumerate(utc_hours):
                clock_hour = start.astimezone(zone).hour
                assert market_hour(system, day, clock_hour, seen[clock_hour]) == position
                seen[clock_hour] += 1
            checked += 1
    dst_years = LAST_DAY.year if system == "BCA" else MEXICO_LAST_DST_YEAR
    assert checked == 2 * (dst_years - FIRST_DAY.year + 1)


# --- invariants -------------------------------------------------------------------------------

systems = st.sampled_from(SYSTEMS)


@given(system=systems, year=st.integers(min_value=FIRST_DAY.year, max_value=LAST_DAY.year))
def test_a_dst_year_has_one_short_and_one_long_day_spring_first(system: str, year: int) -> None:
    counts = Counter(
        hours_in_day(system, d) for d in every_day(dt.date(year, 1, 1), dt.date(year, 12, 31))
    )
    changes = clock_changes(system, year)
    if system != "BCA" and year > MEXICO_LAST_DST_YEAR:
        assert changes is None
        assert counts[23] == counts[25] == 0
        return
    assert changes is not None
    spring, fall = changes
    assert counts[23] == counts[25] == 1
    assert spring < fall
    assert spring.weekday() == fall.weekday() == 6  # Sundays
    assert hours_in_day(system, spring) == SPRING_FORWARD_HOURS
    assert hours_in_day(system, fall) == FALL_BACK_HOURS


@given(system=systems, day=st.dates(min_value=FIRST_DAY, max_value=LAST_DAY))
def test_the_rows_of_a_day_in_clock_order_fill_every_market_hour_once(
    system: str, day: dt.date
) -> None:
    hours = hours_in_day(system, day)
    rows = [h for h in range(24) if not (hours == 23 and h == SKIPPED_CLOCK_HOUR)]
    if hours == 25:
        rows.insert(REPEATED_CLOCK_HOUR, REPEATED_CLOCK_HOUR)
    seen: Counter[int] = Counter()
    mapped = []
    for clock_hour in rows:
        mapped.append(market_hour(system, day, clock_hour, seen[clock_hour]))
        seen[clock_hour] += 1
    assert mapped == list(range(hours))
    # One more row of any clock hour is a duplicate; the skipped hour never exists.
    for clock_hour in range(24):
        assert market_hour(system, day, clock_hour, seen[clock_hour]) is None


def test_the_skipped_and_repeated_clock_hours() -> None:
    spring, fall = dt.date(2016, 4, 3), dt.date(2016, 10, 30)
    assert market_hour("SIN", spring, SKIPPED_CLOCK_HOUR) is None
    assert market_hour("SIN", spring, SKIPPED_CLOCK_HOUR + 1) == SKIPPED_CLOCK_HOUR
    assert market_hour("SIN", fall, REPEATED_CLOCK_HOUR, 0) == REPEATED_CLOCK_HOUR
    assert market_hour("SIN", fall, REPEATED_CLOCK_HOUR, 1) == REPEATED_CLOCK_HOUR + 1
    assert market_hour("SIN", fall, REPEATED_CLOCK_HOUR, 2) is None
    assert market_hour("SIN", fall, 23) == 24
    assert market_hour("SIN", dt.date(2016, 10, 31), 23) == 23


def test_a_system_enum_passes_as_its_name() -> None:
    from prices.base import System

    for system in System:
        assert clock_changes(system, 2016) == clock_changes(str(system), 2016)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: hours_in_day("XYZ", dt.date(2024, 1, 1)), "unknown system 'XYZ'"),
        (lambda: hours_in_day("SIN", dt.date(FIRST_YEAR - 1, 6, 1)), "starts in 1996"),
        (lambda: market_hour("SIN", dt.date(2024, 1, 1), 24), "clock hour 24"),
        (lambda: market_hour("SIN", dt.date(2024, 1, 1), -1), "clock hour -1"),
        (lambda: market_hour("SIN", dt.date(2024, 1, 1), 3, -1), "occurrence -1"),
    ],
    ids=["unknown-system", "before-1996", "hour-24", "hour-minus-1", "negative-occurrence"],
)
def test_bad_arguments_are_value_errors(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
