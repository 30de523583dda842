"""The Batu key's SSM read at the Lambda cold start: creating the app on Lambda starts one
background read before any request; requests take the key it read or wait for it within their
deadline (never a second read while it is under way); a failed cold-start read is logged
without the key and retried by the first fetch; nothing else reads SSM. No network, no AWS: a
gated stand-in for the SSM call, or moto."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future, wait
from pathlib import Path
from typing import Any

import boto3
import pytest
import responses
from flask import Flask
from moto import mock_aws
from responses import matchers
from ssm_stub import BlockedRead
from upstream_server import PEND_2020, batu_body, batu_rows, pend_days

from app import create_app
from prices import secrets
from prices.base import UpstreamError
from prices.settings import PriceSettings
from testkit.events import prd_request

REPO = Path(__file__).resolve().parents[2]
PARAMETER = "/battery-arbitrage/batu-api-key"
SECRET = "batu-cold-start-key-0123456789"
REGION = "us-east-1"
BATU_URL = "https://batu.test"
FUNCTION_NAME = "battery-arbitrage"
#: one day of real APATZINGAN prices (August 2020), what Batu answers in these tests
REQUEST = prd_request(start_date="2020-08-01T00:00:00Z", end_date="2020-08-01T23:59:59Z")
#: how long a test waits for something that must happen at once (generous: 2 shared cores)
SOON_S = 20.0


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process as a new container starts it: no key read, no read under way, fake AWS
    credentials and region (nothing can reach AWS), no Lambda and no price variables unless a
    test sets them."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_LAMBDA_FUNCTION_NAME", "PRICE_SOURCE", "BATU_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("BATU_API_KEY_SSM_PARAMETER", raising=False)
    monkeypatch.setattr(secrets, "_cache", {})
    monkeypatch.setattr(secrets, "_reads", {})


@pytest.fixture
def on_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the Lambda runtime sets in every function's environment."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> Iterator[BlockedRead]:
    """The SSM call replaced by a :class:`BlockedRead` returning the key; released at the
    end of the test whatever happened, so no reader thread stays blocked."""
    read = BlockedRead(SECRET)
    monkeypatch.setattr(secrets, "_read_parameter", read)
    yield read
    read.release.set()


def ssm_settings(**extra: Any) -> PriceSettings:
    return PriceSettings(
        source="batu",
        batu_api_url=BATU_URL,
        batu_api_key_ssm_parameter=PARAMETER,
        cache_max_days=0,
        forecast_history_days=0,
        **extra,
    )


def lambda_app(settings: PriceSettings) -> Flask:
    return create_app({"TESTING": True, "PRICE_SETTINGS": settings})


def batu_answers_the_key(mocked: responses.RequestsMock) -> None:
    """Batu answers one day of real prices, only to a request carrying the key."""
    days = pend_days(PEND_2020, "APATZINGAN")
    one_day = {day: hours for day, hours in days.items() if day.isoformat() == "2020-08-01"}
    mocked.get(
        BATU_URL + "/electricity-data/pmls/zone",
        json=batu_body(batu_rows("APATZINGAN", one_day)),
        match=[matchers.header_matcher({"x-api-key": SECRET})],
    )


def in_flight() -> Future[str]:
    """The read under way (there must be exactly one)."""
    reads = dict(secrets._reads)
    assert list(reads) == [PARAMETER]
    return reads[PARAMETER]


def test_the_lambda_app_starts_one_read_before_any_request_and_requests_use_its_key(
    on_lambda: None, gated: BlockedRead, mocked: responses.RequestsMock
) -> None:
    app = lambda_app(ssm_settings())
    read = in_flight()  # started by create_app, before any request
    assert gated.started.wait(timeout=SOON_S)
    assert gated.names == [PARAMETER]
    gated.release.set()
    assert read.result(timeout=SOON_S) == SECRET
    assert secrets._reads == {}
    lambda_app(ssm_settings())  # another app in the same container: the key is cached
    assert secrets._reads == {}
    batu_answers_the_key(mocked)
    client = app.test_client()
    for _ in range(2):
        response = client.post("/optimize", json=REQUEST)
        assert response.status_code == 200
        assert response.get_json()["market"]["source"] == "batu"
    assert len(mocked.calls) == 2
    assert gated.names == [PARAMETER]  # the cold start's read only


def test_a_request_during_the_cold_start_read_waits_for_it(
    on_lambda: None,
    gated: BlockedRead,
    mocked: responses.RequestsMock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waiting = threading.Event()

    def signalling_wait(reads: Any, timeout: float | None = None) -> Any:
        waiting.set()
        return wait(reads, timeout=timeout)

    monkeypatch.setattr(secrets, "wait", signalling_wait)
    app = lambda_app(ssm_settings())
    read = in_flight()
    batu_answers_the_key(mocked)
    answers: list[Any] = []
    request = threading.Thread(
        target=lambda: answers.append(app.test_client().post("/optimize", json=REQUEST))
    )
    request.start()
    assert waiting.wait(timeout=SOON_S)  # the request is waiting for the key...
    assert not read.done()  # ...of the read the cold start began
    assert in_flight() is read
    gated.release.set()
    request.join(timeout=60)
    assert [answer.status_code for answer in answers] == [200]
    assert gated.names == [PARAMETER]


def test_a_request_whose_deadline_passes_during_the_cold_start_read_is_a_504(
    on_lambda: None, gated: BlockedRead, mocked: responses.RequestsMock
) -> None:
    short = ssm_settings(request_deadline_s=0.05, fetch_deadline_s=0.05)
    app = lambda_app(short)
    read = in_flight()
    response = app.test_client().post("/optimize", json=REQUEST)
    assert response.status_code == 504
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == secrets.READ_TOO_SLOW
    assert in_flight() is read  # the request gave up on the cold start's read, not a new one
    gated.release.set()
    assert read.result(timeout=SOON_S) == SECRET
    batu_answers_the_key(mocked)
    response = app.test_client().post("/optimize", json=REQUEST)  # same deadline, key cached
    assert response.status_code == 200
    assert gated.names == [PARAMETER]


def test_a_failed_cold_start_read_is_logged_without_the_key_and_the_first_fetch_reads_again(
    on_lambda: None,
    monkeypatch: pytest.MonkeyPatch,
    mocked: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An error whose text holds the key: only its type may reach the log.
    read_ssm = BlockedRead(RuntimeError(f"connection reset after {SECRET}"), SECRET)
    monkeypatch.setattr(secrets, "_read_parameter", read_ssm)
    caplog.set_level("INFO", logger=secrets.__name__)
    app = lambda_app(ssm_settings())  # must not raise although the read will fail
    read = in_flight()
    read_ssm.release.set()
    assert isinstance(read.exception(timeout=SOON_S), RuntimeError)
    assert secrets._reads == {}
    assert secrets._cache == {}
    failures = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in failures] == [
        f"SSM parameter {PARAMETER}: the cold-start read failed (RuntimeError); the first "
        "fetch that needs the Batu key reads it again"
    ]
    batu_answers_the_key(mocked)
    response = app.test_client().post("/optimize", json=REQUEST)
    assert response.status_code == 200
    assert read_ssm.names == [PARAMETER, PARAMETER]
    assert SECRET not in caplog.text


def test_with_ssm_still_unreachable_the_first_fetch_answers_502_as_without_a_cold_start_read(
    on_lambda: None,
    monkeypatch: pytest.MonkeyPatch,
    mocked: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Through boto3 against moto: the parameter does not exist at cold start nor at the first
    request (a 502, after a second read); once it is put, the next read finds it. (The Batu
    answer is mocked outside moto, whose own HTTP mock would let it through to the network.)"""
    settings = ssm_settings()
    with mock_aws():
        real_read = secrets._read_parameter
        read_ssm = BlockedRead(then=real_read)
        monkeypatch.setattr(secrets, "_read_parameter", read_ssm)
        app = lambda_app(settings)
        read = in_flight()
        read_ssm.release.set()
        failure = read.exception(timeout=SOON_S)
        assert isinstance(failure, UpstreamError)
        assert "ParameterNotFound" in caplog.text
        assert "the cold-start read failed (UpstreamError)" in caplog.text
        response = app.test_client().post("/optimize", json=REQUEST)
        assert response.status_code == 502
        assert response.get_json()["detail"] == "could not read the Batu API key from SSM"
        assert read_ssm.names == [PARAMETER, PARAMETER]

        boto3.client("ssm", region_name=REGION).put_parameter(
            Name=PARAMETER, Value=SECRET, Type="SecureString"
        )
        assert secrets.batu_api_key(settings, timeout_s=SOON_S) == SECRET
        assert read_ssm.names == [PARAMETER] * 3
    batu_answers_the_key(mocked)
    response = app.test_client().post("/optimize", json=REQUEST)
    assert response.status_code == 200
    assert read_ssm.names == [PARAMETER] * 3
    assert SECRET not in caplog.text


#: (what the case is, environment, the parameters read when the app is created)
WHO_READS_AT_START: list[tuple[str, dict[str, str], list[str]]] = [
    (
        "lambda, batu, key in SSM only",
        {"AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME, "PRICE_SOURCE": "batu"},
        [PARAMETER],
    ),
    (
        "lambda, batu, BATU_API_KEY set too",
        {
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "PRICE_SOURCE": "batu",
            "BATU_API_KEY": "local-key",
        },
        [],
    ),
    (
        "lambda, batu, BATU_API_KEY only",
        {
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "PRICE_SOURCE": "batu",
            "BATU_API_KEY": "local-key",
            "BATU_API_KEY_SSM_PARAMETER": "",
        },
        [],
    ),
    (
        "lambda, synthetic source, parameter named",
        {"AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME, "PRICE_SOURCE": "synthetic"},
        [],
    ),
    ("local (flask run, CLI), batu, key in SSM only", {"PRICE_SOURCE": "batu"}, []),
]


def test_only_the_lambda_app_of_a_batu_source_keyed_by_ssm_reads_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: dict[str, list[str]] = {}
    for case, env, _ in WHO_READS_AT_START:
        read_ssm = BlockedRead(SECRET)
        with monkeypatch.context() as scoped:
            scoped.setattr(secrets, "_read_parameter", read_ssm)
            scoped.setattr(secrets, "_cache", {})
            scoped.setattr(secrets, "_reads", {})
            scoped.setenv("BATU_API_KEY_SSM_PARAMETER", PARAMETER)
            for key, value in env.items():
                scoped.setenv(key, value)
            create_app({"TESTING": True})
            reads = dict(secrets._reads)  # registered by create_app itself, if at all
            read_ssm.release.set()
            for read in reads.values():
                assert read.result(timeout=SOON_S) == SECRET
            started[case] = list(reads)
            assert read_ssm.names == list(reads)
    assert started == {case: expected for case, _, expected in WHO_READS_AT_START}


IMPORT_APP = """
import json, sys, threading
from prices import secrets
names = []
gate = threading.Event()
def gated_read(name):
    names.append(name)
    gate.wait(timeout=60)
    return "key-from-ssm"
secrets._read_parameter = gated_read
import app  # what the Lambda runtime does at cold start (handler app.lambda_handler)
in_flight = dict(secrets._reads)
gate.set()
values = [read.result(timeout=60) for read in in_flight.values()]
print(json.dumps({
    "in_flight_after_import": sorted(in_flight),
    "values": values,
    "names": names,
    "cached": sorted(secrets._cache),
    "boto3_imported": "boto3" in sys.modules,
}))
"""


def import_app(env: dict[str, str]) -> tuple[dict[str, Any], str]:
    """``import app`` in a fresh process with ``env`` over a clean environment: the stand-in
    read's report, and everything the process wrote (its logs)."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "PRICE_", "BATU_", "FLASK_", "LOG_LEVEL"))
    }
    completed = subprocess.run(
        [sys.executable, "-c", IMPORT_APP],
        cwd=REPO,
        env={**clean, "AWS_EC2_METADATA_DISABLED": "true", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    *logs, last = completed.stdout.strip().splitlines()
    report: dict[str, Any] = json.loads(last)
    return report, "\n".join(logs) + completed.stderr


def test_importing_the_app_reads_the_key_at_lambda_cold_start_only() -> None:
    batu = {"PRICE_SOURCE": "batu", "BATU_API_KEY_SSM_PARAMETER": PARAMETER}
    on_lambda, lambda_logs = import_app({**batu, "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME})
    local, _ = import_app(batu)
    assert on_lambda == {
        "in_flight_after_import": [PARAMETER],  # begun at import, before any invocation
        "values": ["key-from-ssm"],
        "names": [PARAMETER],
        "cached": [PARAMETER],
        "boto3_imported": False,
    }
    assert local == {
        "in_flight_after_import": [],
        "values": [],
        "names": [],
        "cached": [],
        "boto3_imported": False,
    }
    assert "reading the Batu key at cold start" in lambda_logs
    assert "key-from-ssm" not in lambda_logs
