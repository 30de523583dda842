"""The ``cenace`` price source: CENACE's public web services (SPEC §5).

- Load zones (e.g. ``VDM CENTRO``) go to SW-PEND, NodosP keys (e.g. ``01PLO-115``) to SW-PML:
  ``{CENACE_BASE_URL}/{SWPEND|SWPML}/SIM/{system}/{process}/{zone}/{yyyy}/{mm}/{dd}/{yyyy}/{mm}/{dd}/JSON``
  with spaces in zone names written as ``-``.
- At most 7 days per call (one zone per call here); the calls run concurrently.
- Bodies are ``{"status": "OK", "Resultados": [{"zona_carga" | "clv_nodo": ...,
  "Valores": [{"fecha", "hora", "pz" | "pml", ...}]}]}`` with every value a string; ``hora`` is
  1-based and hour-ending (1 = 00:00-01:00; up to 23 or 25 on clock-change days), so the
  0-based hour is ``hora - 1``. A status other than ``OK`` (``ZERO_RESULTS``) means no data; an
  ASP.NET ``{"Message": ...}`` body is a server error, retried like a 5xx even when it comes
  with HTTP 200 (:func:`is_server_error`), then a 502.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from prices import http
from prices.base import PriceQuery, PriceSource, System, UpstreamError
from prices.cache import cached
from prices.settings import PriceSettings
from prices.validation import HourPrice

#: NodoP keys: two digits (the regional control centre), a 3-4 character substation code, an
#: optional hyphen and the voltage in kV (``01PLO-115``, ``05CME1115``, ``08CHB-34.5``). Every
#: key of CENACE's NodosP catalogue matches; no load-zone name does (they contain no digits).
NODE_KEY_PATTERN = re.compile(r"^\d{2}[A-Z][A-Z0-9]{2,3}-?\d{2,3}(?:\.\d+)?$")
#: CENACE's limit on days per call.
MAX_DAYS_PER_CALL = 7
#: Calls in flight at once (a 366-day range is 53 calls, so 6 rounds).
MAX_CONCURRENT_CALLS = 10


def is_node_key(zone: str) -> bool:
    """True for a NodoP key (SW-PML), False for a load-zone name (SW-PEND)."""
    return NODE_KEY_PATTERN.match(zone.strip().upper()) is not None


def _zone_name(name: str) -> str:
    """Load-zone names compared without regard to case or to ``-`` standing for a space."""
    return re.sub(r"[\s-]+", " ", name).strip().upper()


def week_chunks(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """``[start, end]`` in inclusive chunks of at most ``MAX_DAYS_PER_CALL`` days."""
    chunks = []
    first = start
    while first <= end:
        last = min(end, first + dt.timedelta(days=MAX_DAYS_PER_CALL - 1))
        chunks.append((first, last))
        first = last + dt.timedelta(days=1)
    return chunks


def url_for(base_url: str, query: PriceQuery, first: dt.date, last: dt.date) -> str:
    """The SW-PEND or SW-PML URL of ``query``'s days ``first..last``."""
    service = "SWPML" if is_node_key(query.zone) else "SWPEND"
    zone = quote(query.zone.strip().replace(" ", "-"), safe="-.")
    dates = f"{first:%Y/%m/%d}/{last:%Y/%m/%d}"
    return (
        f"{base_url.rstrip('/')}/{service}/SIM/{query.system}/{query.process}/{zone}/{dates}/JSON"
    )


def _server_message(payload: Any) -> str | None:
    if isinstance(payload, dict) and "status" not in payload and "Message" in payload:
        return http.redact(str(payload["Message"]))
    return None


def is_server_error(status: int, body: bytes) -> bool:
    """True for an answer to retry like a 5xx: an ASP.NET ``{"Message": ...}`` body that came
    with a status urllib3 does not retry (HTTP 200). Other statuses are urllib3's to judge."""
    if status != 200 or b'"Message"' not in body or not body.lstrip().startswith(b"{"):
        return False  # (a body without the key is not parsed twice)
    try:
        return _server_message(json.loads(body)) is not None
    except ValueError:
        return False


def parse_response(
    status: int, body: bytes, *, zone: str, days: Sequence[dt.date], system: System
) -> list[HourPrice]:
    """The prices of one SW-PEND/SW-PML answer; no data → ``[]``; unusable → ``UpstreamError``."""
    node = is_node_key(zone)
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    message = _server_message(payload)
    if status != 200:
        why = f": {message}" if message else ""
        if status == 429 or status >= 500:
            raise UpstreamError(f"cenace failed (HTTP {status}), retries exhausted{why}")
        raise UpstreamError(f"cenace answered HTTP {status}{why}")
    if message is not None:
        raise UpstreamError(f"cenace reported a server error, retries exhausted: {message}")
    if not isinstance(payload, dict):
        raise UpstreamError("cenace answered with a body that is not a JSON object")
    if payload.get("status") != "OK":
        return []  # ZERO_RESULTS and the like: no data
    results = payload.get("Resultados")
    if not isinstance(results, list):
        raise UpstreamError("cenace answered without a 'Resultados' list")

    key_field, price_field = ("clv_nodo", "pml") if node else ("zona_carga", "pz")
    wanted = set(days)
    entries = []
    for result in results:
        if not isinstance(result, dict):
            raise UpstreamError("cenace: a result is not an object")
        answered = result.get(key_field)
        same = isinstance(answered, str) and (
            answered.strip().upper() if node else _zone_name(answered)
        ) == (zone.strip().upper() if node else _zone_name(zone))
        if not same:
            quoted = http.redact(str(answered), max_chars=64)
            raise UpstreamError(f"cenace answered for {quoted!r} instead of {zone!r}")
        values = result.get("Valores")
        if not isinstance(values, list):
            raise UpstreamError("cenace: a result has no 'Valores' list")
        for value in values:
            if not isinstance(value, dict):
                raise UpstreamError("cenace: a value is not an object")
            try:
                day = dt.date.fromisoformat(str(value.get("fecha")))
                hora = int(str(value.get("hora")))
            except ValueError:
                raise UpstreamError("cenace: a value has an unreadable 'fecha' or 'hora'") from None
            if day not in wanted:
                raise UpstreamError(f"cenace answered prices for {day}, which was not asked")
            if not 1 <= hora <= 25:
                raise UpstreamError(f"cenace: {day} has hora {hora}, outside 1..25")
            price = http.wire_price(
                value.get(price_field), source="cenace", where=f"{day} hora {hora}"
            )
            entries.append(HourPrice(day, hora - 1, price))
    return entries


def make_cenace_source(
    settings: PriceSettings, *, policy: http.RetryPolicy | None = None
) -> PriceSource:
    """The configured CENACE source, behind the cache unless ``cache_max_days`` is 0."""

    def call(query: PriceQuery, first: dt.date, last: dt.date, *, api_key: str | None) -> http.Call:
        return http.Call(url=url_for(settings.cenace_base_url, query, first, last))

    source = http.HttpSource(
        name="cenace",
        chunks=week_chunks,
        build_call=call,
        parse=parse_response,
        timeouts=http.Timeouts(
            connect_s=settings.connect_timeout_s, read_s=settings.read_timeout_s
        ),
        deadline_s=settings.fetch_deadline_s,
        max_response_bytes=settings.max_response_bytes,
        max_concurrent_calls=MAX_CONCURRENT_CALLS,
        policy=policy,
        retry_answer=is_server_error,
    )
    return cached(source, max_days=settings.cache_max_days)
