"""Optimizer tests: deterministic hypothesis examples (same on every machine), no deadline."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("optimizer", derandomize=True, deadline=None, max_examples=60)
settings.load_profile("optimizer")
