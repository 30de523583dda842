"""prices.http: retry policy, deadline, one call's error mapping and body limits, concurrent
chunks, redaction and price syntax."""

from __future__ import annotations

import gzip
import threading

import pytest
import requests
import responses
from responses import matchers
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
)

from prices import UpstreamError, UpstreamTimeoutError
from prices.http import (
    RETRY_STATUSES,
    Answer,
    Deadline,
    DeadlineRetry,
    RetryPolicy,
    Timeouts,
    get,
    make_session,
    redact,
    run_concurrently,
    wire_price,
)

URL = "https://upstream.test/prices"
TIMEOUTS = Timeouts(connect_s=0.5, read_s=2.0)
MAX_BYTES = 100_000


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def call(session: requests.Session, deadline: Deadline | None = None) -> Answer:
    return get(
        session,
        URL,
        source="test",
        timeouts=TIMEOUTS,
        deadline=deadline or Deadline(5.0),
        max_response_bytes=MAX_BYTES,
        params={"a": "1"},
        headers={"x-test": "yes"},
    )


def test_the_retry_policy_is_bounded_and_caps_retry_after() -> None:
    policy = RetryPolicy(
        total=4, connect=1, read=2, status=3, backoff_max_s=1.5, retry_after_max_s=2
    )
    retry = policy.to_retry()
    assert isinstance(retry, DeadlineRetry)
    assert (retry.total, retry.connect, retry.read, retry.status) == (4, 1, 2, 3)
    assert set(retry.status_forcelist or ()) == set(RETRY_STATUSES) == {429, 500, 502, 503, 504}
    assert retry.respect_retry_after_header is True
    assert retry.raise_on_status is False
    assert retry.parse_retry_after("3600") == 2
    assert retry.parse_retry_after("1") == 1
    # backoff grows but never past the cap
    for _ in range(3):
        retry = retry.increment(method="GET", url=URL)
    assert retry.get_backoff_time() == pytest.approx(1.0)
    retry = retry.increment(method="GET", url=URL)
    assert retry.get_backoff_time() == pytest.approx(1.5)


def test_the_session_mounts_the_policy_for_http_and_https(fast_retry: RetryPolicy) -> None:
    session = make_session(policy=fast_retry, pool_maxsize=7)
    for prefix in ("http://", "https://"):
        adapter = session.get_adapter(prefix + "x.test")
        assert adapter.max_retries.status == fast_retry.status  # type: ignore[attr-defined]
        assert adapter._pool_maxsize == 7  # type: ignore[attr-defined]


def test_get_sends_params_and_headers_and_retries_5xx(
    mocked: responses.RequestsMock, fast_retry: RetryPolicy
) -> None:
    match = [
        matchers.query_param_matcher({"a": "1"}),
        matchers.header_matcher({"x-test": "yes"}),
    ]
    mocked.get(URL, status=503, match=match)
    mocked.get(URL, status=429, headers={"Retry-After": "0"}, match=match)
    mocked.get(URL, json={"ok": True}, match=match)
    answer = call(make_session(policy=fast_retry, pool_maxsize=2))
    assert answer == Answer(200, b'{"ok": true}')
    assert len(mocked.calls) == 3


def test_get_gives_the_last_response_back_when_status_retries_run_out(
    mocked: responses.RequestsMock, fast_retry: RetryPolicy
) -> None:
    mocked.get(URL, status=502, body="bad gateway")
    answer = call(make_session(policy=fast_retry, pool_maxsize=2))
    assert answer == Answer(502, b"bad gateway")
    assert len(mocked.calls) == 1 + fast_retry.status


def test_4xx_is_not_retried(mocked: responses.RequestsMock, fast_retry: RetryPolicy) -> None:
    mocked.get(URL, status=400, json={"status": "fail"})
    assert call(make_session(policy=fast_retry, pool_maxsize=2)).status == 400
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (requests.Timeout("secret-url"), UpstreamTimeoutError, "did not answer in time"),
        (requests.ReadTimeout("secret-url"), UpstreamTimeoutError, "did not answer in time"),
        (requests.ConnectTimeout("secret-url"), UpstreamTimeoutError, "did not answer in time"),
        (requests.ConnectionError("secret-url"), UpstreamError, "could not connect"),
        (requests.TooManyRedirects("secret-url"), UpstreamError, "request to the price source"),
    ],
    ids=["timeout", "read-timeout", "connect-timeout", "connection-error", "other"],
)
def test_transport_errors_are_mapped_without_their_text(
    mocked: responses.RequestsMock,
    fault: Exception,
    error: type[Exception],
    message: str,
    fast_retry: RetryPolicy,
) -> None:
    mocked.get(URL, body=fault)
    with pytest.raises(error, match=message) as err:
        call(make_session(policy=fast_retry, pool_maxsize=2))
    assert err.type is error
    assert "secret-url" not in str(err.value)


def test_timeouts_are_clipped_to_the_time_left() -> None:
    clock = FakeClock()
    deadline = Deadline(3.0, clock=clock)
    assert deadline.timeouts(Timeouts(connect_s=1.0, read_s=10.0), source="t") == (1.0, 3.0)
    clock.now += 2.5
    assert deadline.timeouts(Timeouts(connect_s=1.0, read_s=10.0), source="t") == pytest.approx(
        (0.5, 0.5)
    )
    clock.now += 1.0
    with pytest.raises(UpstreamTimeoutError, match="deadline"):
        deadline.timeouts(TIMEOUTS, source="t")


def test_deadline_counts_the_time_since_it_started() -> None:
    clock = FakeClock()
    deadline = Deadline(3.0, clock=clock)
    assert deadline.elapsed_s() == 0.0
    clock.now += 1.25
    assert deadline.elapsed_s() == pytest.approx(1.25)
    assert deadline.remaining_s() == pytest.approx(1.75)


def test_no_call_is_made_after_the_deadline(
    mocked: responses.RequestsMock, fast_retry: RetryPolicy
) -> None:
    clock = FakeClock()
    deadline = Deadline(1.0, clock=clock)
    clock.now += 1.0
    with pytest.raises(UpstreamTimeoutError):
        call(make_session(policy=fast_retry, pool_maxsize=2), deadline)
    assert len(mocked.calls) == 0


def test_run_concurrently_keeps_task_order() -> None:
    started = threading.Barrier(3, timeout=5)

    def task(i: int) -> int:
        started.wait()  # all three run at the same time
        return i * i

    tasks = [lambda i=i: task(i) for i in range(3)]
    assert run_concurrently(tasks, deadline=Deadline(5), max_workers=3, source="t") == [0, 1, 4]


def test_run_concurrently_raises_the_first_failure() -> None:
    def ok() -> int:
        return 1

    def fails() -> int:
        raise UpstreamError("t: chunk 2 failed")

    with pytest.raises(UpstreamError, match="chunk 2 failed"):
        run_concurrently([ok, fails, ok], deadline=Deadline(5), max_workers=2, source="t")


def test_run_concurrently_turns_a_crash_into_a_502() -> None:
    def crashes() -> int:
        raise KeyError("boom")

    with pytest.raises(UpstreamError, match="unusable"):
        run_concurrently([crashes], deadline=Deadline(5), max_workers=1, source="t")


def test_run_concurrently_gives_up_at_the_deadline() -> None:
    release = threading.Event()

    def stuck() -> int:
        release.wait(5)
        return 1

    try:
        with pytest.raises(UpstreamTimeoutError, match="1 of 2 calls"):
            run_concurrently([lambda: 0, stuck], deadline=Deadline(0.1), max_workers=2, source="t")
    finally:
        release.set()


def test_run_concurrently_with_no_tasks() -> None:
    assert run_concurrently([], deadline=Deadline(1), max_workers=4, source="t") == []


def _connection_error(reason: Exception) -> requests.ConnectionError:
    return requests.ConnectionError(MaxRetryError(None, URL, reason=reason))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (
            _connection_error(NewConnectionError(None, "refused")),  # type: ignore[arg-type]
            UpstreamError,
            "could not connect",
        ),
        (
            _connection_error(NameResolutionError("nowhere.test", None, OSError("no DNS"))),  # type: ignore[arg-type]
            UpstreamError,
            "could not connect",
        ),
        (
            _connection_error(ConnectTimeoutError("slow")),
            UpstreamTimeoutError,
            "did not answer in time",
        ),
    ],
    ids=["refused", "dns", "connect-timeout"],
)
def test_a_failed_connection_is_502_and_only_a_slow_one_504(
    mocked: responses.RequestsMock,
    fault: Exception,
    error: type[Exception],
    message: str,
    fast_retry: RetryPolicy,
) -> None:
    # urllib3's NewConnectionError (and NameResolutionError) subclass ConnectTimeoutError.
    mocked.get(URL, body=fault)
    with pytest.raises(error, match=message) as err:
        call(make_session(policy=fast_retry, pool_maxsize=2))
    assert err.type is error


def test_a_body_over_the_cap_is_a_502(
    mocked: responses.RequestsMock, fast_retry: RetryPolicy
) -> None:
    mocked.get(URL, body=b"x" * (MAX_BYTES + 1))
    with pytest.raises(UpstreamError, match=f"larger than {MAX_BYTES} bytes"):
        call(make_session(policy=fast_retry, pool_maxsize=2))


def test_a_body_at_the_cap_is_read(mocked: responses.RequestsMock, fast_retry: RetryPolicy) -> None:
    mocked.get(URL, body=b"x" * MAX_BYTES)
    assert call(make_session(policy=fast_retry, pool_maxsize=2)).body == b"x" * MAX_BYTES


def test_the_cap_counts_bytes_after_decompression(
    mocked: responses.RequestsMock, fast_retry: RetryPolicy
) -> None:
    bomb = gzip.compress(b"0" * (MAX_BYTES * 50))
    assert len(bomb) < MAX_BYTES // 10
    mocked.get(URL, body=bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(UpstreamError, match="larger than"):
        call(make_session(policy=fast_retry, pool_maxsize=2))


def test_a_small_gzip_body_is_decompressed(
    mocked: responses.RequestsMock, fast_retry: RetryPolicy
) -> None:
    mocked.get(URL, body=gzip.compress(b'{"a": 1}'), headers={"Content-Encoding": "gzip"})
    assert call(make_session(policy=fast_retry, pool_maxsize=2)).body == b'{"a": 1}'


def test_a_deadline_sets_the_end_unless_the_request_ends_first() -> None:
    clock = FakeClock()
    assert Deadline(3.0, not_after=clock.now + 1.0, clock=clock).remaining_s() == 1.0
    assert Deadline(3.0, not_after=clock.now + 9.0, clock=clock).remaining_s() == 3.0
    assert Deadline(3.0, not_after=None, clock=clock).remaining_s() == 3.0
    assert Deadline(3.0, not_after=clock.now - 1, clock=clock).remaining_s() == -1.0


def test_a_request_deadline_already_past_makes_no_call(
    mocked: responses.RequestsMock, fast_retry: RetryPolicy
) -> None:
    with pytest.raises(UpstreamTimeoutError, match="deadline"):
        call(make_session(policy=fast_retry, pool_maxsize=2), Deadline(5.0, not_after=0.0))
    assert len(mocked.calls) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No query results", "No query results"),
        ("invalid key abc-SECRET-1", "invalid key [redacted]"),
        ("x-api-key=abc123, zone ok", "x-api-key=[redacted], zone ok"),
        ("Authorization: Bearer abc.def", "Authorization: [redacted]"),
        ("api_key: zz9", "api_key: [redacted]"),
        ("got 0123456789abcdef0123456789abcdef", "got [redacted]"),
        ("APATZINGAN 2024-01-01 00:00:00", "APATZINGAN 2024-01-01 00:00:00"),
        ("VERYLONGWORDWITHOUTDIGITSATALLHERE", "VERYLONGWORDWITHOUTDIGITSATALLHERE"),
        ("line\nbreak\x00", "line break"),
    ],
    ids=[
        "plain",
        "secret",
        "assignment",
        "bearer",
        "colon",
        "hex-token",
        "zone-and-date",
        "long-word",
        "control",
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text, secrets=["abc-SECRET-1"]) == expected


def test_redact_cuts_to_the_limit() -> None:
    assert redact("a" * 500) == "a" * 199 + "…"
    assert redact("a" * 200) == "a" * 200
    assert len(redact("ab " * 50, max_chars=64)) == 64


@pytest.mark.parametrize(
    ("value", "price"),
    [(283.19, 283.19), (0, 0.0), ("-12.5", -12.5), ("1e3", 1000.0), ("0.5E-1", 0.05)],
)
def test_wire_price_reads_json_numbers(value: object, price: float) -> None:
    assert wire_price(value, source="t", where="here") == pytest.approx(price)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1_000", "not a number"),
        (" 1e3 ", "not a number"),
        ("01", "not a number"),
        ("Infinity", "not finite"),
        ("NaN", "not finite"),
        (float("inf"), "not finite"),
        (False, "not a number"),
        ([1], "not a number"),
        (1e300, "beyond"),
        ("-1000000.001", "beyond"),
    ],
)
def test_wire_price_rejects(value: object, message: str) -> None:
    with pytest.raises(UpstreamError, match=f"t: day 1: .*{message}"):
        wire_price(value, source="t", where="day 1")
