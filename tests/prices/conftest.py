"""Fixtures shared by the price-source tests: mocked HTTP (``responses``), a retry policy
without waits, and the real local upstream server (``upstream_server.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses
from upstream_server import Upstream, serve

from prices.http import RetryPolicy


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    """Mocked HTTP; the test fails if a registered answer is never asked for."""
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def fast_retry() -> RetryPolicy:
    """The default retry counts with no backoff and no ``Retry-After`` wait."""
    return RetryPolicy(backoff_factor_s=0.0, backoff_max_s=0.0, retry_after_max_s=0.0)


@pytest.fixture
def bare_upstream() -> Iterator[Upstream]:
    """The local upstream server on 127.0.0.1 with no data loaded."""
    yield from serve(Upstream())
