"""Shared HTTP helpers: retry policy, deadline, error mapping, concurrent chunks."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests
import responses
from responses import matchers

from prices import UpstreamError, UpstreamTimeoutError
from prices.http import (
    RETRY_STATUSES,
    Deadline,
    RetryPolicy,
    Timeouts,
    get,
    make_session,
    run_concurrently,
)

URL = "https://upstream.test/prices"
FAST = RetryPolicy(backoff_factor_s=0.0, backoff_max_s=0.0, retry_after_max_s=0.0)
TIMEOUTS = Timeouts(connect_s=0.5, read_s=2.0)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as rsps:
        yield rsps


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def call(session: requests.Session, deadline: Deadline | None = None) -> requests.Response:
    return get(
        session,
        URL,
        source="test",
        timeouts=TIMEOUTS,
        deadline=deadline or Deadline(5.0),
        params={"a": "1"},
        headers={"x-test": "yes"},
    )


def test_the_retry_policy_is_bounded_and_caps_retry_after() -> None:
    policy = RetryPolicy(
        total=4, connect=1, read=2, status=3, backoff_max_s=1.5, retry_after_max_s=2
    )
    retry = policy.to_retry()
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


def test_the_session_mounts_the_policy_for_http_and_https() -> None:
    session = make_session(policy=FAST, pool_maxsize=7)
    for prefix in ("http://", "https://"):
        adapter = session.get_adapter(prefix + "x.test")
        assert adapter.max_retries.status == FAST.status  # type: ignore[attr-defined]
        assert adapter._pool_maxsize == 7  # type: ignore[attr-defined]


def test_get_sends_params_and_headers_and_retries_5xx(mocked: responses.RequestsMock) -> None:
    match = [
        matchers.query_param_matcher({"a": "1"}),
        matchers.header_matcher({"x-test": "yes"}),
    ]
    mocked.get(URL, status=503, match=match)
    mocked.get(URL, status=429, headers={"Retry-After": "0"}, match=match)
    mocked.get(URL, json={"ok": True}, match=match)
    response = call(make_session(policy=FAST, pool_maxsize=2))
    assert response.json() == {"ok": True}
    assert len(mocked.calls) == 3


def test_get_gives_the_last_response_back_when_status_retries_run_out(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(URL, status=502, body="bad gateway")
    response = call(make_session(policy=FAST, pool_maxsize=2))
    assert response.status_code == 502
    assert len(mocked.calls) == 1 + FAST.status


def test_4xx_is_not_retried(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, status=400, json={"status": "fail"})
    assert call(make_session(policy=FAST, pool_maxsize=2)).status_code == 400
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
    mocked: responses.RequestsMock, fault: Exception, error: type[Exception], message: str
) -> None:
    mocked.get(URL, body=fault)
    with pytest.raises(error, match=message) as err:
        call(make_session(policy=FAST, pool_maxsize=2))
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


def test_no_call_is_made_after_the_deadline(mocked: responses.RequestsMock) -> None:
    clock = FakeClock()
    deadline = Deadline(1.0, clock=clock)
    clock.now += 1.0
    with pytest.raises(UpstreamTimeoutError):
        call(make_session(policy=FAST, pool_maxsize=2), deadline)
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
