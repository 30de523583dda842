"""prices.secrets: the Batu key from the environment or from SSM (moto; no network)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from prices import secrets
from prices.base import UpstreamError
from prices.settings import ConfigError, PriceSettings

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
    monkeypatch.setattr(secrets, "_cache", {})  # each test starts as a new process would


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
