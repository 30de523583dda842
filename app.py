"""The Flask application: ``flask --app app run`` locally, ``app.lambda_handler`` on AWS Lambda.

Configuration comes only from the environment (every key is in the README):

- price source: ``prices.PriceSettings.from_env`` (PRICE_SOURCE, BATU_*, CENACE_BASE_URL,
  PRICE_* timeouts and cache size);
- ``MAX_CONTENT_LENGTH``: largest accepted request body in bytes (default 2 MiB);
- ``LOG_LEVEL``: DEBUG, INFO (default), WARNING or ERROR.

``create_app(test_config)`` applies ``test_config`` over the environment. Besides any Flask
key it understands ``PRICE_SETTINGS`` (a ``prices.PriceSettings``) and ``PRICE_SOURCE_OBJECT``
(any object with ``name`` and ``fetch(query)``, used instead of building the configured source;
tests inject recorded or failing sources this way).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from apig_wsgi import make_lambda_handler
from flask import Flask, Response, g, request
from flask.json.provider import DefaultJSONProvider

import blueprints
from blueprints.errors import REQUEST_ID_HEADER, request_id
from blueprints.service import SOURCE_EXTENSION
from prices import ConfigError, PriceSettings, make_source

logger = logging.getLogger(__name__)

DEFAULT_MAX_CONTENT_LENGTH = 2 * 1024 * 1024
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class StrictJSONProvider(DefaultJSONProvider):
    """Keys in the order the code builds them; NaN/Infinity can never reach a client."""

    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)


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
    return {
        "MAX_CONTENT_LENGTH": max_length,
        "LOG_LEVEL": level,
        "PRICE_SETTINGS": PriceSettings.from_env(env),
    }


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

    No network or file I/O happens here beyond what the configured price source needs at
    start-up (the Batu source may read its key from SSM, once per cold start). An invalid
    configuration raises ``prices.ConfigError`` with a message naming the variable.
    """
    app = Flask(__name__)
    app.json = StrictJSONProvider(app)
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=DEFAULT_MAX_CONTENT_LENGTH,
        LOG_LEVEL="INFO",
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
    if not isinstance(getattr(source, "name", None), str) or not callable(
        getattr(source, "fetch", None)
    ):
        raise ConfigError("the price source needs a `name` and a `fetch(query)` method")
    app.extensions[SOURCE_EXTENSION] = source

    blueprints.register(app)
    app.before_request(_start_timer)
    app.after_request(_finish_request)
    logger.debug("app created with price source %s", source.name)
    return app


def _start_timer() -> None:
    g.started = time.perf_counter()


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


app = create_app()
#: API Gateway HTTP API (payload 2.0) and REST API (1.0) events; every response is JSON text
#: (application/json or application/problem+json), which apig-wsgi never base64-encodes.
lambda_handler = make_lambda_handler(app)
