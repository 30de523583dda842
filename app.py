"""The Flask application: ``flask --app app run`` locally, ``app.lambda_handler`` on AWS Lambda.

Configuration comes only from the environment (every key is in the README):

- price source: ``prices.PriceSettings.from_env`` (PRICE_SOURCE, BATU_*, CENACE_BASE_URL,
  PRICE_* timeouts and cache size);
- ``MAX_CONTENT_LENGTH``: largest accepted request body in bytes (default 2 MiB), also for
  chunked uploads (``Transfer-Encoding: chunked``, which carry no Content-Length);
- ``CORS_ORIGINS``: comma-separated origins (``https://host[:port]``) allowed to call the API
  from a browser, or ``*``; unset means no CORS headers at all;
- ``API_AUTH``: the authentication in front of the app, declared in ``/openapi.json``:
  ``none`` (default), ``iam`` or ``jwt`` (terraform sets it from its ``auth`` variable);
- ``LOG_LEVEL``: DEBUG, INFO (default), WARNING or ERROR.

``create_app(test_config)`` applies ``test_config`` over the environment. Besides any Flask
key it understands ``PRICE_SETTINGS`` (a ``prices.PriceSettings``) and ``PRICE_SOURCE_OBJECT``
(any object with ``name`` and ``fetch(query)``, used instead of building the configured source;
tests inject recorded or failing sources this way).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from apig_wsgi import make_lambda_handler
from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.wsgi import ClosingIterator

import blueprints
from blueprints.encoding import StrictJSONProvider, gzip_response
from blueprints.errors import REQUEST_ID_HEADER, request_id
from blueprints.memory import tune_malloc
from blueprints.openapi import AUTH_MODES
from blueprints.service import SOURCE_EXTENSION
from prices import ConfigError, PriceSettings, make_source

logger = logging.getLogger(__name__)

DEFAULT_MAX_CONTENT_LENGTH = 2 * 1024 * 1024
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: scheme://host[:port], the serialised form browsers send in the Origin header
_ORIGIN = re.compile(r"https?://([a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(:[0-9]{1,5})?")
#: request headers a cross-origin caller may send (Authorization: the JWT deployment's token)
CORS_ALLOW_HEADERS = "Authorization, Content-Type"
#: how long (s) a browser may cache a preflight answer
CORS_MAX_AGE_S = 600
_READ_CHUNK_BYTES = 64 * 1024
#: after a 413, up to this many times MAX_CONTENT_LENGTH of the rest of the body is read and
#: dropped once the answer is sent, so that a client still sending sees the 413 rather than a
#: connection reset; a longer body is cut off (gunicorn's worker timeout bounds a slow one)
DISCARD_FACTOR = 8
#: environ key: (input stream, bytes to discard) of a body refused with 413
_UNREAD_BODY = "battery_optimizer.unread_body"


def settings_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The app's configuration keys read from ``env``; raises ``ConfigError`` when invalid."""
    raw_length = env.get("MAX_CONTENT_LENGTH", "").strip()
    try:
        max_length = int(raw_length) if raw_length else DEFAULT_MAX_CONTENT_LENGTH
    except ValueError:
        raise ConfigError(
            f"MAX_CONTENT_LENGTH must be a whole number of bytes, not {raw_length!r}"
        ) from None
    if max_length < 1024:
        raise ConfigError("MAX_CONTENT_LENGTH must be at least 1024 bytes")
    level = (env.get("LOG_LEVEL", "").strip() or "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
    auth = env.get("API_AUTH", "").strip().lower() or "none"
    if auth not in AUTH_MODES:
        raise ConfigError(f"API_AUTH must be one of {', '.join(AUTH_MODES)}, not {auth!r}")
    return {
        "MAX_CONTENT_LENGTH": max_length,
        "LOG_LEVEL": level,
        "CORS_ORIGINS": parse_cors_origins(env.get("CORS_ORIGINS", "")),
        "API_AUTH": auth,
        "PRICE_SETTINGS": PriceSettings.from_env(env),
    }


def parse_cors_origins(raw: str) -> tuple[str, ...]:
    """``CORS_ORIGINS`` -> the allowed origins, lower-cased; ``()`` when unset (no CORS).

    Each entry is an origin as browsers send it (``https://example.com``,
    ``http://127.0.0.1:5000``: no path, no trailing slash), or the whole value is ``*``
    (any origin). Raises ``ConfigError`` naming the bad entry."""
    entries = [entry.strip().lower() for entry in raw.split(",")]
    if entries == [""]:
        return ()
    if "*" in entries:
        if entries != ["*"]:
            raise ConfigError("CORS_ORIGINS: `*` allows every origin and cannot be combined")
        return ("*",)
    for entry in entries:
        try:
            port = urlsplit(entry).port
        except ValueError:
            port = 0
        if not _ORIGIN.fullmatch(entry) or port == 0:
            raise ConfigError(
                f"CORS_ORIGINS must be comma-separated origins such as https://example.com "
                f"(scheme, host and optional port 1-65535; no path), not {entry!r}"
            )
    return tuple(dict.fromkeys(entries))


class ServiceFlask(Flask):
    """Flask with the HTTP edges of README "HTTP behaviour": ``OPTIONS`` on any route answers
    ``204 No Content`` with ``Allow`` (Flask's automatic answer is a 200 with an empty
    text/html body)."""

    def make_default_options_response(self) -> Response:
        response = super().make_default_options_response()
        response.status_code = 204
        del response.headers["Content-Type"]
        return response


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record (CloudWatch Logs Insights parses the fields)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "aws_request_id", None)
        if rid:
            entry["requestId"] = rid
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


_logging_configured = False


def configure_logging(
    level: str, *, env: Mapping[str, str], root: logging.Logger | None = None
) -> None:
    """Configure logging once per process: JSON lines on Lambda, plain text elsewhere.

    ``root`` defaults to the root logger (tests pass their own)."""
    global _logging_configured
    if _logging_configured:
        return
    _logging_configured = True
    root = root or logging.getLogger()
    root.setLevel(level)
    if env.get("AWS_LAMBDA_FUNCTION_NAME"):
        if env.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON":
            return  # the runtime already writes JSON lines
        if not root.handlers:
            root.addHandler(logging.StreamHandler(sys.stdout))
        for handler in root.handlers:
            handler.setFormatter(JsonLinesFormatter())
    elif not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults -> environment -> ``test_config`` -> blueprints -> handlers.

    No network or file I/O happens here. On Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set) with
    ``PRICE_SOURCE=batu`` keyed by ``BATU_API_KEY_SSM_PARAMETER`` alone, the key's SSM read is
    started in the background (``prices.secrets.start_reading``) without waiting for it. An
    invalid configuration raises ``prices.ConfigError`` with a message naming the variable.
    """
    app = ServiceFlask(__name__, static_folder=None)  # /static/... is the ui blueprint's
    app.json = StrictJSONProvider(app)
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=DEFAULT_MAX_CONTENT_LENGTH,
        LOG_LEVEL="INFO",
        CORS_ORIGINS=(),
        API_AUTH="none",
        PRICE_SOURCE_OBJECT=None,
    )
    app.config.from_mapping(settings_from_env(os.environ))
    if test_config is not None:
        app.config.from_mapping(test_config)
    configure_logging(app.config["LOG_LEVEL"], env=os.environ)

    source = app.config["PRICE_SOURCE_OBJECT"]
    if source is None:
        settings = app.config["PRICE_SETTINGS"]
        if not isinstance(settings, PriceSettings):
            raise ConfigError("PRICE_SETTINGS must be a prices.PriceSettings")
        source = make_source(settings)
        if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
            from prices.secrets import start_reading

            start_reading(settings)  # the Batu key's SSM read overlaps the cold start (§6)
    if not isinstance(getattr(source, "name", None), str) or not callable(
        getattr(source, "fetch", None)
    ):
        raise ConfigError("the price source needs a `name` and a `fetch(query)` method")
    app.extensions[SOURCE_EXTENSION] = source

    blueprints.register(app)
    app.before_request(_start_timer)
    app.before_request(_bound_request_body)
    app.after_request(gzip_response)  # registered first: runs after the others
    app.after_request(_add_cors_headers)
    app.after_request(_finish_request)
    app.wsgi_app = _DiscardRefusedBody(app.wsgi_app)  # type: ignore[method-assign]
    logger.debug("app created with price source %s", source.name)
    return app


def _start_timer() -> None:
    g.started = time.perf_counter()


def _bound_request_body() -> None:
    """Refuse a body over ``MAX_CONTENT_LENGTH`` with a 413 before anything reads it, and read
    a chunked body (no Content-Length) here, under the same cap.

    WSGI servers dechunk the body themselves, and Werkzeug then silently stops reading at the
    cap (a truncated body, so a 400 "not valid JSON" instead of a 413); a malformed chunk
    raises the server's own exception (gunicorn's ``InvalidChunkSize`` is no ``OSError``, so
    it became a 500). Here: more than the cap is a 413, a body the server cannot dechunk a
    400, and a body within the cap is handed on as a plain buffered one."""
    environ = request.environ
    limit: int = current_app.config["MAX_CONTENT_LENGTH"]
    stream = environ["wsgi.input"]
    if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        length = request.content_length
        if length is not None and length > limit:
            environ[_UNREAD_BODY] = (stream, min(length, DISCARD_FACTOR * limit))
            raise _too_large(limit)
        return
    # Transfer-Encoding overrides any Content-Length (RFC 9112 section 6.3).
    body = bytearray()
    try:
        while len(body) <= limit:
            piece = stream.read(min(_READ_CHUNK_BYTES, limit + 1 - len(body)))
            if not piece:
                break
            body += piece
    except Exception:  # the server's dechunking failed: gunicorn, werkzeug raise their own
        raise BadRequest(
            "The chunked request body is malformed (bad chunk size or framing)."
        ) from None
    if len(body) > limit:
        environ[_UNREAD_BODY] = (stream, DISCARD_FACTOR * limit)
        raise _too_large(limit)
    environ["wsgi.input"] = io.BytesIO(bytes(body))
    environ["wsgi.input_terminated"] = True
    environ["CONTENT_LENGTH"] = str(len(body))


def _too_large(limit: int) -> RequestEntityTooLarge:
    return RequestEntityTooLarge(
        f"The request body is larger than the {limit} bytes this service accepts."
    )


class _DiscardRefusedBody:
    """WSGI wrapper: once a 413's answer has been sent (when the server closes the response),
    read and drop the refused body, up to the bound ``_bound_request_body`` set."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        iterable = self.wsgi_app(environ, start_response)
        unread = environ.get(_UNREAD_BODY)
        if unread is None:
            return iterable
        return ClosingIterator(iterable, lambda: _discard(*unread))


def _discard(stream: Any, max_bytes: int) -> None:
    read = 0
    try:
        while read < max_bytes:
            piece = stream.read(min(_READ_CHUNK_BYTES, max_bytes - read))
            if not piece:
                return
            read += len(piece)
    except Exception:  # the client went away or broke the framing: nothing left to do
        return


def _add_cors_headers(response: Response) -> Response:
    """CORS headers for an allowed ``Origin`` when ``CORS_ORIGINS`` is set; none otherwise.

    Written here rather than with a CORS extension: exact origin matching is all this API
    needs (no credentials, no cookies, no patterns)."""
    allowed: tuple[str, ...] = current_app.config["CORS_ORIGINS"]
    if not allowed:
        return response
    response.vary.add("Origin")
    origin = request.headers.get("Origin", "")
    if not origin or (allowed != ("*",) and origin.lower() not in allowed):
        return response
    response.headers["Access-Control-Allow-Origin"] = "*" if allowed == ("*",) else origin
    response.headers["Access-Control-Expose-Headers"] = REQUEST_ID_HEADER
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response.headers["Access-Control-Allow-Methods"] = response.headers.get("Allow", "")
        response.headers["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE_S)
    return response


def _finish_request(response: Response) -> Response:
    rid = request_id()
    response.headers[REQUEST_ID_HEADER] = rid
    started = g.get("started")
    elapsed_ms = (time.perf_counter() - started) * 1e3 if started is not None else 0.0
    logger.info(
        "%s %s -> %s in %.1f ms (request_id=%s)",
        request.method,
        request.path,
        response.status_code,
        elapsed_ms,
        rid,
    )
    return response


#: the exit status of a process whose configuration is invalid: gunicorn's APP_LOAD_ERROR
CONFIG_ERROR_STATUS = 4

# freed arrays stay in the heap for the next request (no page faults per call)
tune_malloc()
try:
    app = create_app()
except ConfigError as exc:
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        raise  # the Lambda runtime reports it as the init error, with its type and message
    # `flask run`, gunicorn, `import app`: one line naming the variable, not a traceback, and
    # gunicorn's "app failed to load" status, on which its master stops instead of booting
    # workers again and again (any other status restarts them)
    print(f"Configuration error: {exc}", file=sys.stderr)
    raise SystemExit(CONFIG_ERROR_STATUS) from None
#: API Gateway HTTP API (payload 2.0) and REST API (1.0) events. Text responses go out as text;
#: a gzip-compressed one (Content-Encoding) is base64-encoded with isBase64Encoded, which
#: payload 2.0 always allows and ``binary_support`` allows for 1.0 too (a REST API needs
#: binaryMediaTypes "*/*" to decode it; the HTTP API of terraform/ decodes it as is).
lambda_handler = make_lambda_handler(app, binary_support=True)
