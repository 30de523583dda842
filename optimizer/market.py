"""Market days: the hourly prices one market day has (23, 24 or 25 hours), and the padded
(days x hours) layout of a run's days that every strategy and the settlement share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from optimizer.errors import InvalidPricesError

#: Hour counts a market day may have (clock-change days have 23 or 25).
ALLOWED_HOURS_PER_DAY = (23, 24, 25)
#: exact types accepted as prices (bool, str, Decimal... are refused)
_NUMBER_TYPES = frozenset({float, int, np.float64})


@dataclass(frozen=True)
class MarketDay:
    """One market day: ``prices_mxn_per_mwh[h]`` is the price of hour ``h`` (0-based,
    hour-beginning, local market time).

    ``prices`` is the same prices as a read-only float64 array, built once here; the
    optimizer reads that, never the tuple.
    """

    date: dt.date
    prices_mxn_per_mwh: tuple[float, ...]
    prices: np.ndarray = field(init=False, repr=False, compare=False)

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
        prices = np.fromiter(self.prices_mxn_per_mwh, dtype=float, count=n)
        finite = np.isfinite(prices)
        if not finite.all():
            hour = int(np.argmin(finite))
            raise InvalidPricesError(f"{self.date} hour {hour}: price must be finite")
        prices.flags.writeable = False
        object.__setattr__(self, "prices", prices)

    @classmethod
    def from_array(cls, date: dt.date, prices_mxn_per_mwh: np.ndarray) -> MarketDay:
        """A market day from an array of prices, checked as a whole (hour count, finite)
        rather than number by number: ~3 us a day instead of ~10."""
        prices = np.array(prices_mxn_per_mwh, dtype=float)  # a copy the caller cannot change
        if prices.ndim != 1 or prices.size not in ALLOWED_HOURS_PER_DAY:
            raise InvalidPricesError(
                f"{date}: a market day has 23, 24 or 25 hours, not {prices.size}"
            )
        finite = np.isfinite(prices)
        if not finite.all():
            raise InvalidPricesError(f"{date} hour {int(np.argmin(finite))}: price must be finite")
        prices.flags.writeable = False
        day = object.__new__(cls)
        object.__setattr__(day, "date", date)
        object.__setattr__(day, "prices_mxn_per_mwh", tuple(prices.tolist()))
        object.__setattr__(day, "prices", prices)
        return day

    @classmethod
    def split(
        cls, dates: Sequence[dt.date], prices_mxn_per_mwh: np.ndarray, offsets: Sequence[int]
    ) -> tuple[MarketDay, ...]:
        """Consecutive days cut from one array of prices: day ``k`` is ``dates[k]`` with the
        prices ``offsets[k]:offsets[k + 1]``. The array is checked once (finite) and copied
        once; each day's ``prices`` is a read-only view of that copy."""
        prices = np.array(prices_mxn_per_mwh, dtype=float)
        bounds = [int(b) for b in offsets]
        if prices.ndim != 1 or len(bounds) != len(dates) + 1 or bounds[-1] != prices.size:
            raise InvalidPricesError("prices, dates and offsets do not describe the same days")
        finite = np.isfinite(prices)
        if not finite.all():
            bad = int(np.argmin(finite))
            k = int(np.searchsorted(bounds, bad, side="right")) - 1
            raise InvalidPricesError(f"{dates[k]} hour {bad - bounds[k]}: price must be finite")
        prices.flags.writeable = False
        values = prices.tolist()
        days = []
        for date, lo, hi in zip(dates, bounds, bounds[1:], strict=False):
            if hi - lo not in ALLOWED_HOURS_PER_DAY:
                raise InvalidPricesError(
                    f"{date}: a market day has 23, 24 or 25 hours, not {hi - lo}"
                )
            day = object.__new__(cls)
            object.__setattr__(day, "date", date)
            object.__setattr__(day, "prices_mxn_per_mwh", tuple(values[lo:hi]))
            object.__setattr__(day, "prices", prices[lo:hi])
            days.append(day)
        return tuple(days)

    @property
    def hours(self) -> int:
        return len(self.prices_mxn_per_mwh)


class MarketDays(tuple[MarketDay, ...]):
    """The days of one run, in date order, with their prices laid out once: concatenated
    (``flat``), as a padded (days, width) matrix with the mask of real hours, and the day
    offsets into the concatenated hour axis. Every array is read-only and built on first use;
    strategies and the settlement of one request share them."""

    def __new__(cls, days: Iterable[MarketDay]) -> MarketDays:
        return super().__new__(cls, days)

    @cached_property
    def hours(self) -> np.ndarray:
        """Hour count of every day."""
        return _frozen(np.array([d.hours for d in self], dtype=np.intp))

    @cached_property
    def offsets(self) -> np.ndarray:
        """Start of each day in the concatenated hour axis, plus the total at the end."""
        return _frozen(np.concatenate(([0], np.cumsum(self.hours))).astype(np.intp))

    @cached_property
    def flat(self) -> np.ndarray:
        """Every hour's price (MXN/MWh), concatenated in day order."""
        return _frozen(np.concatenate([d.prices for d in self]))

    @cached_property
    def mask(self) -> np.ndarray:
        """(days, width) boolean mask of the hours each day really has."""
        width = int(self.hours.max())
        return _frozen(np.arange(width)[None, :] < self.hours[:, None])

    @cached_property
    def matrix(self) -> np.ndarray:
        """Prices as a (days, width) matrix, 0 after each day's last hour."""
        matrix = np.zeros(self.mask.shape)
        matrix[self.mask] = self.flat
        return _frozen(matrix)


def market_days(days: Sequence[MarketDay]) -> MarketDays:
    """``days`` as ``MarketDays`` (the same object when it already is one)."""
    return days if isinstance(days, MarketDays) else MarketDays(days)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
