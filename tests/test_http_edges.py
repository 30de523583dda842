"""HTTP edges over real sockets (README "HTTP behaviour"): chunked uploads against
MAX_CONTENT_LENGTH, malformed chunks, bodies not sent as JSON (400), OPTIONS and CORS, under
the development server (werkzeug, in a thread) and the production server (gunicorn, a
subprocess), each on a free port of 127.0.0.1; bodies not sent as JSON and OPTIONS also through
``app.lambda_handler``."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import app as app_module
from app import CORS_ALLOW_HEADERS, DISCARD_FACTOR, create_app
from testkit.events import make_v1_event, make_v2_event
from testkit.server import serve

REPO = Path(__file__).resolve().parents[1]
#: MAX_CONTENT_LENGTH of the servers under test: 1 MiB, so that bodies several times larger
#: exceed what the sockets' buffers absorb (the client must be read from to finish sending)
LIMIT_BYTES = 1024 * 1024
ALLOWED_ORIGIN = "https://dash.example.com"
CORS_ORIGINS = f"{ALLOWED_ORIGIN},http://127.0.0.1:8000"
PROBLEM = "application/problem+json"
#: one day of the SPEC §2 test vector as inline prices (about 1.3 KB of JSON)
VECTOR_PRICES = [20, 15, 10, 12, 15, 25, 40, 60, 55, 40, 35, 30,
                 25, 20, 18, 25, 60, 90, 85, 70, 50, 40, 30, 25]  # fmt: skip
INLINE_REQUEST = {
    "battery_params": {"capacity_mw": 10, "duration_hours": 4, "efficiency": 0.85,
                       "min_soc": 0.1, "max_soc": 1.0, "initial_soc": 0.1},
    "market_params": {"prices": [{"date": "2024-01-01", "hour": hour, "price": price}
                                 for hour, price in enumerate(VECTOR_PRICES)]},
    "compare": False,
}  # fmt: skip
#: every path the app routes, with a concrete value for a variable part
PATH_FOR_RULE = {"/static/<path:filename>": "/static/app.js"}


# --- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_serving(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until a worker answers GET /health (the master listens before its worker has booted)."""
    for _attempt in range(300):  # bounded: up to about 30 s for gunicorn to boot
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited ({process.returncode}):\n{log.read_text()}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
        finally:
            connection.close()
    raise AssertionError(f"gunicorn is not serving on port {port}:\n{log.read_text()}")


@pytest.fixture(scope="module", params=["werkzeug", "gunicorn"])
def server_port(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    """The app with MAX_CONTENT_LENGTH=1 MiB and CORS_ORIGINS set, on a port of 127.0.0.1."""
    if request.param == "werkzeug":
        app = create_app({"MAX_CONTENT_LENGTH": LIMIT_BYTES, "CORS_ORIGINS": (
            ALLOWED_ORIGIN, "http://127.0.0.1:8000")})  # fmt: skip
        with serve(app) as url:
            port = urlsplit(url).port
            assert port is not None
            yield port
        return
    port = free_port()
    env = {**os.environ, "MAX_CONTENT_LENGTH": str(LIMIT_BYTES), "CORS_ORIGINS": CORS_ORIGINS,
           "PRICE_SOURCE": "synthetic", "LOG_LEVEL": "WARNING"}  # fmt: skip
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--timeout", "60", "--no-control-socket", "app:app"],
            cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_until_serving(port, process, log)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=30)


def exchange(port: int, raw: bytes) -> tuple[int, http.client.HTTPMessage, bytes]:
    """Send ``raw`` (a whole HTTP/1.1 request) and read the one response."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.headers, response.read()


def request_head(method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(body: bytes, chunk_bytes: int = 500) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + chunk_bytes]), body[i : i + chunk_bytes])
        for i in range(0, len(body), chunk_bytes)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def post_chunked(port: int, framed_body: bytes) -> tuple[int, http.client.HTTPMessage, bytes]:
    head = request_head(
        "POST", "/optimize", "Content-Type: application/json", "Transfer-Encoding: chunked"
    )
    return exchange(port, head + framed_body)


def padded(size_bytes: int) -> bytes:
    """Valid JSON of exactly ``size_bytes`` (the request plus an unknown ``pad`` field), so a
    body cut at any shorter length is not valid JSON."""
    base = json.dumps({**INLINE_REQUEST, "pad": ""}).encode()
    assert len(base) < size_bytes
    return base[:-2] + b"x" * (size_bytes - len(base)) + base[-2:]


def assert_problem(
    status: int, headers: http.client.HTTPMessage, body: bytes, expected: int
) -> dict[str, Any]:
    assert status == expected, body[:300]
    assert headers["Content-Type"] == PROBLEM
    problem: dict[str, Any] = json.loads(body)
    assert problem["status"] == expected
    assert len(body) < 1024
    return problem


# --- chunked uploads -------------------------------------------------------------------------


def test_a_chunked_body_within_the_limit_is_read_whole(server_port: int) -> None:
    body = json.dumps(INLINE_REQUEST).encode()
    assert 1000 < len(body) < LIMIT_BYTES
    status, _headers, chunked_answer = post_chunked(server_port, chunked(body, 100))
    assert status == 200, chunked_answer[:300]
    head = request_head("POST", "/optimize", "Content-Type: application/json",
                        f"Content-Length: {len(body)}")  # fmt: skip
    plain_status, _, plain_answer = exchange(server_port, head + body)
    assert plain_status == 200
    assert json.loads(chunked_answer) == json.loads(plain_answer)
    assert json.loads(chunked_answer)["summary"]["total_revenue"] > 0


def test_a_chunked_body_of_exactly_the_limit_is_accepted(server_port: int) -> None:
    status, headers, body = post_chunked(server_port, chunked(padded(LIMIT_BYTES)))
    problem = assert_problem(status, headers, body, 422)  # read whole: only `pad` is wrong
    assert list(problem["errors"]) == ["pad"]


@pytest.mark.parametrize("size_bytes", [LIMIT_BYTES + 1, 2 * LIMIT_BYTES])
def test_a_chunked_body_over_the_limit_is_413(server_port: int, size_bytes: int) -> None:
    status, headers, body = post_chunked(server_port, chunked(padded(size_bytes)))
    problem = assert_problem(status, headers, body, 413)
    assert str(LIMIT_BYTES) in problem["detail"]


@pytest.mark.parametrize(
    "framed_body",
    [b"zz\r\n{}\r\n0\r\n\r\n", b"2\r\n{}}}\r\n0\r\n\r\n", b"-2\r\n{}\r\n0\r\n\r\n"],
    ids=["size-not-hex", "data-longer-than-size", "negative-size"],
)
def test_a_malformed_chunk_is_400(server_port: int, framed_body: bytes) -> None:
    status, headers, body = post_chunked(server_port, framed_body)
    problem = assert_problem(status, headers, body, 400)
    assert "chunk" in problem["detail"]


def test_a_content_length_body_over_the_limit_is_still_413(server_port: int) -> None:
    body = padded(LIMIT_BYTES + 1)
    head = request_head("POST", "/optimize", "Content-Type: application/json",
                        f"Content-Length: {len(body)}")  # fmt: skip
    status, headers, answer = exchange(server_port, head + body)
    assert_problem(status, headers, answer, 413)


@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_a_body_many_times_the_limit_still_gets_its_413(server_port: int, framing: str) -> None:
    # 6 MiB: more than the sockets buffer, so the client finishes sending only if the server
    # keeps reading after it has answered (up to DISCARD_FACTOR times the limit)
    body = padded(6 * LIMIT_BYTES)
    assert len(body) < DISCARD_FACTOR * LIMIT_BYTES
    if framing == "chunked":
        status, headers, answer = post_chunked(server_port, chunked(body, 64 * 1024))
    else:
        head = request_head("POST", "/optimize", "Content-Type: application/json",
                            f"Content-Length: {len(body)}")  # fmt: skip
        status, headers, answer = exchange(server_port, head + body)
    assert_problem(status, headers, answer, 413)


# --- a body not sent as JSON: 400 (never 415) ------------------------------------------------

#: the routes that take a JSON body
BODY_PATHS = ("/optimize", "/sizing", "/siting")
NOT_JSON_FIX = "send the body as JSON with the header Content-Type: application/json."
#: Content-Type header (None: not sent) -> the 400's detail
NOT_JSON_DETAILS: dict[str | None, str] = {
    "text/plain": f"The request body was sent as text/plain, not JSON; {NOT_JSON_FIX}",
    "application/x-www-form-urlencoded": (
        f"The request body was sent as application/x-www-form-urlencoded, not JSON; {NOT_JSON_FIX}"
    ),
    None: f"The request has no Content-Type header, so its body is not read as JSON; "
    f"{NOT_JSON_FIX}",
}


def assert_not_json_problem(problem: dict[str, Any], content_type: str | None) -> None:
    assert problem == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": NOT_JSON_DETAILS[content_type],
    }


@pytest.mark.parametrize(
    "content_type", list(NOT_JSON_DETAILS), ids=[str(t) for t in NOT_JSON_DETAILS]
)
@pytest.mark.parametrize("path", BODY_PATHS)
def test_a_body_not_sent_as_json_is_400_over_a_socket(
    server_port: int, path: str, content_type: str | None
) -> None:
    body = json.dumps(INLINE_REQUEST).encode()
    typed = () if content_type is None else (f"Content-Type: {content_type}",)
    head = request_head("POST", path, *typed, f"Content-Length: {len(body)}")
    status, headers, answer = exchange(server_port, head + body)
    assert_not_json_problem(assert_problem(status, headers, answer, 400), content_type)


@pytest.mark.parametrize(
    "content_type", list(NOT_JSON_DETAILS), ids=[str(t) for t in NOT_JSON_DETAILS]
)
@pytest.mark.parametrize("path", BODY_PATHS)
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_body_not_sent_as_json_is_400_through_the_lambda_handler(
    version: str, path: str, content_type: str | None
) -> None:
    header = "Content-Type" if version == "v1" else "content-type"
    typed = {} if content_type is None else {header: content_type}
    factory = make_v1_event if version == "v1" else make_v2_event
    event = factory(method="POST", path=path, headers=typed, body=json.dumps(INLINE_REQUEST))
    response = app_module.lambda_handler(event, None)
    assert response["statusCode"] == 400
    if version == "v1":
        assert response["multiValueHeaders"]["Content-Type"] == [PROBLEM]
    else:
        assert response["headers"]["content-type"] == PROBLEM
    assert_not_json_problem(json.loads(response["body"]), content_type)


# --- OPTIONS and CORS ------------------------------------------------------------------------


def routed_paths() -> dict[str, set[str]]:
    """Every route of the app -> its methods (OPTIONS included)."""
    app = create_app()
    paths: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        path = PATH_FOR_RULE.get(rule.rule, rule.rule)
        assert "<" not in path, f"give {rule.rule} a concrete path in PATH_FOR_RULE"
        paths.setdefault(path, set()).update(rule.methods or ())
    return paths


def test_options_on_every_route_is_204_with_allow(server_port: int) -> None:
    paths = routed_paths()
    assert {"/optimize", "/health", "/strategies", "/openapi.json"} <= set(paths)
    for path, methods in paths.items():
        status, headers, body = exchange(server_port, request_head("OPTIONS", path))
        assert status == 204, path
        assert body == b""
        assert set(headers["Allow"].split(", ")) == methods, path
        assert "OPTIONS" in methods
        assert headers["Content-Type"] is None
        assert headers["Access-Control-Allow-Origin"] is None  # no Origin sent
        assert headers["X-Request-ID"]


def test_a_preflight_from_an_allowed_origin_gets_cors_headers(server_port: int) -> None:
    raw = request_head("OPTIONS", "/optimize", f"Origin: {ALLOWED_ORIGIN}",
                       "Access-Control-Request-Method: POST",
                       "Access-Control-Request-Headers: content-type, authorization")  # fmt: skip
    status, headers, body = exchange(server_port, raw)
    assert (status, body) == (204, b"")
    assert headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert set(headers["Access-Control-Allow-Methods"].split(", ")) == {"POST", "OPTIONS"}
    assert headers["Access-Control-Allow-Headers"] == CORS_ALLOW_HEADERS
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in headers["Vary"]


def test_a_preflight_from_another_origin_gets_none(server_port: int) -> None:
    raw = request_head("OPTIONS", "/optimize", "Origin: https://evil.example.net",
                       "Access-Control-Request-Method: POST")  # fmt: skip
    status, headers, _ = exchange(server_port, raw)
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] is None
    assert headers["Access-Control-Allow-Methods"] is None
    assert "Origin" in headers["Vary"]


@pytest.mark.parametrize(("path", "expected"), [("/health", 200), ("/nowhere", 404)])
def test_simple_requests_from_an_allowed_origin_expose_the_request_id(
    server_port: int, path: str, expected: int
) -> None:
    raw = request_head("GET", path, "Origin: http://127.0.0.1:8000")
    status, headers, _ = exchange(server_port, raw)
    assert status == expected
    assert headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8000"
    assert headers["Access-Control-Expose-Headers"] == "X-Request-ID"
    assert headers["Access-Control-Allow-Methods"] is None  # only on a preflight


# --- through the Lambda handler --------------------------------------------------------------


def test_options_through_the_lambda_handler_v2() -> None:
    response = app_module.lambda_handler(make_v2_event(method="OPTIONS", path="/optimize"), None)
    assert response["statusCode"] == 204
    assert response["body"] == ""
    assert set(response["headers"]["allow"].split(", ")) == {"OPTIONS", "POST"}
    assert "content-type" not in response["headers"]
    assert "access-control-allow-origin" not in response["headers"]  # CORS_ORIGINS unset


def test_options_through_the_lambda_handler_v1() -> None:
    event = make_v1_event(method="OPTIONS", path="/health", headers={"Origin": ALLOWED_ORIGIN})
    response = app_module.lambda_handler(event, None)
    assert response["statusCode"] == 204
    assert set(response["multiValueHeaders"]["Allow"][0].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert "Access-Control-Allow-Origin" not in response["multiValueHeaders"]
