"""Price sources behind one interface (SPEC §5), selected by configuration."""

from __future__ import annotations

from prices.base import (
    NoPricesError,
    PriceQuery,
    PriceSource,
    PriceSourceError,
    Process,
    System,
    UpstreamError,
    UpstreamTimeoutError,
)
from prices.settings import SOURCES, ConfigError, PriceSettings


def make_source(settings: PriceSettings) -> PriceSource:
    """Build the configured source (imports only what that source needs)."""
    if settings.source == "synthetic":
        from prices.synthetic import SyntheticSource

        return SyntheticSource()
    if settings.source == "batu":
        from prices.batu import make_batu_source

        return make_batu_source(settings)
    if settings.source == "cenace":
        from prices.cenace import make_cenace_source

        return make_cenace_source(settings)
    raise ConfigError(f"unknown price source {settings.source!r}")


__all__ = [
    "SOURCES",
    "ConfigError",
    "NoPricesError",
    "PriceQuery",
    "PriceSettings",
    "PriceSource",
    "PriceSourceError",
    "Process",
    "System",
    "UpstreamError",
    "UpstreamTimeoutError",
    "make_source",
]
