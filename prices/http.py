"""HTTP plumbing shared by the remote price sources (STYLE 9).

- :func:`make_session`: one ``requests.Session`` per source, with an ``HTTPAdapter`` whose
  urllib3 ``Retry`` retries connection errors, read errors and 429/5xx with exponential backoff,
  honouring ``Retry-After`` up to a cap (urllib3 2.x ``retry_after_max``).
- :class:`Deadline`: the overall time budget of one fetch; every call gets
  ``(connect, read)`` timeouts clipped to the time left.
- :func:`get`: one GET mapped onto the price-source errors (callers never see ``requests``).
- :func:`run_concurrently`: fetch chunks in threads, give up with a 504 at the deadline.
- :func:`fetch_days`: a source's whole fetch: its chunks fetched concurrently, each answer
  parsed, the entries assembled into complete market days, one log line.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Protocol, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, ReadTimeoutError
from urllib3.util.retry import Retry

from optimizer import MarketDay
from prices.base import PriceQuery, PriceSourceError, System, UpstreamError, UpstreamTimeoutError
from prices.validation import HourPrice, assemble_days

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Statuses retried (with backoff, or after ``Retry-After`` when the server sends one).
RETRY_STATUSES = (429, 500, 502, 503, 504)


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

    def to_retry(self) -> Retry:
        return Retry(
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


def make_session(
    *, policy: RetryPolicy, pool_maxsize: int, user_agent: str = "battery-arbitrage-optimizer"
) -> requests.Session:
    """A session with retries mounted for http and https; reuse it for the source's life."""
    session = requests.Session()
    adapter = HTTPAdapter(
        max_retries=policy.to_retry(), pool_connections=4, pool_maxsize=pool_maxsize
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = user_agent
    session.headers["Accept"] = "application/json"
    return session


class Deadline:
    """The time left for one whole fetch (all chunks, retries included)."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._began = clock()
        self._at = self._began + seconds

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


def get(
    session: requests.Session,
    url: str,
    *,
    source: str,
    timeouts: Timeouts,
    deadline: Deadline,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """GET with retries; transport failures become ``UpstreamError`` (502) or
    ``UpstreamTimeoutError`` (504). Any HTTP status is returned for the source to judge.

    Details never contain the URL, headers or exception text (they could carry a key)."""
    connect_s, read_s = deadline.timeouts(timeouts, source=source)
    try:
        return session.get(
            url,
            params=params,
            headers=dict(headers or {}),
            timeout=(connect_s, read_s),
            allow_redirects=False,
        )
    except requests.Timeout:
        raise UpstreamTimeoutError(f"{source}: the price source did not answer in time") from None
    except requests.ConnectionError as exc:
        # Retries exhausted on timeouts arrive as ConnectionError(MaxRetryError(reason=...));
        # a body that stalls after the headers as ConnectionError(ReadTimeoutError(...)).
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        if isinstance(reason, (ReadTimeoutError, ConnectTimeoutError)):
            raise UpstreamTimeoutError(
                f"{source}: the price source did not answer in time"
            ) from None
        raise UpstreamError(f"{source}: could not connect to the price source") from None
    except requests.RequestException as exc:
        logger.warning("%s: request failed: %s", source, type(exc).__name__)
        raise UpstreamError(f"{source}: the request to the price source failed") from None


def run_concurrently(
    tasks: Sequence[Callable[[], T]], *, deadline: Deadline, max_workers: int, source: str
) -> list[T]:
    """Run ``tasks`` in a thread pool and return their results in order.

    The first task to fail decides the error (other tasks are cancelled); if the deadline
    passes first, ``UpstreamTimeoutError`` (504). Calls still in flight then finish in the
    background, bounded by their own timeouts and retries."""
    if not tasks:
        return []
    pool = ThreadPoolExecutor(
        max_workers=max(1, min(max_workers, len(tasks))), thread_name_prefix=f"{source}-fetch"
    )
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
        return [f.result() for f in futures]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


class ParseResponse(Protocol):
    """A source's ``parse_response``: one answer → the prices it holds for ``days``."""

    def __call__(
        self, status: int, body: bytes, *, zone: str, days: Sequence[dt.date], system: System
    ) -> list[HourPrice]: ...


def fetch_days(
    query: PriceQuery,
    chunks: Sequence[tuple[dt.date, dt.date]],
    get_chunk: Callable[[dt.date, dt.date], requests.Response],
    parse_response: ParseResponse,
    *,
    deadline: Deadline,
    max_workers: int,
    source: str,
) -> list[MarketDay]:
    """The market days of ``query``: ``get_chunk(first, last)`` for every inclusive chunk of
    its range, run concurrently (:func:`run_concurrently`), each answer parsed for its own
    days, all of them assembled (:func:`prices.validation.assemble_days`); logs the number of
    calls and the time since ``deadline`` started."""

    def fetch_chunk(first: dt.date, last: dt.date) -> list[HourPrice]:
        response = get_chunk(first, last)
        days = PriceQuery(zone=query.zone, start=first, end=last).days
        return parse_response(
            response.status_code,
            response.content,
            zone=query.zone,
            days=days,
            system=query.system,
        )

    tasks = [lambda f=first, la=last: fetch_chunk(f, la) for first, last in chunks]
    parts = run_concurrently(tasks, deadline=deadline, max_workers=max_workers, source=source)
    market_days = assemble_days(
        (entry for part in parts for entry in part),
        days=query.days,
        system=query.system,
        source=source,
        zone=query.zone,
    )
    logger.info(
        "%s: %s %s..%s, %d calls, %.2f s",
        source,
        query.zone,
        query.start,
        query.end,
        len(chunks),
        deadline.elapsed_s(),
    )
    return market_days
