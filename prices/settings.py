"""Price-source configuration, read from the environment only (documented in the README)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

SOURCES = ("synthetic", "batu", "cenace")


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
    #: PRICE_FETCH_DEADLINE_S: overall deadline for one request's whole fetch (all chunks,
    #: retries included); below the Lambda timeout minus the solver's budget
    fetch_deadline_s: float = 15.0
    #: PRICE_CACHE_MAX_DAYS: zone-days kept in the in-memory cache (0 disables it)
    cache_max_days: int = 20_000

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

        source = (text("PRICE_SOURCE", "synthetic") or "synthetic").lower()
        if source not in SOURCES:
            raise ConfigError(f"PRICE_SOURCE must be one of {', '.join(SOURCES)}, not {source!r}")
        raw_cache = text("PRICE_CACHE_MAX_DAYS", None)
        try:
            cache_max_days = cls.cache_max_days if raw_cache is None else int(raw_cache)
        except ValueError:
            raise ConfigError("PRICE_CACHE_MAX_DAYS must be a whole number") from None
        if cache_max_days < 0:
            raise ConfigError("PRICE_CACHE_MAX_DAYS must be at least 0")
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
            fetch_deadline_s=seconds("PRICE_FETCH_DEADLINE_S", cls.fetch_deadline_s),
            cache_max_days=cache_max_days,
        )
