"""The ``batu`` price source: the Batu Energy API (SPEC §5).

Everything this project assumes about Batu's contract lives in this module (the constants and
``request_params``/``parse_response`` below) and in ``docs/batu-api.md``; adapting to the real
contract should touch nothing else.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from optimizer import MarketDay
from prices import http
from prices.base import NoPricesError, PriceQuery, PriceSource, Process, System, UpstreamError
from prices.cache import cached
from prices.settings import ConfigError, PriceSettings
from prices.validation import HourPrice, expected_hours, parse_price

if TYPE_CHECKING:
    import requests

# --- Assumptions about Batu's contract (see docs/batu-api.md) ---------------------------------

#: Path of the zone-price endpoint, below BATU_API_URL.
ZONE_PRICES_PATH = "/electricity-data/pmls/zone"
#: Header carrying the API key.
API_KEY_HEADER = "x-api-key"
#: Format of ``date_start``/``date_end`` and of each row's ``timestamp`` (zone-local, naive).
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: The (error) message that means "no data for this zone and range".
NO_DATA_MESSAGE = "no query results"
#: Processes Batu serves: the endpoint has no process parameter; we assume day-ahead prices.
SUPPORTED_PROCESSES = frozenset({Process.MDA})
#: Clock hour missing on a spring-forward day (02:00 → 03:00) and repeated on a fall-back day
#: (02:00 daylight → 01:00 standard), in Mexico (SIN, BCS until 2022) and Baja California (BCA).
SPRING_FORWARD_SKIPPED_CLOCK_HOUR = 2
FALL_BACK_REPEATED_CLOCK_HOUR = 1
#: One call per calendar month of the range; calls run concurrently, at most this many at once
#: (a 366-day range spans at most 13 months).
MAX_CONCURRENT_CALLS = 13


def month_chunks(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """``[start, end]`` split at calendar-month boundaries, as inclusive ``(first, last)``."""
    chunks = []
    first = start
    while first <= end:
        next_month = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        last = min(end, next_month - dt.timedelta(days=1))
        chunks.append((first, last))
        first = last + dt.timedelta(days=1)
    return chunks


def request_params(zone: str, first: dt.date, last: dt.date) -> dict[str, str]:
    """Query parameters for the days ``first..last``: ``date_end`` is exclusive, so it is the
    midnight that starts the day after ``last``."""
    start = dt.datetime.combine(first, dt.time())
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time())
    return {
        "load_zone_id": zone,
        "date_start": start.strftime(TIME_FORMAT),
        "date_end": end.strftime(TIME_FORMAT),
    }


def _fail_message(payload: Any) -> str | None:
    if isinstance(payload, dict) and payload.get("status") == "fail":
        data = payload.get("data")
        message = data.get("message") if isinstance(data, dict) else None
        return message if isinstance(message, str) else ""
    return None


def _hour_index(clock_hour: int, seen_before: int, n_hours: int) -> int | None:
    """0-based hour of the market day for a row at ``clock_hour``; ``seen_before`` rows of the
    day had the same clock hour. ``None`` for a clock hour that does not exist that day."""
    if n_hours == 23:
        if clock_hour == SPRING_FORWARD_SKIPPED_CLOCK_HOUR:
            return None
        return clock_hour if clock_hour < SPRING_FORWARD_SKIPPED_CLOCK_HOUR else clock_hour - 1
    if n_hours == 25:
        if clock_hour < FALL_BACK_REPEATED_CLOCK_HOUR:
            return clock_hour
        if clock_hour == FALL_BACK_REPEATED_CLOCK_HOUR:
            # first occurrence is daylight time, second standard time; a third is a duplicate
            return clock_hour + min(seen_before, 1)
        return clock_hour + 1
    return clock_hour


def parse_response(
    status: int, body: bytes, *, zone: str, days: Sequence[dt.date], system: System
) -> list[HourPrice]:
    """The prices of one answer for the requested ``days`` (rows for other days, such as the
    ``date_end`` boundary, are dropped). No data → ``[]``; anything unusable → ``UpstreamError``.
    """
    if status in (401, 403):
        raise UpstreamError(f"batu rejected the API key (HTTP {status})")
    if status == 429:
        raise UpstreamError("batu kept rate-limiting the requests (HTTP 429), retries exhausted")
    if status >= 500:
        raise UpstreamError(f"batu failed (HTTP {status}), retries exhausted")
    try:
        payload = json.loads(body)
    except ValueError:
        raise UpstreamError(f"batu answered HTTP {status} with a body that is not JSON") from None

    message = _fail_message(payload)
    if message is not None:
        if NO_DATA_MESSAGE in message.lower():
            return []
        raise UpstreamError(f"batu refused the request (HTTP {status}): {message[:200]}")
    if status != 200:
        raise UpstreamError(f"batu answered HTTP {status}")
    if not isinstance(payload, dict) or payload.get("status") != "success":
        raise UpstreamError("batu answered without status 'success'")
    rows = payload.get("data")
    if not isinstance(rows, list):
        raise UpstreamError("batu answered without a 'data' list")
    items = payload.get("items")
    if isinstance(items, int) and not isinstance(items, bool) and items != len(rows):
        raise UpstreamError(f"batu said {items} items but sent {len(rows)}")

    wanted = set(days)
    per_day: dict[dt.date, list[tuple[dt.datetime, float]]] = {}
    for i, row in enumerate(rows):
        where = f"row {i}"
        if not isinstance(row, dict):
            raise UpstreamError(f"batu: {where} is not an object")
        row_zone = row.get("load_zone_id")
        if not isinstance(row_zone, str) or row_zone.strip().upper() != zone.strip().upper():
            raise UpstreamError(f"batu: {where} is for another zone than {zone!r}")
        raw_time = row.get("timestamp")
        try:
            stamp = dt.datetime.strptime(str(raw_time), TIME_FORMAT)
        except ValueError:
            raise UpstreamError(f"batu: {where} has an unreadable timestamp") from None
        if stamp.minute or stamp.second:
            raise UpstreamError(f"batu: {where} timestamp {stamp} is not the start of an hour")
        price = parse_price(row.get("pml"), source="batu", where=f"{where} ({stamp})")
        if stamp.date() in wanted:
            per_day.setdefault(stamp.date(), []).append((stamp, price))

    entries = []
    for day, day_rows in per_day.items():
        n_hours = expected_hours(system, day)
        seen: dict[int, int] = {}
        for stamp, price in sorted(day_rows, key=lambda r: r[0]):  # stable: keeps repeat order
            index = _hour_index(stamp.hour, seen.get(stamp.hour, 0), n_hours)
            seen[stamp.hour] = seen.get(stamp.hour, 0) + 1
            if index is None:
                raise UpstreamError(
                    f"batu: timestamp {stamp} does not exist on a {n_hours}-hour day"
                )
            entries.append(HourPrice(day, index, price))
    return entries


# --- The source --------------------------------------------------------------------------------


class BatuSource:
    """Fetches a query's months concurrently over one reused session, validates, assembles."""

    name = "batu"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: Callable[[], str],
        timeouts: http.Timeouts,
        deadline_s: float,
        policy: http.RetryPolicy | None = None,
        max_concurrent_calls: int = MAX_CONCURRENT_CALLS,
    ) -> None:
        self.url = base_url.rstrip("/") + ZONE_PRICES_PATH
        self._api_key = api_key
        self._key: str | None = None
        self._key_lock = threading.Lock()
        self.timeouts = timeouts
        self.deadline_s = deadline_s
        self.max_concurrent_calls = max_concurrent_calls
        self.session = http.make_session(
            policy=policy or http.RetryPolicy(), pool_maxsize=max_concurrent_calls
        )

    def _resolved_key(self) -> str:
        """The API key, obtained on first use (it may come from SSM) and kept."""
        with self._key_lock:
            if self._key is None:
                key = self._api_key()
                if not key:
                    raise UpstreamError("batu: the API key is empty")
                self._key = key
            return self._key

    def fetch(self, query: PriceQuery) -> list[MarketDay]:
        if query.process not in SUPPORTED_PROCESSES:
            raise NoPricesError(f"batu serves day-ahead (MDA) prices only, not {query.process}")
        deadline = http.Deadline(self.deadline_s)
        key = self._resolved_key()

        def get_chunk(first: dt.date, last: dt.date) -> requests.Response:
            return http.get(
                self.session,
                self.url,
                source=self.name,
                timeouts=self.timeouts,
                deadline=deadline,
                params=request_params(query.zone, first, last),
                headers={API_KEY_HEADER: key},
            )

        return http.fetch_days(
            query,
            month_chunks(query.start, query.end),
            get_chunk,
            parse_response,
            deadline=deadline,
            max_workers=self.max_concurrent_calls,
            source=self.name,
        )


def make_batu_source(
    settings: PriceSettings,
    *,
    api_key: Callable[[], str] | None = None,
    policy: http.RetryPolicy | None = None,
) -> PriceSource:
    """The configured Batu source, behind the cache unless ``cache_max_days`` is 0.

    Fails at start-up (``ConfigError``) when no key is configured; the key itself is read on
    the first fetch (from BATU_API_KEY, or from SSM through ``prices.secrets``)."""
    if not settings.batu_api_key and not settings.batu_api_key_ssm_parameter:
        raise ConfigError("PRICE_SOURCE=batu needs BATU_API_KEY or BATU_API_KEY_SSM_PARAMETER")
    if api_key is None:

        def api_key() -> str:
            from prices.secrets import batu_api_key

            return batu_api_key(settings)

    source = BatuSource(
        base_url=settings.batu_api_url,
        api_key=api_key,
        timeouts=http.Timeouts(
            connect_s=settings.connect_timeout_s, read_s=settings.read_timeout_s
        ),
        deadline_s=settings.fetch_deadline_s,
        policy=policy,
    )
    return cached(source, max_days=settings.cache_max_days)
