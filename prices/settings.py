"""Price-source configuration, read from the environment only (documented in the README)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

SOURCES = ("synthetic", "batu", "cenace")
#: Smallest accepted PRICE_MAX_RESPONSE_BYTES (one day of one zone is about 5 KB).
MIN_RESPONSE_BYTES = 64 * 1024
#: Largest accepted FORECAST_HISTORY_DAYS (SPEC §11).
MAX_FORECAST_HISTORY_DAYS = 366


class ConfigError(ValueError):
    """A configuration value is missing or invalid (fails at start-up, not per request)."""


@dataclass(frozen=True, kw_only=True)
class PriceSettings:
    #: PRICE_SOURCE
    source: str = "synthetic"
    #: BATU_API_URL
    batu_api_url: str = "https://api.batuenergy.com"
    #: BATU_API_KEY (local use); on AWS the key comes from the SSM parameter below
    batu_api_key: str | None = None
    #: BATU_API_KEY_SSM_PARAMETER: name of the SecureString parameter holding the key
    batu_api_key_ssm_parameter: str | None = None
    #: CENACE_BASE_URL
    cenace_base_url: str = "https://ws01.cenace.gob.mx:8082"
    #: PRICE_CONNECT_TIMEOUT_S: TCP/TLS connect timeout per upstream call
    connect_timeout_s: float = 3.05
    #: PRICE_FETCH_TIMEOUT_S: read timeout per upstream call
    read_timeout_s: float = 10.0
    #: REQUEST_DEADLINE_S: one deadline per request, shared by fetching prices and computing
    #: (SPEC §13); below the Lambda timeout
    request_deadline_s: float = 20.0
    #: PRICE_FETCH_DEADLINE_S: a cap on one request's whole fetch (all chunks, retries
    #: included), at most ``request_deadline_s``; the fetch also stops at the request deadline,
    #: so this keeps time for computing after a slow upstream
    fetch_deadline_s: float = 15.0
    #: PRICE_MAX_RESPONSE_BYTES: cap on one upstream answer, counted after decompression
    max_response_bytes: int = 20_000_000
    #: PRICE_CACHE_MAX_DAYS: zone-days kept in the in-memory cache (0 disables it)
    cache_max_days: int = 20_000
    #: FORECAST_HISTORY_DAYS: days before start_date fetched (best effort) for the strategies
    #: without foresight (``forecast``, ``learned``), 0..366 (SPEC §11)
    forecast_history_days: int = 56

    def __post_init__(self) -> None:
        if self.fetch_deadline_s > self.request_deadline_s:
            raise ConfigError(
                f"PRICE_FETCH_DEADLINE_S ({self.fetch_deadline_s:g} s) must not exceed "
                f"REQUEST_DEADLINE_S ({self.request_deadline_s:g} s)"
            )
        if self.max_response_bytes < MIN_RESPONSE_BYTES:
            raise ConfigError(f"PRICE_MAX_RESPONSE_BYTES must be at least {MIN_RESPONSE_BYTES}")
        if not 0 <= self.forecast_history_days <= MAX_FORECAST_HISTORY_DAYS:
            raise ConfigError(
                f"FORECAST_HISTORY_DAYS must be between 0 and {MAX_FORECAST_HISTORY_DAYS}"
            )
        _check_base_url("BATU_API_URL", self.batu_api_url)
        _check_base_url("CENACE_BASE_URL", self.cenace_base_url)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PriceSettings:
        def text(key: str, default: str | None) -> str | None:
            value = env.get(key, "").strip()
            return value or default

        def seconds(key: str, default: float) -> float:
            raw = text(key, None)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(f"{key} must be a number of seconds, not {raw!r}") from None
            if not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{key} must be a positive number of seconds")
            return value

        def whole(key: str, default: int, *, minimum: int) -> int:
            raw = text(key, None)
            try:
                value = default if raw is None else int(raw)
            except ValueError:
                raise ConfigError(f"{key} must be a whole number, not {raw!r}") from None
            if value < minimum:
                raise ConfigError(f"{key} must be at least {minimum}")
            return value

        source = (text("PRICE_SOURCE", "synthetic") or "synthetic").lower()
        if source not in SOURCES:
            raise ConfigError(f"PRICE_SOURCE must be one of {', '.join(SOURCES)}, not {source!r}")
        request_deadline_s = seconds("REQUEST_DEADLINE_S", cls.request_deadline_s)
        return cls(
            source=source,
            batu_api_url=(text("BATU_API_URL", cls.batu_api_url) or cls.batu_api_url).rstrip("/"),
            batu_api_key=text("BATU_API_KEY", None),
            batu_api_key_ssm_parameter=text("BATU_API_KEY_SSM_PARAMETER", None),
            cenace_base_url=(
                text("CENACE_BASE_URL", cls.cenace_base_url) or cls.cenace_base_url
            ).rstrip("/"),
            connect_timeout_s=seconds("PRICE_CONNECT_TIMEOUT_S", cls.connect_timeout_s),
            read_timeout_s=seconds("PRICE_FETCH_TIMEOUT_S", cls.read_timeout_s),
            request_deadline_s=request_deadline_s,
            # unset, the fetch cap is its default or the request deadline, whichever is less
            fetch_deadline_s=seconds(
                "PRICE_FETCH_DEADLINE_S", min(cls.fetch_deadline_s, request_deadline_s)
            ),
            max_response_bytes=whole(
                "PRICE_MAX_RESPONSE_BYTES", cls.max_response_bytes, minimum=MIN_RESPONSE_BYTES
            ),
            cache_max_days=whole("PRICE_CACHE_MAX_DAYS", cls.cache_max_days, minimum=0),
            forecast_history_days=whole(
                "FORECAST_HISTORY_DAYS", cls.forecast_history_days, minimum=0
            ),
        )


def _check_base_url(key: str, url: str) -> None:
    """An upstream base URL as the fetches use it: ``http`` or ``https``, a host, an optional
    port and path, no query or fragment (a URL without its scheme, ``api.example.com``, would
    otherwise start the app and fail every request with a 502 that does not name it)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port that is not a number in 0..65535
    except ValueError as exc:
        raise ConfigError(f"{key} is not a valid URL ({exc}): {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{key} must be an http:// or https:// URL with a host, such as "
            f"https://example.com:8443, not {url!r}"
        )
    if port == 0:
        raise ConfigError(f"{key} must not name port 0: {url!r}")
    if parts.query or parts.fragment or any(c.isspace() for c in url):
        raise ConfigError(f"{key} must be a base URL without query, fragment or spaces: {url!r}")
