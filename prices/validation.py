"""Validation of what a remote source answered, before the optimizer sees it.

Sources parse their wire format into :class:`HourPrice` entries (market day, 0-based hour of
that day, price); :func:`assemble_days` turns them into complete ``MarketDay`` objects or
raises: every requested day must have exactly the hours it should have (23, 24 or 25, by the
clock-change calendar of its system, ``optimizer.clock``), each once, with finite prices. Never
a partial schedule.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from optimizer import MarketDay
from optimizer.clock import hours_in_day
from prices.base import NoPricesError, System, UpstreamError


@dataclass(frozen=True)
class HourPrice:
    """One price as read from a source: ``hour`` is 0-based, hour-beginning, in ``day``."""

    day: dt.date
    hour: int
    price_mxn_per_mwh: float


def parse_price(value: object, *, source: str, where: str) -> float:
    """A finite price from a JSON number or numeric string; anything else is a 502."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UpstreamError(f"{source}: {where}: the price is not a number")
    try:
        price = float(value)
    except ValueError:
        raise UpstreamError(f"{source}: {where}: the price is not a number") from None
    if not math.isfinite(price):
        raise UpstreamError(f"{source}: {where}: the price is not finite")
    return price


def _hours_text(hours: Iterable[int]) -> str:
    return ", ".join(str(h) for h in sorted(hours))


def assemble_days(
    entries: Iterable[HourPrice],
    *,
    days: Sequence[dt.date],
    system: System,
    source: str,
    zone: str,
) -> list[MarketDay]:
    """One complete ``MarketDay`` per requested day, in date order.

    - an entry for a day not requested, a repeated hour, an hour outside the day, or a day
      with some but not all of its hours → ``UpstreamError`` (502);
    - requested days with no entry at all → ``NoPricesError`` (404): the source has no prices
      for them (unknown zone, or dates not published yet).
    """
    wanted = set(days)
    by_day: dict[dt.date, dict[int, float]] = {}
    for entry in entries:
        if entry.day not in wanted:
            raise UpstreamError(f"{source}: answered prices for {entry.day}, which was not asked")
        hours = by_day.setdefault(entry.day, {})
        if entry.hour in hours:
            raise UpstreamError(f"{source}: {entry.day} hour {entry.hour} appears more than once")
        hours[entry.hour] = entry.price_mxn_per_mwh

    empty = [day for day in days if day not in by_day]
    if empty:
        if len(empty) == len(days):
            raise NoPricesError(f"{source} has no prices for {zone!r} from {days[0]} to {days[-1]}")
        raise NoPricesError(
            f"{source} has no prices for {zone!r} on {len(empty)} of the {len(days)} requested "
            f"days (first {empty[0]}, last {empty[-1]})"
        )

    result = []
    for day in sorted(days):
        hours = by_day[day]
        n = hours_in_day(system, day)
        extra = set(hours) - set(range(n))
        if extra:
            raise UpstreamError(
                f"{source}: {day} has {n} hours but prices came for hour {_hours_text(extra)}"
            )
        missing = set(range(n)) - set(hours)
        if missing:
            raise UpstreamError(f"{source}: {day} is missing hour {_hours_text(missing)}")
        prices = tuple(hours[h] for h in range(n))
        for hour, price in enumerate(prices):
            if not math.isfinite(price):
                raise UpstreamError(f"{source}: {day} hour {hour}: the price is not finite")
        result.append(MarketDay(day, prices))
    return result
