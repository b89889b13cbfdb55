"""Per-user rate limits: token buckets kept in this server process.

Each key (``user:<id>``, or ``client:<address>`` for anonymous requests) has a
bucket of ``per_minute`` tokens refilled continuously; a request takes one, and a
request finding the bucket empty is refused with the seconds until a token is
back. The buckets live in memory: with several server processes behind a proxy
each enforces its own limit (so the effective limit is per process).

What stays open rather than arrives (live-progress streams) is limited by a
``ConcurrencyLimiter``: at most so many held at once per key and in all, each
given back when it ends. Also per process.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from assay.errors import RateLimitedError

MAX_KEYS = 50_000  # full buckets are dropped beyond this many keys


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per key; thread-safe."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, what: str = "requests") -> None:
        """Take a token for ``key``; RateLimitedError (with retry_after_s) when empty."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_KEYS:
                    self._prune(now)
                bucket = self._buckets[key] = _Bucket(self.capacity, now)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens < 1.0:
                wait = max(1, math.ceil((1.0 - bucket.tokens) / self.rate))
                raise RateLimitedError(
                    f"too many {what}: at most {int(self.capacity)} per minute; "
                    f"try again in {wait} s",
                    retry_after_s=wait,
                )
            bucket.tokens -= 1.0

    def refund(self, key: str) -> None:
        """Give back the token a refused request took (one that did no work: a
        submission turned away before it was stored), never past the capacity."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.tokens = min(self.capacity, bucket.tokens + 1.0)

    def _prune(self, now: float) -> None:
        """Forget buckets that have refilled (they are the same as new ones)."""
        full = [
            key
            for key, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self.rate >= self.capacity
        ]
        for key in full:
            del self._buckets[key]


class ConcurrencyLimiter:
    """At most ``per_key`` places held at once per key and ``total`` in all; thread-safe."""

    def __init__(self, per_key: int, total: int, *, retry_after_s: float = 5.0) -> None:
        if per_key < 1 or total < 1:
            raise ValueError("per_key and total must be at least 1")
        self.per_key = per_key
        self.total = total
        self.retry_after_s = retry_after_s
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, what: str = "open streams") -> Place:
        """A place for ``key``; RateLimitedError (with retry_after_s) when none is free."""
        wait = max(1, math.ceil(self.retry_after_s))
        with self._lock:
            mine = self._held.get(key, 0)
            if mine >= self.per_key:
                raise RateLimitedError(
                    f"too many {what}: at most {self.per_key} at a time per user; "
                    f"close one or try again in {wait} s",
                    retry_after_s=wait,
                )
            if sum(self._held.values()) >= self.total:
                raise RateLimitedError(
                    f"too many {what} on this server; try again in {wait} s",
                    retry_after_s=wait,
                )
            self._held[key] = mine + 1
        return Place(self, key)

    def held(self, key: str | None = None) -> int:
        """Places held by ``key``, or by everyone."""
        with self._lock:
            return self._held.get(key, 0) if key is not None else sum(self._held.values())

    def _release(self, key: str) -> None:
        with self._lock:
            left = self._held.get(key, 0) - 1
            if left > 0:
                self._held[key] = left
            else:
                self._held.pop(key, None)


class Place:
    """One place held in a ``ConcurrencyLimiter``; ``release`` gives it back (once)."""

    def __init__(self, limiter: ConcurrencyLimiter, key: str) -> None:
        self._limiter = limiter
        self._key = key
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._limiter._release(self._key)
