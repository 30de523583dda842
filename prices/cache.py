"""A small in-memory cache of market days in front of any price source.

Keyed by (source, zone, system, process, day); bounded to ``max_days`` entries, least recently
used first out; thread-safe. It lives as long as the process (a warm Lambda), so repeated
requests for the same zone and days do not refetch. Only complete, validated days are stored:
the cache itself checks that every fetched day is one the query asked for and that its prices
are within ±``PRICE_LIMIT_MXN_PER_MWH`` before storing any of them, so an answer that fails
(in the source or here) leaves nothing behind and the next request asks again. A request is
served from the cache
only when every one of its days is there; otherwise the span from the first to the last
missing day is fetched in one query, and every day it returns is stored.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict

from optimizer import MarketDay
from prices.base import PriceQuery, PriceSource, UpstreamError, check_price_bounds

CacheKey = tuple[str, str, str, str, dt.date]


class CachedSource:
    """Wraps ``inner``; same ``name`` and ``fetch`` contract."""

    def __init__(self, inner: PriceSource, *, max_days: int) -> None:
        if max_days < 1:
            raise ValueError("max_days must be at least 1")
        self.inner = inner
        self.name = inner.name
        self.max_days = max_days
        self._days: OrderedDict[CacheKey, MarketDay] = OrderedDict()
        self._lock = threading.Lock()

    def _key(self, query: PriceQuery, day: dt.date) -> CacheKey:
        return (self.name, query.zone, str(query.system), str(query.process), day)

    def fetch(self, query: PriceQuery, *, deadline_s: float | None = None) -> list[MarketDay]:
        days = query.days
        found: dict[dt.date, MarketDay] = {}
        with self._lock:
            for day in days:
                key = self._key(query, day)
                if key in self._days:
                    self._days.move_to_end(key)
                    found[day] = self._days[key]
            missing = [day for day in days if day not in found]
        if missing:
            sub = PriceQuery(
                zone=query.zone,
                system=query.system,
                process=query.process,
                start=missing[0],
                end=missing[-1],
            )
            fetched = self.inner.fetch(sub, deadline_s=deadline_s)
            asked = set(sub.days)
            strays = [d.date for d in fetched if d.date not in asked]
            if strays:
                raise UpstreamError(f"{self.name}: answered prices for {strays[0]}, not asked")
            check_price_bounds(fetched, source=self.name)
            with self._lock:
                for market_day in fetched:
                    key = self._key(query, market_day.date)
                    self._days[key] = market_day
                    self._days.move_to_end(key)
                while len(self._days) > self.max_days:
                    self._days.popitem(last=False)
            for market_day in fetched:
                found.setdefault(market_day.date, market_day)
        result = [found[day] for day in days if day in found]
        if len(result) != len(days):
            # A source must return every day or raise; guard against one that does not.
            raise UpstreamError(f"{self.name}: the price source left days out")
        return result


def cached(source: PriceSource, *, max_days: int) -> PriceSource:
    """``source`` behind a ``CachedSource`` of ``max_days`` days; ``source`` itself when
    ``max_days`` is 0 (PRICE_CACHE_MAX_DAYS=0 turns caching off)."""
    if max_days == 0:
        return source
    return CachedSource(source, max_days=max_days)
