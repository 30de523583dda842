"""prices.secrets: the Batu key from the environment or from SSM (moto or a stand-in read; no
network), and its read bounded by the fetch's deadline, through a Batu source and the app."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import responses
from moto import mock_aws
from responses import matchers
from ssm_stub import BlockedRead
from upstream_server import PEND_2020, batu_body, batu_rows, expected_prices, pend_days

from app import create_app
from prices import PriceQuery, secrets
from prices.base import UpstreamError, UpstreamTimeoutError
from prices.batu import make_batu_source
from prices.settings import ConfigError, PriceSettings
from testkit.events import prd_request

PARAMETER = "/battery-arbitrage/batu-api-key"
SECRET = "batu-test-key-0123456789"
REGION = "us-east-1"


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region, no config files, no instance metadata: nothing can reach
    a real AWS endpoint or pick up a developer's own credentials."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # each test starts as a new process would: nothing read, no read in progress
    monkeypatch.setattr(secrets, "_cache", {})
    monkeypatch.setattr(secrets, "_reads", {})


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ssm", region_name=REGION)


def put(ssm: Any, value: str, *, name: str = PARAMETER) -> None:
    ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)


def from_env(**env: str) -> PriceSettings:
    return PriceSettings.from_env(env)


def test_local_key_wins_and_ssm_is_not_read(ssm: Any) -> None:
    # The parameter does not exist: reading it would raise, so returning proves no SSM call.
    settings = from_env(BATU_API_KEY="local-key", BATU_API_KEY_SSM_PARAMETER=PARAMETER)
    assert secrets.batu_api_key(settings) == "local-key"


def test_neither_configured_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="BATU_API_KEY or BATU_API_KEY_SSM_PARAMETER"):
        secrets.batu_api_key(from_env(PRICE_SOURCE="batu"))


def test_reads_and_decrypts_the_secure_string(ssm: Any) -> None:
    put(ssm, SECRET)
    settings = from_env(PRICE_SOURCE="batu", BATU_API_KEY_SSM_PARAMETER=PARAMETER)
    # moto returns the KMS-wrapped form unless WithDecryption=True was asked for.
    assert secrets.batu_api_key(settings) == SECRET


def test_value_is_cached_for_the_life_of_the_process(
    ssm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(ssm, SECRET)
    settings = from_env(BATU_API_KEY_SSM_PARAMETER=PARAMETER)
    assert secrets.batu_api_key(settings) == SECRET
    put(ssm, "rotated-key")
    assert secrets.batu_api_key(settings) == SECRET
    monkeypatch.setattr(secrets, "_cache", {})  # a new container
    assert secrets.batu_api_key(settings) == "rotated-key"


def test_cache_is_per_parameter(ssm: Any) -> None:
    put(ssm, "key-a", name="/a/key")
    put(ssm, "key-b", name="/b/key")
    assert secrets.batu_api_key(from_env(BATU_API_KEY_SSM_PARAMETER="/a/key")) == "key-a"
    assert secrets.batu_api_key(from_env(BATU_API_KEY_SSM_PARAMETER="/b/key")) == "key-b"


def test_concurrent_first_calls_read_ssm_once(ssm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    put(ssm, SECRET)
    settings = from_env(BATU_API_KEY_SSM_PARAMETER=PARAMETER)
    real_read = secrets._read_parameter
    names: list[str] = []
    start = threading.Barrier(8)

    def counting_read(name: str) -> str:
        names.append(name)
        return real_read(name)

    monkeypatch.setattr(secrets, "_read_parameter", counting_read)
    results: list[str] = []

    def worker() -> None:
        start.wait()
        results.append(secrets.batu_api_key(settings))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [SECRET] * 8
    assert names == [PARAMETER]


def test_missing_parameter_is_an_upstream_error_without_details(ssm: Any) -> None:
    settings = from_env(BATU_API_KEY_SSM_PARAMETER="/does/not/exist")
    with pytest.raises(UpstreamError) as caught:
        secrets.batu_api_key(settings)
    assert caught.value.status == 502
    assert caught.value.detail == "could not read the Batu API key from SSM"
    assert caught.value.__cause__ is None
    # A failure is not cached: once the parameter exists, the next call succeeds.
    put(ssm, SECRET, name="/does/not/exist")
    assert secrets.batu_api_key(settings) == SECRET


def test_blank_parameter_is_an_upstream_error(ssm: Any) -> None:
    put(ssm, "   ")
    with pytest.raises(UpstreamError, match=r"^could not read the Batu API key from SSM$"):
        secrets.batu_api_key(from_env(BATU_API_KEY_SSM_PARAMETER=PARAMETER))


def test_botocore_failure_is_an_upstream_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # No region anywhere: botocore fails before any request (NoRegionError), no network.
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(UpstreamError) as caught:
        secrets.batu_api_key(from_env(BATU_API_KEY_SSM_PARAMETER=PARAMETER))
    assert caught.value.detail == "could not read the Batu API key from SSM"


def test_error_messages_and_logs_never_contain_the_key(
    ssm: Any, caplog: pytest.LogCaptureFixture
) -> None:
    put(ssm, SECRET)
    settings = from_env(BATU_API_KEY_SSM_PARAMETER=PARAMETER)
    assert secrets.batu_api_key(settings) == SECRET
    with pytest.raises(UpstreamError) as caught:
        secrets.batu_api_key(from_env(BATU_API_KEY_SSM_PARAMETER="/other/missing"))
    assert SECRET not in str(caught.value)
    assert SECRET not in caplog.text
    assert "/other/missing" in caplog.text


# --- the read under the fetch's deadline ---------------------------------------------------------


@pytest.fixture
def blocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[BlockedRead]:
    """Replaces ``_read_parameter`` with a :class:`BlockedRead` (first outcome: the key,
    then a 502); released at the end of the test whatever happened, so no reader stays
    blocked."""
    read = BlockedRead(SECRET, UpstreamError("could not read the Batu API key from SSM"))
    monkeypatch.setattr(secrets, "_read_parameter", read)
    yield read
    read.release.set()


def ssm_settings(**extra: Any) -> PriceSettings:
    return PriceSettings(source="batu", batu_api_key_ssm_parameter=PARAMETER, **extra)


def test_a_read_past_the_deadline_is_a_504_and_still_fills_the_cache(
    blocked: BlockedRead,
) -> None:
    settings = ssm_settings()
    for timeout_s in (0.0, 0.02, -1.0):  # no time left, a little, a deadline long passed
        with pytest.raises(UpstreamTimeoutError) as caught:
            secrets.batu_api_key(settings, timeout_s=timeout_s)
        assert caught.value.status == 504
        assert caught.value.detail == secrets.READ_TOO_SLOW
        assert "SSM" in caught.value.detail
    read = secrets._reads[PARAMETER]
    assert blocked.started.wait(timeout=30)
    assert not read.done()  # every 504 came while the one read was still blocked
    blocked.release.set()
    assert read.result(timeout=30) == SECRET
    assert secrets._reads == {}
    # The next request finds the key at once, even with no time left, with no second read.
    assert secrets.batu_api_key(settings, timeout_s=0.0) == SECRET
    assert blocked.names == [PARAMETER]


def test_a_request_with_time_left_shares_the_read_of_one_that_gave_up(
    blocked: BlockedRead,
) -> None:
    settings = ssm_settings()
    with pytest.raises(UpstreamTimeoutError):
        secrets.batu_api_key(settings, timeout_s=0.0)
    results: list[str] = []
    waiter = threading.Thread(
        target=lambda: results.append(secrets.batu_api_key(settings, timeout_s=60.0))
    )
    waiter.start()
    assert blocked.started.wait(timeout=30)
    blocked.release.set()
    waiter.join(timeout=30)
    assert results == [SECRET]
    assert blocked.names == [PARAMETER]


def test_a_failed_background_read_is_forgotten_and_the_next_request_reads_again(
    monkeypatch: pytest.MonkeyPatch, blocked: BlockedRead
) -> None:
    blocked.outcomes.reverse()  # the first read fails, the second returns the key
    settings = ssm_settings()
    with pytest.raises(UpstreamTimeoutError):
        secrets.batu_api_key(settings, timeout_s=0.0)
    read = secrets._reads[PARAMETER]
    blocked.release.set()
    failure = read.exception(timeout=30)
    assert isinstance(failure, UpstreamError)
    assert failure.status == 502
    assert secrets._reads == {}
    assert secrets._cache == {}
    assert secrets.batu_api_key(settings, timeout_s=60.0) == SECRET
    assert blocked.names == [PARAMETER, PARAMETER]


def test_a_caller_that_waits_sees_the_reads_own_error(blocked: BlockedRead) -> None:
    blocked.outcomes.reverse()
    blocked.release.set()
    with pytest.raises(UpstreamError) as caught:
        secrets.batu_api_key(ssm_settings(), timeout_s=60.0)
    assert caught.value.status == 502
    assert caught.value.detail == "could not read the Batu API key from SSM"


def test_a_timeout_error_of_the_read_itself_is_not_taken_for_the_deadline(
    blocked: BlockedRead,
) -> None:
    blocked.outcomes = [TimeoutError("a socket timed out")]
    blocked.release.set()
    with pytest.raises(TimeoutError, match="a socket timed out"):
        secrets.batu_api_key(ssm_settings(), timeout_s=60.0)


def test_a_local_key_needs_no_time(blocked: BlockedRead) -> None:
    settings = PriceSettings(source="batu", batu_api_key="local-key")
    assert secrets.batu_api_key(settings, timeout_s=-1.0) == "local-key"
    assert blocked.names == []


BATU_URL = "https://batu.test"
DAY = dt.date(2020, 8, 1)
ONE_DAY = {DAY: pend_days(PEND_2020, "APATZINGAN")[DAY]}


def answer_with_the_key(mocked: responses.RequestsMock) -> None:
    mocked.get(
        BATU_URL + "/electricity-data/pmls/zone",
        json=batu_body(batu_rows("APATZINGAN", ONE_DAY)),
        match=[matchers.header_matcher({"x-api-key": SECRET})],
    )


def test_a_batu_fetch_gives_up_at_its_deadline_while_the_key_is_read(
    mocked: responses.RequestsMock, blocked: BlockedRead
) -> None:
    source = make_batu_source(ssm_settings(batu_api_url=BATU_URL, cache_max_days=0))
    query = PriceQuery(zone="APATZINGAN", start=DAY, end=DAY)
    for deadline_s in (time.monotonic() - 1.0, time.monotonic() + 0.02):
        with pytest.raises(UpstreamTimeoutError) as caught:
            source.fetch(query, deadline_s=deadline_s)
        assert caught.value.status == 504
        assert caught.value.detail == secrets.READ_TOO_SLOW
    assert len(mocked.calls) == 0  # no upstream call without the key
    read = secrets._reads[PARAMETER]
    blocked.release.set()
    assert read.result(timeout=30) == SECRET
    answer_with_the_key(mocked)
    days = source.fetch(query, deadline_s=time.monotonic() + 60.0)
    assert [list(day.prices_mxn_per_mwh) for day in days] == expected_prices(ONE_DAY, DAY, DAY)
    assert blocked.names == [PARAMETER]


def test_the_app_answers_504_naming_the_key_read_then_uses_the_key_it_read(
    mocked: responses.RequestsMock, blocked: BlockedRead
) -> None:
    request = prd_request(start_date="2020-08-01T00:00:00Z", end_date="2020-08-01T23:59:59Z")
    short = ssm_settings(
        batu_api_url=BATU_URL, request_deadline_s=0.05, fetch_deadline_s=0.05, cache_max_days=0
    )
    app = create_app({"TESTING": True, "PRICE_SETTINGS": short})
    response = app.test_client().post("/optimize", json=request)
    assert response.status_code == 504
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == secrets.READ_TOO_SLOW
    assert SECRET not in response.get_data(as_text=True)
    assert len(mocked.calls) == 0

    read = secrets._reads[PARAMETER]
    blocked.release.set()
    assert read.result(timeout=30) == SECRET
    answer_with_the_key(mocked)
    app = create_app(
        {"TESTING": True, "PRICE_SETTINGS": ssm_settings(batu_api_url=BATU_URL, cache_max_days=0)}
    )
    response = app.test_client().post("/optimize", json=request)
    assert response.status_code == 200
    assert response.get_json()["market"]["source"] == "batu"
    assert blocked.names == [PARAMETER]  # the key read by the request that gave up
