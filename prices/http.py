"""The remote price sources' one implementation: :class:`HttpSource` (STYLE 9, SPEC §5, §13).

A remote source is an :class:`HttpSource` given what differs between upstreams: how a range
is cut into calls (``chunks``), what one call asks (``build_call``) and how one answer reads
(``parse``). Everything else is here, once:

- :func:`make_session`: one ``requests.Session`` per source, whose urllib3 ``Retry`` retries
  connection errors, read errors and 429/5xx with exponential backoff, honouring
  ``Retry-After`` up to a cap, and never sleeps or retries past the fetch's deadline. A
  source may also call an answer whose status is fine a failure to retry (``retry_answer``):
  it is retried like a 5xx, from the same ``Retry`` budget, with the same backoff.
- :class:`Deadline`: the time left for one fetch: the source's own fetch deadline, or the
  request's deadline when that comes first. Every call gets ``(connect, read)`` timeouts
  clipped to the time left.
- :func:`get`: one GET whose body is streamed with a byte cap (counted after decompression)
  and a deadline check per chunk, mapped onto the price-source errors; callers never see
  ``requests``.
- :func:`run_concurrently`: fetch the chunks in threads; at the deadline give up with a 504
  and shut the sockets of the calls still in flight, so no fetch thread outlives its request
  by more than one read timeout.
- :func:`redact`: upstream text, cut to 200 characters, without the API key or anything like
  one, before it reaches a client or a log.
- :func:`wire_price`: a price from an upstream: JSON number syntax only, finite, and within
  :data:`prices.base.PRICE_LIMIT_MXN_PER_MWH`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, quote_plus

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util.retry import Retry

from optimizer import MarketDay
from prices.base import (
    PRICE_LIMIT_MXN_PER_MWH,
    NoPricesError,
    PriceQuery,
    PriceSourceError,
    Process,
    System,
    UpstreamError,
    UpstreamTimeoutError,
    check_price_bounds,
)
from prices.validation import HourPrice, assemble_days

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Statuses retried (with backoff, or after ``Retry-After`` when the server sends one).
RETRY_STATUSES = (429, 500, 502, 503, 504)
#: Bytes asked of the socket per read while streaming a body (decompressed bytes returned
#: per read are capped at the same size by urllib3).
READ_CHUNK_BYTES = 64 * 1024
#: Upstream text quoted in an error detail is cut to this many characters.
QUOTE_MAX_CHARS = 200
#: What replaces a redacted secret.
REDACTED = "[redacted]"


# --- Deadlines -----------------------------------------------------------------------------------


class Deadline:
    """The time left for one whole fetch (all chunks, retries included): ``seconds`` from now,
    or the absolute ``time.monotonic()`` instant ``not_after`` if that comes first."""

    def __init__(
        self,
        seconds: float,
        *,
        not_after: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._began = clock()
        self._at = self._began + seconds
        if not_after is not None:
            self._at = min(self._at, not_after)

    def remaining_s(self) -> float:
        return self._at - self._clock()

    def elapsed_s(self) -> float:
        return self._clock() - self._began

    def timeouts(self, timeouts: Timeouts, *, source: str) -> tuple[float, float]:
        """``(connect, read)`` for the next call, clipped to the time left; 504 if none is."""
        left = self.remaining_s()
        if left <= 0:
            raise UpstreamTimeoutError(f"{source}: no answer within the fetch deadline")
        return (min(timeouts.connect_s, left), min(timeouts.read_s, left))


#: The deadline of the call this thread is making, read by :class:`DeadlineRetry` (a session's
#: ``Retry`` is shared by every call, so the per-call deadline travels by thread); and, while
#: :func:`get` retries an answer its source refused, the ``Retry`` state the next attempt
#: continues from (read by :class:`RetryStateAdapter`).
_current = threading.local()


def _time_left_s() -> float:
    deadline: Deadline | None = getattr(_current, "deadline", None)
    return math.inf if deadline is None else deadline.remaining_s()


class DeadlinePassedError(Exception):
    """Raised inside urllib3's retry loop when the next attempt would start past the deadline."""


class DeadlineRetry(Retry):
    """urllib3 ``Retry`` that knows the calling thread's :class:`Deadline`: no backoff or
    ``Retry-After`` sleep runs past it, and no retry starts after it."""

    def is_exhausted(self) -> bool:
        return super().is_exhausted() or _time_left_s() <= 0

    def get_backoff_time(self) -> float:
        return min(super().get_backoff_time(), max(0.0, _time_left_s()))

    def get_retry_after(self, response: Any) -> float | None:
        after = super().get_retry_after(response)
        return None if after is None else min(after, max(0.0, _time_left_s()))

    def sleep(self, response: Any = None) -> None:
        super().sleep(response)
        if _time_left_s() <= 0:
            raise DeadlinePassedError


# --- Session and one call ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Bounded retries of one upstream call (urllib3 ``Retry``)."""

    #: attempts after the first, whatever went wrong
    total: int = 3
    #: of which at most this many after a failed connection
    connect: int = 2
    #: after a read error or read timeout (GET is idempotent; each costs a read timeout)
    read: int = 1
    #: after a 429/5xx answer
    status: int = 3
    #: backoff before retry n is ``backoff_factor_s * 2 ** (n - 1)`` (none before the first)
    backoff_factor_s: float = 0.25
    #: cap on the computed backoff
    backoff_max_s: float = 2.0
    #: cap on a server's ``Retry-After`` (seconds); longer requests are shortened to this
    retry_after_max_s: float = 3.0

    def to_retry(self) -> DeadlineRetry:
        return DeadlineRetry(
            total=self.total,
            connect=self.connect,
            read=self.read,
            status=self.status,
            other=0,
            redirect=0,
            allowed_methods=frozenset({"GET"}),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=self.backoff_factor_s,
            backoff_max=self.backoff_max_s,
            respect_retry_after_header=True,
            # urllib3 annotates this as int but only compares it: fractions of a second work.
            retry_after_max=self.retry_after_max_s,  # type: ignore[arg-type]
            # Hand back the last 429/5xx response so the source can say what went wrong.
            raise_on_status=False,
        )


@dataclass(frozen=True, kw_only=True)
class Timeouts:
    """Per-call ``(connect, read)`` timeouts, in seconds."""

    connect_s: float
    read_s: float


class RetryStateAdapter(HTTPAdapter):
    """``HTTPAdapter`` whose ``max_retries`` is the calling thread's ``Retry`` state when
    :func:`get` is retrying an answer (so that retry spends the same budget), else its own."""

    @property
    def max_retries(self) -> Retry:
        state: Retry | None = getattr(_current, "retries", None)
        return self._own_retries if state is None else state

    @max_retries.setter
    def max_retries(self, retries: Retry) -> None:
        self._own_retries = retries


def make_session(
    *, policy: RetryPolicy, pool_maxsize: int, user_agent: str = "battery-arbitrage-optimizer"
) -> requests.Session:
    """A session with retries mounted for http and https; reuse it for the source's life."""
    session = requests.Session()
    adapter = RetryStateAdapter(
        max_retries=policy.to_retry(), pool_connections=4, pool_maxsize=pool_maxsize
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = user_agent
    session.headers["Accept"] = "application/json"
    return session


@dataclass(frozen=True)
class Answer:
    """One upstream answer: its HTTP status and its whole (decompressed) body."""

    status: int
    body: bytes


class RetryAnswer(Protocol):
    """A source's judgement of one answer before it is parsed: True for a failure to retry
    like a 5xx although its status does not say so (CENACE's error body with HTTP 200)."""

    def __call__(self, status: int, body: bytes) -> bool: ...


class InFlight:
    """The responses of one fetch still being read; :meth:`abort` shuts their sockets so the
    threads reading them return at once, and refuses calls that have not started yet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._responses: set[Any] = set()
        self.aborted = False

    def add(self, response: requests.Response) -> None:
        with self._lock:
            if self.aborted:
                raise UpstreamTimeoutError("the fetch was abandoned")
            self._responses.add(response)

    def discard(self, response: requests.Response) -> None:
        with self._lock:
            self._responses.discard(response)

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            responses = list(self._responses)
        for response in responses:
            raw = response.raw
            shutdown = getattr(raw, "shutdown", None)  # urllib3 >= 2.3
            try:
                if shutdown is not None:
                    shutdown()
                else:
                    raw.close()
            except Exception:  # best effort on a socket being abandoned
                logger.debug("shutting an abandoned response failed", exc_info=True)


def _transport_error(exc: requests.ConnectionError, *, source: str) -> PriceSourceError:
    # Retries exhausted arrive as ConnectionError(MaxRetryError(reason=...)); a body that stalls
    # after the headers as ConnectionError(ReadTimeoutError(...)). urllib3's NewConnectionError
    # (refused, unreachable, DNS failure) subclasses ConnectTimeoutError: test it first.
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    if isinstance(reason, NewConnectionError):
        return UpstreamError(f"{source}: could not connect to the price source")
    if isinstance(reason, (ReadTimeoutError, ConnectTimeoutError)):
        return UpstreamTimeoutError(f"{source}: the price source did not answer in time")
    return UpstreamError(f"{source}: could not connect to the price source")


def read_body(
    response: requests.Response, *, max_bytes: int, deadline: Deadline, source: str
) -> bytes:
    """The whole body, decompressed, read a chunk at a time (each socket read at most one read
    timeout): ``UpstreamError`` (502) past ``max_bytes``, ``UpstreamTimeoutError`` (504) once
    the deadline has passed. A drip or a decompression bomb costs neither memory nor time."""
    declared = response.headers.get("Content-Length", "")
    encoded = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoded == "identity" and declared.isdigit() and int(declared) > max_bytes:
        raise UpstreamError(f"{source}: the answer is larger than {max_bytes} bytes")
    raw = response.raw
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = raw.read1(READ_CHUNK_BYTES, decode_content=True)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise UpstreamError(f"{source}: the answer is larger than {max_bytes} bytes")
        parts.append(chunk)
        if deadline.remaining_s() <= 0:
            raise UpstreamTimeoutError(f"{source}: the answer did not arrive within the deadline")
    return b"".join(parts)


def _retry_after_refused(
    session: requests.Session, url: str, response: requests.Response
) -> Retry | None:
    """The ``Retry`` state after one more retry of ``response`` counted as a 5xx is, or
    ``None`` when the budget (or the deadline) is spent. urllib3 leaves the state that produced
    the answer on it; without one (a mocked transport) the state this call began from."""
    state = getattr(response.raw, "retries", None)
    if not isinstance(state, Retry):
        state = session.get_adapter(url).max_retries  # type: ignore[attr-defined]
    try:
        return state.increment("GET", url, response=response.raw)
    except MaxRetryError:
        return None


def get(
    session: requests.Session,
    url: str,
    *,
    source: str,
    timeouts: Timeouts,
    deadline: Deadline,
    max_response_bytes: int,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    in_flight: InFlight | None = None,
    retry_answer: RetryAnswer | None = None,
) -> Answer:
    """GET with retries; the body streamed with :func:`read_body`. Transport failures become
    ``UpstreamError`` (502: could not connect, connection broken, body too big) or
    ``UpstreamTimeoutError`` (504). Any HTTP status is returned for the source to judge.

    An answer ``retry_answer`` refuses is retried like a 5xx: from the same ``Retry`` budget
    (the retries urllib3 already made count), after the same backoff or ``Retry-After``, never
    past the deadline; once the budget is spent the last answer is returned for the source to
    judge, and past the deadline it is a 504.

    Details never contain the URL, headers or exception text (they could carry a key)."""
    _current.deadline = deadline
    _current.retries = None
    try:
        while True:
            connect_s, read_s = deadline.timeouts(timeouts, source=source)
            if in_flight is not None and in_flight.aborted:
                raise UpstreamTimeoutError(f"{source}: the fetch was abandoned")
            response = session.get(
                url,
                params=params,
                headers=dict(headers or {}),
                timeout=(connect_s, read_s),
                allow_redirects=False,
                stream=True,
            )
            try:
                if in_flight is not None:
                    in_flight.add(response)
                body = read_body(
                    response, max_bytes=max_response_bytes, deadline=deadline, source=source
                )
                if in_flight is not None and in_flight.aborted:
                    raise UpstreamTimeoutError(f"{source}: the fetch was abandoned")
                answer = Answer(response.status_code, body)
            finally:
                if in_flight is not None:
                    in_flight.discard(response)
                response.close()
            if retry_answer is None or not retry_answer(answer.status, answer.body):
                return answer
            following = _retry_after_refused(session, url, response)
            if following is None:
                return answer
            logger.info("%s: retrying an answer that reports a server error", source)
            following.sleep(response.raw)
            _current.retries = following
    except DeadlinePassedError:
        raise UpstreamTimeoutError(f"{source}: no answer within the fetch deadline") from None
    except (requests.Timeout, ReadTimeoutError):
        # ReadTimeoutError: urllib3's own, from a body read that stalled
        raise UpstreamTimeoutError(f"{source}: the price source did not answer in time") from None
    except requests.ConnectionError as exc:
        raise _transport_error(exc, source=source) from None
    except (requests.RequestException, HTTPError, OSError, ValueError) as exc:
        # ChunkedEncodingError, ContentDecodingError, a socket shut by InFlight.abort, ...
        if in_flight is not None and in_flight.aborted:
            raise UpstreamTimeoutError(f"{source}: the fetch was abandoned") from None
        logger.warning("%s: request failed: %s", source, type(exc).__name__)
        raise UpstreamError(f"{source}: the request to the price source failed") from None
    finally:
        _current.deadline = None
        _current.retries = None


def run_concurrently(
    tasks: Sequence[Callable[[], T]],
    *,
    deadline: Deadline,
    max_workers: int,
    source: str,
    in_flight: InFlight | None = None,
) -> list[T]:
    """Run ``tasks`` in a thread pool and return their results in order.

    The first task to fail decides the error; if the deadline passes first,
    ``UpstreamTimeoutError`` (504). Either way the tasks not started are cancelled and the
    calls in flight are shut (``in_flight.abort()``), so their threads end promptly."""
    if not tasks:
        return []
    pool = ThreadPoolExecutor(
        max_workers=max(1, min(max_workers, len(tasks))), thread_name_prefix=f"{source}-fetch"
    )
    finished = False
    try:
        futures: list[Future[T]] = [pool.submit(task) for task in tasks]
        done, pending = wait(
            futures, timeout=max(0.0, deadline.remaining_s()), return_when=FIRST_EXCEPTION
        )
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            error = failed[0].exception()
            if isinstance(error, PriceSourceError):
                raise error
            logger.error("%s: chunk fetch crashed", source, exc_info=error)
            raise UpstreamError(f"{source}: the price source answered something unusable")
        if pending:
            raise UpstreamTimeoutError(
                f"{source}: {len(pending)} of {len(futures)} calls did not finish within the "
                "fetch deadline"
            )
        finished = True
        return [f.result() for f in futures]
    finally:
        if not finished and in_flight is not None:
            in_flight.abort()
        pool.shutdown(wait=False, cancel_futures=True)


# --- Upstream text and prices ----------------------------------------------------------------

#: ``key=...``, ``token: ...``, ``Authorization: Bearer ...`` and the like.
_SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b([\w-]*(?:key|token|secret|password|passwd|signature|credential|auth\w*))"
    r"(\s*[=:]\s*|\s+)(?:bearer\s+)?[^\s,;&\"']+"
)
#: Anything that looks like a credential: a run of 20+ token characters with a letter and a
#: digit in it (API keys, JWTs, hex digests). Zone names, dates and prose do not qualify.
_LONG_TOKEN = re.compile(r"[A-Za-z0-9_\-+/=.~]{20,}")


def _looks_like_token(match: re.Match[str]) -> str:
    text = match.group(0)
    if re.search(r"[A-Za-z]", text) and re.search(r"\d", text):
        return REDACTED
    return text


def redact(text: str, *, secrets: Iterable[str] = (), max_chars: int = QUOTE_MAX_CHARS) -> str:
    """``text`` from an upstream, safe to quote: every secret in ``secrets`` removed, then any
    ``key=...``-style assignment and any long token, then control characters, then cut to
    ``max_chars`` characters (with ``…`` when cut)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _SECRET_ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _LONG_TOKEN.sub(_looks_like_token, text)
    text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _redact_error(error: PriceSourceError, secret: str) -> PriceSourceError:
    """``error`` with ``secret`` (as written or URL-encoded) removed from its detail."""
    detail = error.detail
    for form in sorted({secret, quote(secret, safe=""), quote_plus(secret)}, key=len, reverse=True):
        if form:
            detail = detail.replace(form, REDACTED)
    if detail != error.detail:
        error.detail = detail
        error.args = (detail,)
    return error


#: JSON's number grammar (RFC 8259): no ``_``, no spaces, no ``+``, no ``inf``/``nan``, no
#: leading zeros or bare dots.
JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


def wire_price(value: object, *, source: str, where: str) -> float:
    """A price from an upstream: a JSON number, or a string holding exactly one in JSON's
    syntax; finite and within ±:data:`PRICE_LIMIT_MXN_PER_MWH`. Anything else is a 502 naming
    ``where`` (which names the day)."""
    if isinstance(value, bool):
        raise UpstreamError(f"{source}: {where}: the price is not a number")
    if isinstance(value, str):
        if not JSON_NUMBER.fullmatch(value):
            if value.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
                raise UpstreamError(f"{source}: {where}: the price is not finite")
            raise UpstreamError(f"{source}: {where}: the price is not a number")
        price = float(value)
    elif isinstance(value, (int, float)):
        price = float(value)
    else:
        raise UpstreamError(f"{source}: {where}: the price is not a number")
    if not math.isfinite(price):
        raise UpstreamError(f"{source}: {where}: the price is not finite")
    if abs(price) > PRICE_LIMIT_MXN_PER_MWH:
        raise UpstreamError(
            f"{source}: {where}: the price {price:.6g} MXN/MWh is beyond "
            f"±{PRICE_LIMIT_MXN_PER_MWH:,.0f}"
        )
    return price


# --- The source ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Call:
    """What one upstream call asks: a URL, query parameters and headers."""

    url: str
    params: Mapping[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class Chunks(Protocol):
    """A source's chunking: ``[start, end]`` as inclusive ``(first, last)`` pairs, in order."""

    def __call__(self, start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]: ...


class BuildCall(Protocol):
    """A source's request for the days ``first..last`` of ``query`` (``api_key`` is ``None``
    for a source without one)."""

    def __call__(
        self, query: PriceQuery, first: dt.date, last: dt.date, *, api_key: str | None
    ) -> Call: ...


class ParseResponse(Protocol):
    """A source's parser: one answer → the prices it holds for ``days``; ``[]`` for no data,
    ``UpstreamError`` for anything unusable."""

    def __call__(
        self, status: int, body: bytes, *, zone: str, days: Sequence[dt.date], system: System
    ) -> list[HourPrice]: ...


class ApiKey(Protocol):
    """A source's API key, waiting at most ``timeout_s`` seconds for it (the fetch's time left;
    ``UpstreamTimeoutError`` when it is not there by then)."""

    def __call__(self, *, timeout_s: float) -> str: ...


class HttpSource:
    """A remote price source: a query's chunks fetched concurrently over one reused session,
    each answer parsed for its own days, the days assembled and validated (SPEC §5).

    What differs between upstreams is passed in: ``chunks``, ``build_call``, ``parse``, the
    ``processes`` served (others are a 404 without a call), ``retry_answer`` (answers to retry
    like a 5xx although their status does not say so) and, for a keyed API, ``api_key``:
    called once per fetch, before the first call, with the fetch's time left, so a slow key
    read (``prices.secrets``, the one cache of a key read from SSM) is a 504 at the deadline
    like a slow upstream; the key is redacted from every error that leaves :meth:`fetch`."""

    def __init__(
        self,
        *,
        name: str,
        chunks: Chunks,
        build_call: BuildCall,
        parse: ParseResponse,
        timeouts: Timeouts,
        deadline_s: float,
        max_response_bytes: int,
        max_concurrent_calls: int,
        policy: RetryPolicy | None = None,
        processes: frozenset[Process] = frozenset(Process),
        api_key: ApiKey | None = None,
        retry_answer: RetryAnswer | None = None,
    ) -> None:
        self.name = name
        self.chunks = chunks
        self.build_call = build_call
        self.parse = parse
        self.timeouts = timeouts
        self.deadline_s = deadline_s
        self.max_response_bytes = max_response_bytes
        self.max_concurrent_calls = max_concurrent_calls
        self.processes = processes
        self._api_key = api_key
        self.retry_answer = retry_answer
        self.session = make_session(
            policy=policy or RetryPolicy(), pool_maxsize=max_concurrent_calls
        )

    def fetch(self, query: PriceQuery, *, deadline_s: float | None = None) -> list[MarketDay]:
        """The market days of ``query``, never later than ``deadline_s`` (a
        ``time.monotonic()`` instant; the source's own fetch deadline applies too)."""
        if query.process not in self.processes:
            served = ", ".join(sorted(self.processes))
            raise NoPricesError(f"{self.name} serves {served} prices only, not {query.process}")
        deadline = Deadline(self.deadline_s, not_after=deadline_s)
        key = None
        if self._api_key is not None:
            key = self._api_key(timeout_s=max(0.0, deadline.remaining_s()))
            if not key:
                raise UpstreamError(f"{self.name}: the API key is empty")
        try:
            return self._fetch(query, deadline, key)
        except PriceSourceError as error:
            raise _redact_error(error, key or "") from None

    def _fetch(self, query: PriceQuery, deadline: Deadline, key: str | None) -> list[MarketDay]:
        in_flight = InFlight()

        def fetch_chunk(first: dt.date, last: dt.date) -> list[HourPrice]:
            call = self.build_call(query, first, last, api_key=key)
            answer = get(
                self.session,
                call.url,
                source=self.name,
                timeouts=self.timeouts,
                deadline=deadline,
                max_response_bytes=self.max_response_bytes,
                params=call.params,
                headers=call.headers,
                in_flight=in_flight,
                retry_answer=self.retry_answer,
            )
            days = PriceQuery(zone=query.zone, start=first, end=last).days
            return self.parse(
                answer.status, answer.body, zone=query.zone, days=days, system=query.system
            )

        chunks = self.chunks(query.start, query.end)
        tasks = [lambda f=first, la=last: fetch_chunk(f, la) for first, last in chunks]
        parts = run_concurrently(
            tasks,
            deadline=deadline,
            max_workers=self.max_concurrent_calls,
            source=self.name,
            in_flight=in_flight,
        )
        market_days = assemble_days(
            (entry for part in parts for entry in part),
            days=query.days,
            system=query.system,
            source=self.name,
            zone=query.zone,
        )
        check_price_bounds(market_days, source=self.name)
        logger.info(
            "%s: %s %s..%s, %d calls, %.2f s",
            self.name,
            query.zone,
            query.start,
            query.end,
            len(chunks),
            deadline.elapsed_s(),
        )
        return market_days
