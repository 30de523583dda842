"""Market days: the hourly prices one market day has (23, 24 or 25 hours)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from optimizer.errors import InvalidPricesError

#: Hour counts a market day may have (clock-change days have 23 or 25).
ALLOWED_HOURS_PER_DAY = (23, 24, 25)
#: exact types accepted as prices (bool, str, Decimal... are refused)
_NUMBER_TYPES = frozenset({float, int, np.float64})


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
        kinds = set(map(type, self.prices_mxn_per_mwh))
        if not kinds <= _NUMBER_TYPES:
            hour = next(
                h for h, p in enumerate(self.prices_mxn_per_mwh) if type(p) not in _NUMBER_TYPES
            )
            raise InvalidPricesError(f"{self.date} hour {hour}: price must be a number")
        finite = np.isfinite(np.fromiter(self.prices_mxn_per_mwh, dtype=float, count=n))
        if not finite.all():
            hour = int(np.argmin(finite))
            raise InvalidPricesError(f"{self.date} hour {hour}: price must be finite")

    @property
    def hours(self) -> int:
        return len(self.prices_mxn_per_mwh)
