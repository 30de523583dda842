"""JSON and compression at the HTTP edge.

- ``StrictJSONProvider``: Flask's JSON provider on orjson (a year of schedules encodes in
  ~1 ms instead of ~14 ms with the standard library). Keys stay in the order the code builds
  them, and NaN/Infinity can never reach a client: orjson would write them as ``null``, so
  when an encoded body contains ``null`` the object is checked and a non-finite float raises
  ``ValueError`` (a 500), as the standard library's ``allow_nan=False`` did. Rows the
  response serialiser checked with numpy (``schemas.response.FiniteRows``) are not walked
  again.
- ``decode_json``: request bodies through orjson, falling back to the standard library for
  what orjson refuses but Python's JSON reads (integers beyond 64 bits, ``NaN``, lone
  surrogates), so such values still reach the schema and get their 422. An integer longer
  than Python converts (``sys.get_int_max_str_digits()``, 4,300 digits) is valid JSON too: it
  parses as ``±BEYOND_EVERY_RANGE``, which every field answers as it answers any integer of
  310 to 4,300 digits (a 422 at the field: "Number too large." or out of range).
- ``gzip_response``: an ``after_request`` hook compressing bodies of at least
  ``GZIP_MIN_BYTES`` for clients that accept gzip (a 366-day schedule: 0.7 MB -> ~80 KB).
  On Lambda, apig-wsgi base64-encodes any response with a Content-Encoding when binary
  support is on (always for HTTP API payload 2.0 events; ``app.py`` turns it on for REST API
  1.0 events too), and API Gateway decodes it for the client.
"""

from __future__ import annotations

import gzip
import json
import math
from typing import Any

import numpy as np
import orjson
from flask import Response, request
from flask.json.provider import DefaultJSONProvider

from schemas.response import FiniteRows

#: smallest body worth compressing (below it gzip's header and CPU cost outweigh the saving)
GZIP_MIN_BYTES = 1024
#: zlib level: 5 gives ~9x on a year of schedules at about half the CPU of level 6
GZIP_LEVEL = 5
#: what orjson writes for None and for NaN/Infinity
_NULL = b"null"
#: dates and dataclasses go through Flask's ``default`` as they did with the standard library
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
#: what an integer too long for Python to convert parses as (with its sign): beyond every
#: field's range and beyond a float's, as the integer sent was
BEYOND_EVERY_RANGE = 10**400


class StrictJSONProvider(DefaultJSONProvider):
    """orjson encoding; keys in the order the code builds them; no NaN/Infinity ever."""

    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:  # options only the standard library understands (indent, ...)
            kwargs.setdefault("allow_nan", False)
            return super().dumps(obj, **kwargs)
        return encode_json(obj).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return super().loads(s, **kwargs) if kwargs else decode_json(s)


def encode_json(obj: Any) -> bytes:
    """``obj`` as compact JSON bytes; ``ValueError`` when it holds a NaN or an infinity."""
    data = orjson.dumps(obj, default=_default, option=_OPTIONS)
    if _NULL in data and _has_non_finite(obj):
        raise ValueError("Out of range float values are not JSON compliant")
    return data


def decode_json(data: str | bytes) -> Any:
    """Parse a JSON document (``ValueError`` or ``RecursionError`` when it is not JSON)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(data)
    except json.JSONDecodeError:
        raise  # not JSON
    except ValueError:  # an integer past the digit limit (``int`` refused it)
        # again with every integer through ``_parse_int``: a Python call per integer, so only
        # here (3x slower than the plain fallback on a body full of integers)
        return json.loads(data, parse_int=_parse_int)


def _parse_int(text: str) -> int:
    """A JSON integer; one past Python's digit limit (``ValueError`` from ``int``, raised before
    any conversion work) as ``±BEYOND_EVERY_RANGE``, so the schema, not the parser, refuses it."""
    try:
        return int(text)
    except ValueError:
        return -BEYOND_EVERY_RANGE if text.startswith("-") else BEYOND_EVERY_RANGE


def _default(obj: Any) -> Any:
    """numpy scalars as Python numbers (the standard library wrote a float64 as a float);
    the rest as Flask's provider does (dates, dataclasses, decimals, uuids, ``__html__``)."""
    if isinstance(obj, np.generic):
        return obj.item()
    return DefaultJSONProvider.default(obj)


def _has_non_finite(obj: Any) -> bool:
    kind = type(obj)
    if kind is FiniteRows:  # checked with numpy when it was built
        return False
    if kind is float:
        return not math.isfinite(obj)
    if kind is dict:
        return any(map(_has_non_finite, obj.values()))
    if kind is list or kind is tuple:
        return any(map(_has_non_finite, obj))
    if isinstance(obj, float):
        return not math.isfinite(obj)
    if isinstance(obj, dict):
        return any(map(_has_non_finite, obj.values()))
    if isinstance(obj, (list, tuple)):
        return any(map(_has_non_finite, obj))
    return False


def gzip_response(response: Response) -> Response:
    """Compress ``response`` when the client accepts gzip and it is worth it."""
    if (
        response.direct_passthrough
        or response.is_streamed
        or response.status_code < 200
        or response.status_code in (204, 304)
        or "Content-Encoding" in response.headers
    ):
        return response
    body = response.get_data()
    if len(body) < GZIP_MIN_BYTES:  # the same bytes whatever the client accepts
        return response
    response.vary.add("Accept-Encoding")
    if request.accept_encodings["gzip"] <= 0:
        return response
    response.set_data(gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    return response
