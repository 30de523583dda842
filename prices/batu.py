"""The ``batu`` price source: the Batu Energy API (SPEC §5).

Everything this project assumes about Batu's contract lives in this module (the constants,
``month_chunks``, ``request_params``/``build_call`` and ``parse_response`` below) and in
``docs/batu-api.md``; adapting to the real contract should touch nothing else. Sessions,
retries, deadlines, byte caps, concurrency and key redaction are ``prices.http.HttpSource``'s.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from optimizer.clock import hours_in_day, market_hour
from prices import http
from prices.base import PriceQuery, PriceSource, Process, System, UpstreamError
from prices.cache import cached
from prices.settings import ConfigError, PriceSettings
from prices.validation import HourPrice

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


def build_call(
    base_url: str, query: PriceQuery, first: dt.date, last: dt.date, *, api_key: str | None
) -> http.Call:
    """The zone-price call for ``first..last``, the key in its header."""
    return http.Call(
        url=base_url.rstrip("/") + ZONE_PRICES_PATH,
        params=request_params(query.zone, first, last),
        headers={API_KEY_HEADER: api_key or ""},
    )


def _fail_message(payload: Any) -> str | None:
    if isinstance(payload, dict) and payload.get("status") == "fail":
        data = payload.get("data")
        message = data.get("message") if isinstance(data, dict) else None
        return message if isinstance(message, str) else ""
    return None


def parse_response(
    status: int, body: bytes, *, zone: str, days: Sequence[dt.date], system: System
) -> list[HourPrice]:
    """The prices of one answer for the requested ``days``. No data → ``[]``; anything unusable
    → ``UpstreamError``, including rows outside the requested days (except a row at
    ``date_end`` itself, in case Batu reads it as inclusive) and a price that is not a JSON
    number (or a string holding one) within ±1,000,000 MXN/MWh.
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
        raise UpstreamError(f"batu refused the request (HTTP {status}): {http.redact(message)}")
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
    date_end = dt.datetime.combine(max(days) + dt.timedelta(days=1), dt.time())
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
        price = http.wire_price(row.get("pml"), source="batu", where=f"{where} ({stamp})")
        if stamp.date() in wanted:
            per_day.setdefault(stamp.date(), []).append((stamp, price))
        elif stamp != date_end:
            raise UpstreamError(f"batu answered prices for {stamp.date()}, which was not asked")

    entries = []
    for day, day_rows in per_day.items():
        seen: dict[int, int] = {}
        for stamp, price in sorted(day_rows, key=lambda r: r[0]):  # stable: keeps repeat order
            occurrence = seen.get(stamp.hour, 0)
            seen[stamp.hour] = occurrence + 1
            index = market_hour(system, day, stamp.hour, occurrence)
            if index is None:
                if occurrence and market_hour(system, day, stamp.hour) is not None:
                    raise UpstreamError(f"batu: timestamp {stamp} appears more than once")
                raise UpstreamError(
                    f"batu: timestamp {stamp} does not exist on a "
                    f"{hours_in_day(system, day)}-hour day"
                )
            entries.append(HourPrice(day, index, price))
    return entries


# --- The source --------------------------------------------------------------------------------


def make_batu_source(
    settings: PriceSettings, *, policy: http.RetryPolicy | None = None
) -> PriceSource:
    """The configured Batu source, behind the cache unless ``cache_max_days`` is 0.

    Fails at start-up (``ConfigError``) when no key is configured; the key itself is read on
    each fetch through ``prices.secrets`` (from BATU_API_KEY, or from SSM once per process,
    waiting for SSM no longer than the fetch's deadline)."""
    if not settings.batu_api_key and not settings.batu_api_key_ssm_parameter:
        raise ConfigError("PRICE_SOURCE=batu needs BATU_API_KEY or BATU_API_KEY_SSM_PARAMETER")

    def api_key(*, timeout_s: float) -> str:
        from prices.secrets import batu_api_key

        return batu_api_key(settings, timeout_s=timeout_s)

    def call(query: PriceQuery, first: dt.date, last: dt.date, *, api_key: str | None) -> http.Call:
        return build_call(settings.batu_api_url, query, first, last, api_key=api_key)

    source = http.HttpSource(
        name="batu",
        chunks=month_chunks,
        build_call=call,
        parse=parse_response,
        processes=SUPPORTED_PROCESSES,
        api_key=api_key,
        timeouts=http.Timeouts(
            connect_s=settings.connect_timeout_s, read_s=settings.read_timeout_s
        ),
        deadline_s=settings.fetch_deadline_s,
        max_response_bytes=settings.max_response_bytes,
        max_concurrent_calls=MAX_CONCURRENT_CALLS,
        policy=policy,
    )
    return cached(source, max_days=settings.cache_max_days)
