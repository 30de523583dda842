"""create_app: configuration from the environment, start-up failures, no I/O, logging, and the
app served through a real socket."""

from __future__ import annotations

import json
import logging
import os
import shlex
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import app as app_module
from app import JsonLinesFormatter, configure_logging, create_app, settings_from_env
from prices import ConfigError, PriceSettings
from testkit.server import serve
from tests.conftest import PRD_REQUEST_2020, RecordedSource

REPO = Path(__file__).resolve().parents[1]


def test_module_exposes_the_app_and_the_lambda_handler() -> None:
    assert isinstance(app_module.app, Flask)
    assert callable(app_module.lambda_handler)
    assert app_module.app.extensions["price_source"].name == "synthetic"


def test_defaults() -> None:
    settings = settings_from_env({})
    assert settings["MAX_CONTENT_LENGTH"] == 2 * 1024 * 1024
    assert settings["LOG_LEVEL"] == "INFO"
    assert settings["CORS_ORIGINS"] == ()
    assert settings["API_AUTH"] == "none"
    assert settings["PRICE_SETTINGS"] == PriceSettings()


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "65536")
    monkeypatch.setenv("LOG_LEVEL", "warning")
    monkeypatch.setenv("PRICE_FETCH_TIMEOUT_S", "7.5")
    app = create_app({"PRICE_SOURCE_OBJECT": RecordedSource()})
    assert app.config["MAX_CONTENT_LENGTH"] == 65536
    assert app.config["LOG_LEVEL"] == "WARNING"
    assert app.config["PRICE_SETTINGS"].read_timeout_s == 7.5


def test_test_config_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "65536")
    source = RecordedSource()
    app = create_app({"MAX_CONTENT_LENGTH": 4096, "PRICE_SOURCE_OBJECT": source})
    assert app.config["MAX_CONTENT_LENGTH"] == 4096
    assert app.extensions["price_source"] is source
    body = json.dumps({**PRD_REQUEST_2020, "pad": "x" * 5000})
    response = app.test_client().post("/optimize", data=body, content_type="application/json")
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MAX_CONTENT_LENGTH": "two megabytes"}, "MAX_CONTENT_LENGTH"),
        ({"MAX_CONTENT_LENGTH": "10"}, "MAX_CONTENT_LENGTH"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"PRICE_SOURCE": "oracle"}, "PRICE_SOURCE"),
        ({"PRICE_FETCH_TIMEOUT_S": "-1"}, "PRICE_FETCH_TIMEOUT_S"),
        ({"PRICE_CACHE_MAX_DAYS": "many"}, "PRICE_CACHE_MAX_DAYS"),
        ({"PRICE_SOURCE": "batu"}, "BATU_API_KEY"),
        ({"API_AUTH": "basic"}, "API_AUTH"),
        ({"CORS_ORIGINS": "https://example.com/"}, "CORS_ORIGINS"),
        ({"CORS_ORIGINS": "https://example.com/app"}, "CORS_ORIGINS"),
        ({"CORS_ORIGINS": "ftp://example.com"}, "CORS_ORIGINS"),
        ({"CORS_ORIGINS": "example.com"}, "CORS_ORIGINS"),
        ({"CORS_ORIGINS": "https://a.example.com,,https://b.example.com"}, "CORS_ORIGINS"),
        ({"CORS_ORIGINS": "*,https://example.com"}, "CORS_ORIGINS"),
        ({"CORS_ORIGINS": "http://127.0.0.1:0"}, "CORS_ORIGINS"),
        ({"CORS_ORIGINS": "http://127.0.0.1:70000"}, "CORS_ORIGINS"),
    ],
    ids=["length-text", "length-tiny", "log-level", "source", "timeout", "cache", "batu-no-key",
         "auth", "cors-slash", "cors-path", "cors-scheme", "cors-no-scheme", "cors-empty-entry",
         "cors-star-mixed", "cors-port-0", "cors-port-high"],
)  # fmt: skip
def test_bad_configuration_fails_at_start_up(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        create_app()


def _import_app(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``import app`` in a fresh process (what ``flask run``, gunicorn and the Lambda runtime
    do first) with ``env`` over this environment."""
    return subprocess.run(
        [sys.executable, "-c", "import app"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_bad_variable_stops_the_app_with_one_line_naming_it() -> None:
    """Not a 40-line traceback whose last line says what is wrong (a user-level tour)."""
    env = {key: "" for key in os.environ if key.startswith("AWS_LAMBDA")}
    completed = _import_app({**env, "LOG_LEVEL": "verbose"})
    assert completed.returncode == app_module.CONFIG_ERROR_STATUS == 4
    assert completed.stderr.strip() == (
        "Configuration error: LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, not 'VERBOSE'"
    )


def test_gunicorn_stops_on_a_bad_variable_instead_of_booting_workers_forever() -> None:
    """A review found gunicorn's master restarting workers that exit with status 1 without
    end, the port open and never answering; status 4 (its APP_LOAD_ERROR) stops it."""
    env = {key: "" for key in os.environ if key.startswith("AWS_LAMBDA")}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    completed = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--no-control-socket", "app:app"],
        cwd=REPO, env={**os.environ, **env, "REQUEST_DEADLINE_S": "abc"},
        capture_output=True, text=True, timeout=600, check=False,  # a guard: it ends in ~1 s
    )  # fmt: skip
    from gunicorn.arbiter import Arbiter

    assert app_module.CONFIG_ERROR_STATUS == Arbiter.APP_LOAD_ERROR  # the status it stops on
    # it ends (a restart loop would reach the timeout): status 4, or 1 where gunicorn's master
    # meets its second failed worker while halting (its own traceback, not ours)
    assert completed.returncode in (app_module.CONFIG_ERROR_STATUS, 1)
    assert "App failed to load" in completed.stderr
    errors = [line for line in completed.stderr.splitlines() if "Configuration error" in line]
    assert errors
    assert set(errors) == {
        "Configuration error: REQUEST_DEADLINE_S must be a number of seconds, not 'abc'"
    }


def test_on_lambda_a_bad_variable_is_the_runtime_s_init_error() -> None:
    """On Lambda the ConfigError itself leaves the import: the runtime reports its type and
    message as the function's init error."""
    completed = _import_app({"LOG_LEVEL": "verbose", "AWS_LAMBDA_FUNCTION_NAME": "arbitrage"})
    assert completed.returncode == 1  # the uncaught exception
    assert "prices.settings.ConfigError: LOG_LEVEL must be one of" in completed.stderr


@pytest.mark.parametrize(
    ("raw", "origins"),
    [
        ("", ()),
        ("  ", ()),
        ("*", ("*",)),
        ("https://Dash.Example.com", ("https://dash.example.com",)),
        (" https://a.example.com , http://127.0.0.1:8000,https://a.example.com",
         ("https://a.example.com", "http://127.0.0.1:8000")),
        ("http://[::1]:5000", ("http://[::1]:5000",)),
    ],
)  # fmt: skip
def test_cors_origins_are_read(raw: str, origins: tuple[str, ...]) -> None:
    assert settings_from_env({"CORS_ORIGINS": raw})["CORS_ORIGINS"] == origins


def test_source_object_must_look_like_a_source() -> None:
    with pytest.raises(ConfigError, match="fetch"):
        create_app({"PRICE_SOURCE_OBJECT": object()})


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("create_app opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize(
    "env",
    [{}, {"PRICE_SOURCE": "cenace"},
     {"PRICE_SOURCE": "batu", "BATU_API_KEY_SSM_PARAMETER": "/battery-optimizer/batu-api-key"}],
    ids=["synthetic", "cenace", "batu-ssm"],
)  # fmt: skip
def test_create_app_does_no_network_io(
    monkeypatch: pytest.MonkeyPatch, no_network: None, env: dict[str, str]
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = create_app()
    assert app.extensions["price_source"].name == (env.get("PRICE_SOURCE") or "synthetic")
    assert app.test_client().get("/health").status_code == 200


def test_json_lines_formatter() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed %s", ("x",),
                                   sys.exc_info())  # fmt: skip
    record.aws_request_id = "req-1"
    line = JsonLinesFormatter().format(record)
    entry = json.loads(line)
    assert "\n" not in line
    assert {k: entry[k] for k in ("level", "logger", "message", "requestId")} == {
        "level": "ERROR", "logger": "app", "message": "failed x", "requestId": "req-1",
    }  # fmt: skip
    assert "ValueError: boom" in entry["exception"]


@pytest.fixture
def fresh_root_logger(monkeypatch: pytest.MonkeyPatch) -> logging.Logger:
    """A stand-in for the root logger, and the once-per-process flag reset."""
    monkeypatch.setattr(app_module, "_logging_configured", False)
    return logging.Logger("stand-in-root")


def test_logging_on_lambda_writes_json_lines(fresh_root_logger: logging.Logger) -> None:
    configure_logging(
        "INFO", env={"AWS_LAMBDA_FUNCTION_NAME": "battery-optimizer"}, root=fresh_root_logger
    )
    assert [type(h.formatter) for h in fresh_root_logger.handlers] == [JsonLinesFormatter]
    configure_logging(
        "DEBUG", env={}, root=fresh_root_logger
    )  # once per process: the second call changes nothing
    assert fresh_root_logger.level == logging.INFO
    assert len(fresh_root_logger.handlers) == 1


def test_logging_elsewhere_is_plain_text(fresh_root_logger: logging.Logger) -> None:
    configure_logging("DEBUG", env={}, root=fresh_root_logger)
    (handler,) = fresh_root_logger.handlers
    assert not isinstance(handler.formatter, JsonLinesFormatter)
    assert fresh_root_logger.level == logging.DEBUG


def test_logging_keeps_the_runtime_json_format(fresh_root_logger: logging.Logger) -> None:
    runtime = logging.StreamHandler()
    fresh_root_logger.addHandler(runtime)
    configure_logging(
        "WARNING",
        env={"AWS_LAMBDA_FUNCTION_NAME": "f", "AWS_LAMBDA_LOG_FORMAT": "JSON"},
        root=fresh_root_logger,
    )
    assert fresh_root_logger.handlers == [runtime]
    assert not isinstance(runtime.formatter, JsonLinesFormatter)
    assert fresh_root_logger.level == logging.WARNING


# --- through a real socket ----------------------------------------------------------------


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    with serve(app) as url:
        yield url


def _call(url: str, *, method: str = "GET", body: bytes | None = None,
          content_type: str | None = None) -> tuple[int, dict[str, str], Any]:  # fmt: skip
    request = urllib.request.Request(url, data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.load(error)


def test_health_over_http(base_url: str) -> None:
    status, headers, body = _call(f"{base_url}/health")
    assert (status, headers["Content-Type"], body) == (
        200, "application/json", {"status": "ok", "price_source": "recorded"},
    )  # fmt: skip


def test_optimize_over_http(base_url: str, client: Any) -> None:
    status, _headers, body = _call(
        f"{base_url}/optimize", method="POST", body=json.dumps(PRD_REQUEST_2020).encode(),
        content_type="application/json",
    )  # fmt: skip
    assert status == 200
    expected = client.post("/optimize", json=PRD_REQUEST_2020).get_json()
    assert body["daily_schedules"] == expected["daily_schedules"]
    assert body["summary"] == expected["summary"]


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "status"),
    [("GET", "/nowhere", None, None, 404), ("DELETE", "/optimize", None, None, 405),
     ("POST", "/optimize", b"{oops", "application/json", 400),
     ("POST", "/optimize", b"{}", "application/json", 422),
     ("POST", "/optimize", b"{}", "text/csv", 400)],
    ids=["404", "405", "400", "422", "400-not-sent-as-json"],
)  # fmt: skip
def test_errors_over_http(
    base_url: str, method: str, path: str, body: bytes | None, content_type: str | None,
    status: int,
) -> None:  # fmt: skip
    got, headers, problem = _call(f"{base_url}{path}", method=method, body=body,
                                  content_type=content_type)  # fmt: skip
    assert got == status
    assert headers["Content-Type"] == "application/problem+json"
    assert problem["status"] == status
    assert headers["X-Request-ID"]


# --- the README's curl examples (tests/fixtures/curl_*.sh), replayed over a real socket ----

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CURL_SCRIPTS = {
    "curl_health.sh": 200,
    "curl_strategies.sh": 200,
    "curl_openapi.sh": 200,
    "curl_optimize.sh": 200,
    "curl_optimize_inline.sh": 200,
    "curl_optimize_invalid.sh": 422,
}


def parse_curl_script(path: Path, base_url: str) -> urllib.request.Request:
    """The request the script's ``curl`` line would send (so the test needs no curl binary)."""
    (line,) = [ln for ln in path.read_text().splitlines() if ln.startswith("curl ")]
    words = shlex.split(line)[1:]
    method, headers, data, url = "GET", {}, None, None
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("--silent", "--show-error"):
            i += 1
            continue
        if word == "-X":
            method = words[i + 1]
        elif word == "-H":
            key, value = words[i + 1].split(":", 1)
            headers[key] = value.strip()
        elif word == "--data-binary":
            raw = words[i + 1]
            data = (path.parent / raw[1:]).read_bytes() if raw.startswith("@") else raw.encode()
        elif word.startswith("$BASE_URL"):
            url = base_url + word.removeprefix("$BASE_URL")
            i += 1
            continue
        else:
            raise AssertionError(f"{path.name}: unexpected curl argument {word!r}")
        i += 2
    assert url is not None, path.name
    return urllib.request.Request(url, data=data, headers=headers, method=method)


@pytest.fixture
def default_base_url() -> Iterator[str]:
    """The app on its configured default source (synthetic), served on 127.0.0.1."""
    with serve(create_app({"TESTING": True})) as url:
        yield url


def test_every_curl_script_is_tested() -> None:
    assert {p.name for p in FIXTURES.glob("curl_*.sh")} == set(CURL_SCRIPTS)


@pytest.mark.parametrize(("script", "status"), sorted(CURL_SCRIPTS.items()))
def test_curl_examples(default_base_url: str, script: str, status: int) -> None:
    request = parse_curl_script(FIXTURES / script, default_base_url)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            got, body = response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            got, body = error.code, json.load(error)
    assert got == status, body
    if script == "curl_optimize_inline.sh":
        assert body["summary"]["total_revenue"] == pytest.approx(2957.14, abs=0.01)
    if script == "curl_optimize.sh":
        assert body["market"]["zone"] == "APATZINGAN"
        assert len(body["daily_schedules"]) == 31
    if script == "curl_optimize_invalid.sh":
        assert body["errors"] == {"battery_params.min_soc": ["Must be less than max_soc."]}
