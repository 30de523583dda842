"""A stand-in for the SSM call of ``prices.secrets`` (``_read_parameter``) that the secrets
tests hold at a gate, shared by ``test_secrets.py`` and ``test_cold_start.py``."""

from __future__ import annotations

import threading
from collections.abc import Callable


class BlockedRead:
    """Records each call, blocks until ``release`` is set, then returns (or raises) the next of
    ``outcomes``, or, when they have run out, calls ``then`` (the real read, say)."""

    def __init__(self, *outcomes: str | Exception, then: Callable[[str], str] | None = None):
        self.outcomes = list(outcomes)
        self.then = then
        self.names: list[str] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, name: str) -> str:
        self.names.append(name)
        self.started.set()
        # Bounded only so that a test that never releases it (or an implementation that waits
        # for the read where it must not) fails rather than hangs; the tests release it.
        self.release.wait(timeout=30)
        if not self.outcomes and self.then is not None:
            return self.then(name)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
