"""The clock-change calendar of CENACE's three systems: which market days have 23, 24 or 25
hours, and which market hour a wall-clock hour is. The one implementation; everything that
needs to know a day's length or where the skipped or repeated hour falls asks this module.

A market day is a local calendar day of its system's clock, in hour-beginning hours. Clocks
change at 02:00 local time on a Sunday:

- spring forward (23-hour day): 02:00 becomes 03:00, so clock hour 2 (02:00-03:00) does not
  exist; market hours 0, 1 are clock hours 0, 1 and market hour h >= 2 is clock hour h + 1;
- fall back (25-hour day): 02:00 daylight becomes 01:00 standard, so clock hour 1 (01:00-02:00)
  happens twice; market hours 1 and 2 are its first (daylight) and second (standard)
  occurrence and market hour h >= 3 is clock hour h - 1.

The rules, as the IANA time zone database records them (SIN is America/Mexico_City, BCS
America/Mazatlan, BCA America/Tijuana; tests/optimizer/test_clock.py checks every year against
it):

- SIN and BCS (Mexico): from the first Sunday of April to the last Sunday of October, 1996 to
  2022, except 2001 (first Sunday of May to last Sunday of September). Mexico abolished daylight
  saving time after 2022-10-30: no clock change since.
- BCA (Baja California, which keeps the United States' dates): from the first Sunday of April
  to the last Sunday of October up to 2009 (Mexico's dates 1996-2000 and 2002-2009, the US's in
  1987-1995 and 2001, and they coincide in those years); since 2010 the US rules of 2007: second
  Sunday of March to first Sunday of November.

The market opened in 2016 and requests are limited to 2016-01-01 .. 2100-12-31; the calendar
is defined from :data:`FIRST_YEAR` on, for every later year (the current rules are assumed to
continue), and raises ``ValueError`` before it.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Final

#: The systems the calendar knows (``prices.base.System`` values).
SYSTEMS: Final = ("SIN", "BCA", "BCS")
#: First year the calendar covers (Mexico's first daylight-saving year of the current era).
FIRST_YEAR: Final = 1996
#: Last year Mexico (SIN, BCS) changed clocks; the last change was on 2022-10-30.
MEXICO_LAST_DST_YEAR: Final = 2022
#: First year BCA follows the US rules of 2007 (second Sunday of March, first of November).
BCA_US_2007_RULES_FROM: Final = 2010

#: Clock hour (0-based, hour-beginning) that does not exist on a spring-forward day (02:00).
SKIPPED_CLOCK_HOUR: Final = 2
#: Clock hour that happens twice on a fall-back day (01:00): market hours 1 and 2.
REPEATED_CLOCK_HOUR: Final = 1

#: Hours of an ordinary market day, a spring-forward day and a fall-back day.
DAY_HOURS: Final = 24
SPRING_FORWARD_HOURS: Final = 23
FALL_BACK_HOURS: Final = 25


def _nth_sunday(year: int, month: int, n: int) -> dt.date:
    """The n-th Sunday (n >= 1) of a month."""
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


def _last_sunday(year: int, month: int) -> dt.date:
    """The last Sunday of a month (months 1..11)."""
    last = dt.date(year, month + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() + 1) % 7)


def _check_system(system: str) -> None:
    if system not in SYSTEMS:
        raise ValueError(f"unknown system {system!r}: expected one of {', '.join(SYSTEMS)}")


@cache
def clock_changes(system: str, year: int) -> tuple[dt.date, dt.date] | None:
    """(spring-forward day, fall-back day) of ``system`` in ``year``; ``None`` without DST."""
    _check_system(system)
    if year < FIRST_YEAR:
        raise ValueError(f"the clock calendar starts in {FIRST_YEAR}, not {year}")
    if system == "BCA":
        if year >= BCA_US_2007_RULES_FROM:
            return _nth_sunday(year, 3, 2), _nth_sunday(year, 11, 1)
        return _nth_sunday(year, 4, 1), _last_sunday(year, 10)
    if year > MEXICO_LAST_DST_YEAR:
        return None
    if year == 2001:
        return _nth_sunday(year, 5, 1), _last_sunday(year, 9)
    return _nth_sunday(year, 4, 1), _last_sunday(year, 10)


def hours_in_day(system: str, day: dt.date) -> int:
    """Hours of ``day``'s market day in ``system``: 23 (spring forward), 25 (fall back) or 24."""
    changes = clock_changes(system, day.year)
    if changes is None:
        return DAY_HOURS
    spring, fall = changes
    if day == spring:
        return SPRING_FORWARD_HOURS
    if day == fall:
        return FALL_BACK_HOURS
    return DAY_HOURS


def market_hour(system: str, day: dt.date, clock_hour: int, occurrence: int = 0) -> int | None:
    """The 0-based market hour of a row stamped ``clock_hour`` (0..23, hour-beginning, local
    wall clock) on ``day``, when ``occurrence`` earlier rows of that day had the same clock hour.

    ``None`` when that row cannot exist: clock hour 2 on a spring-forward day, a third 01:00 on a
    fall-back day, or any other clock hour seen before (``occurrence`` > 0) -- a duplicate.
    """
    if not 0 <= clock_hour <= 23:
        raise ValueError(f"clock hour {clock_hour} is outside 0..23")
    if occurrence < 0:
        raise ValueError(f"occurrence {occurrence} is negative")
    hours = hours_in_day(system, day)
    if hours == SPRING_FORWARD_HOURS:
        if clock_hour == SKIPPED_CLOCK_HOUR or occurrence > 0:
            return None
        return clock_hour if clock_hour < SKIPPED_CLOCK_HOUR else clock_hour - 1
    if hours == FALL_BACK_HOURS:
        if clock_hour == REPEATED_CLOCK_HOUR:
            return clock_hour + occurrence if occurrence <= 1 else None
        if occurrence > 0:
            return None
        return clock_hour if clock_hour < REPEATED_CLOCK_HOUR else clock_hour + 1
    return clock_hour if occurrence == 0 else None
