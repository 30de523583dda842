"""Fixtures shared by the price-source tests: mocked HTTP (``responses``) and a retry policy
without waits. (The real local upstream server is ``upstream_server.py``.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

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
