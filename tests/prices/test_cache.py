"""The in-memory cache in front of a price source."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from optimizer import MarketDay
from prices import NoPricesError, PriceQuery, Process, System, UpstreamError
from prices.cache import CachedSource, cached


class RecordingSource:
    """A source whose price for hour h of day d is d.day * 100 + h; records every query."""

    name = "fake"

    def __init__(self) -> None:
        self.queries: list[PriceQuery] = []
        self.deadlines: list[float | None] = []
        self.fail_next = False
        #: the next answer has this price at hour 5 of its last day (a broken source)
        self.bad_price_next: float | None = None
        #: the next answer has one day more than asked
        self.stray_day_next = False
        self.lock = threading.Lock()

    def fetch(self, query: PriceQuery, *, deadline_s: float | None = None) -> list[MarketDay]:
        with self.lock:
            self.queries.append(query)
            self.deadlines.append(deadline_s)
            if self.fail_next:
                self.fail_next = False
                raise NoPricesError("fake: nothing")
            bad_price, self.bad_price_next = self.bad_price_next, None
            stray, self.stray_day_next = self.stray_day_next, False
        offset = 0.5 if query.process is Process.MTR else 0.0
        days = query.days + ([query.end + dt.timedelta(days=1)] if stray else [])
        result = [MarketDay(d, tuple(d.day * 100 + h + offset for h in range(24))) for d in days]
        if bad_price is not None:
            prices = list(result[-1].prices_mxn_per_mwh)
            prices[5] = bad_price
            result[-1] = MarketDay(result[-1].date, tuple(prices))
        return result


def q(start: int, end: int, **kw: object) -> PriceQuery:
    return PriceQuery(
        zone="APATZINGAN", start=dt.date(2024, 1, start), end=dt.date(2024, 1, end), **kw
    )  # type: ignore[arg-type]


def spans(source: RecordingSource) -> list[tuple[int, int]]:
    return [(x.start.day, x.end.day) for x in source.queries]


def test_a_repeated_request_is_not_refetched() -> None:
    inner = RecordingSource()
    cache = CachedSource(inner, max_days=100)
    first = cache.fetch(q(1, 10))
    second = cache.fetch(q(1, 10))
    assert second == first == inner.fetch(q(1, 10))
    assert spans(inner) == [(1, 10), (1, 10)]  # the second entry is the direct call above
    assert cache.name == "fake"


def test_only_the_missing_span_is_fetched() -> None:
    inner = RecordingSource()
    cache = CachedSource(inner, max_days=100)
    cache.fetch(q(5, 10))
    result = cache.fetch(q(3, 12))
    assert spans(inner) == [(5, 10), (3, 12)]
    assert [d.date.day for d in result] == list(range(3, 13))
    cache.fetch(q(8, 9))
    cache.fetch(q(1, 4))
    assert spans(inner) == [(5, 10), (3, 12), (1, 2)]


@pytest.mark.parametrize(
    "other",
    [
        {"zone": "MORELIA"},
        {"process": Process.MTR},
        {"system": System.BCS},
    ],
    ids=["zone", "process", "system"],
)
def test_the_key_separates_zone_system_and_process(other: dict) -> None:
    inner = RecordingSource()
    cache = CachedSource(inner, max_days=100)
    cache.fetch(q(1, 2))
    base = {"zone": "APATZINGAN", "start": dt.date(2024, 1, 1), "end": dt.date(2024, 1, 2)}
    cache.fetch(PriceQuery(**{**base, **other}))  # type: ignore[arg-type]
    assert len(inner.queries) == 2
    cache.fetch(q(1, 2))
    cache.fetch(PriceQuery(**{**base, **other}))  # type: ignore[arg-type]
    assert len(inner.queries) == 2  # both kept, apart


def test_mtr_and_mda_prices_are_not_mixed() -> None:
    cache = CachedSource(RecordingSource(), max_days=100)
    mda = cache.fetch(q(1, 1))
    mtr = cache.fetch(q(1, 1, process=Process.MTR))
    assert mtr[0].prices_mxn_per_mwh[0] == pytest.approx(mda[0].prices_mxn_per_mwh[0] + 0.5)


def test_size_is_bounded_least_recently_used_out() -> None:
    inner = RecordingSource()
    cache = CachedSource(inner, max_days=5)
    cache.fetch(q(1, 3))
    cache.fetch(q(1, 1))  # touch day 1: days 2 and 3 are now the oldest
    cache.fetch(q(4, 6))  # 6 days > 5: day 2 goes
    cache.fetch(q(1, 1))
    cache.fetch(q(3, 6))
    assert len(inner.queries) == 2
    cache.fetch(q(2, 2))
    assert spans(inner)[-1] == (2, 2)


def test_failures_are_not_cached() -> None:
    inner = RecordingSource()
    cache = CachedSource(inner, max_days=100)
    inner.fail_next = True
    with pytest.raises(NoPricesError):
        cache.fetch(q(1, 2))
    assert [d.date.day for d in cache.fetch(q(1, 2))] == [1, 2]
    assert spans(inner) == [(1, 2), (1, 2)]


def test_concurrent_fetches_agree() -> None:
    inner = RecordingSource()
    cache = CachedSource(inner, max_days=50)
    results: list[list[MarketDay]] = []
    lock = threading.Lock()
    start = threading.Barrier(8, timeout=5)

    def worker(i: int) -> None:
        start.wait()
        for k in range(20):
            got = cache.fetch(q(1 + (i + k) % 20, 1 + (i + k) % 20 + 5))
            with lock:
                results.append(got)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 160
    for days in results:
        for day in days:
            assert day.prices_mxn_per_mwh == tuple(day.date.day * 100 + h for h in range(24))


def test_max_days_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_days"):
        CachedSource(RecordingSource(), max_days=0)


def test_cached_wraps_unless_max_days_is_zero() -> None:
    inner = RecordingSource()
    assert cached(inner, max_days=0) is inner
    wrapped = cached(inner, max_days=7)
    assert isinstance(wrapped, CachedSource)
    assert (wrapped.inner, wrapped.max_days, wrapped.name) == (inner, 7, "fake")


@pytest.mark.parametrize("price", [1e300, -1_000_001.0], ids=["huge", "below"])
def test_a_day_beyond_the_price_bound_is_a_502_and_nothing_is_cached(price: float) -> None:
    inner = RecordingSource()
    cache = CachedSource(inner, max_days=100)
    inner.bad_price_next = price
    with pytest.raises(UpstreamError, match=r"2024-01-03 hour 5: .* not within ±1,000,000") as err:
        cache.fetch(q(1, 3))
    assert err.value.status == 502
    assert [d.date.day for d in cache.fetch(q(1, 3))] == [1, 2, 3]
    assert spans(inner) == [(1, 3), (1, 3)]  # the next request asked the source again
    cache.fetch(q(1, 1))
    assert spans(inner) == [(1, 3), (1, 3)]  # not even the good days 1 and 2 were kept before


def test_a_day_that_was_not_asked_is_a_502_and_nothing_is_cached() -> None:
    inner = RecordingSource()
    cache = CachedSource(inner, max_days=100)
    inner.stray_day_next = True
    with pytest.raises(UpstreamError, match="2024-01-03, not asked"):
        cache.fetch(q(1, 2))
    cache.fetch(q(1, 1))
    assert spans(inner) == [(1, 2), (1, 1)]


def test_the_request_deadline_reaches_the_source() -> None:
    inner = RecordingSource()
    cache = CachedSource(inner, max_days=100)
    cache.fetch(q(1, 2), deadline_s=123.5)
    cache.fetch(q(3, 3))
    assert inner.deadlines == [123.5, None]
