"""Market days: the hourly prices one market day has (23, 24 or 25 hours)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from optimizer.errors import InvalidPricesError

#: Hour counts a market day may have (clock-change days have 23 or 25).
ALLOWED_HOURS_PER_DAY = (23, 24, 25)


@dataclass(frozen=True)
class MarketDay:
    """One market day: ``prices_mxn_per_mwh[h]`` is the price of hour ``h`` (0-based,
    hour-beginning, local market time)."""

    date: dt.date
    prices_mxn_per_mwh: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.prices_mxn_per_mwh)
        if n not in ALLOWED_HOURS_PER_DAY:
            raise InvalidPricesError(f"{self.date}: a market day has 23, 24 or 25 hours, not {n}")
        for hour, price in enumerate(self.prices_mxn_per_mwh):
            if isinstance(price, bool) or not isinstance(price, (int, float)):
                raise InvalidPricesError(f"{self.date} hour {hour}: price must be a number")
            if not math.isfinite(price):
                raise InvalidPricesError(f"{self.date} hour {hour}: price must be finite")

    @property
    def hours(self) -> int:
        return len(self.prices_mxn_per_mwh)
