"""The concurrency limiter behind the live-progress stream caps (per user, per process)."""

from __future__ import annotations

import pytest

from assay.errors import RateLimitedError
from assay.web.ratelimit import ConcurrencyLimiter


def test_places_per_key_and_in_all_are_limited_and_given_back_once() -> None:
    limiter = ConcurrencyLimiter(per_key=2, total=3, retry_after_s=7)
    first, second = limiter.acquire("user:1"), limiter.acquire("user:1")
    with pytest.raises(RateLimitedError, match="at most 2 at a time per user") as refused:
        limiter.acquire("user:1")
    assert refused.value.retry_after_s == 7
    limiter.acquire("user:2")
    with pytest.raises(RateLimitedError, match="on this server"):
        limiter.acquire("user:3")
    first.release()
    first.release()  # a second release gives nothing back twice
    assert (limiter.held("user:1"), limiter.held()) == (1, 2)
    limiter.acquire("user:3")
    second.release()
    assert (limiter.held("user:1"), limiter.held()) == (0, 2)
