"""Per-user rate limits (token buckets) and the shared intake places.

Each key (``user:<id>``, or ``client:<address>`` for anonymous requests) has a
bucket of ``per_minute`` tokens refilled continuously; a request takes one, and a
request finding the bucket empty is refused with the seconds until a token is
back. Two homes for the buckets, one behaviour:

- ``RateLimiter``: in this process's memory (SQLite: one server);
- ``DatabaseRateLimiter``: rows of the PostgreSQL database, so every API server
  behind a balancer charges the same bucket (``services.operations.shared_limits``).

What stays open rather than arrives (live-progress streams) is limited by a
``ConcurrencyLimiter``: at most so many held at once per key and in all, each
given back when it ends. Per process, on purpose: a stream holds a connection
and a file descriptor of the process serving it, so the total is that process's
capacity; the per-user cap is per process too (with N servers a user may hold
N times as many streams; a cap in the database would need a lease renewed for
every open stream, and a crashed server's streams would hold places until the
lease ends).

``SharedIntake``: the intake gate's places in the database (PostgreSQL), so at
most ``submit_concurrency`` submissions are taken in at once by all the servers
together; each place is leased, so a crashed server's places come back.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool

from assay.errors import RateLimitedError
from assay.services.operations import shared_limits
from assay.storage.db import Database

MAX_KEYS = 50_000  # full buckets are dropped beyond this many keys


@dataclass
class _Bucket:
    tokens: float
    updated: float


def _refused(what: str, per_minute: int, wait: int) -> RateLimitedError:
    return RateLimitedError(
        f"too many {what}: at most {per_minute} per minute; try again in {wait} s",
        retry_after_s=wait,
    )


class RateLimiter:
    """A token bucket per key, in this process; thread-safe."""

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
                raise _refused(what, int(self.capacity), wait)
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


class DatabaseRateLimiter:
    """``RateLimiter``'s buckets as rows of the (PostgreSQL) database, shared by every
    API server of it; ``name`` keeps two limits' buckets of one key apart. Each
    ``hit`` is one statement (call it from a thread, not the event loop)."""

    PRUNE_EVERY_S = 60.0

    def __init__(self, db: Database, name: str, per_minute: int) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.db = db
        self.name = name
        self.per_minute = per_minute
        self._pruned = time.monotonic()
        self._lock = threading.Lock()

    def hit(self, key: str, what: str = "requests") -> None:
        """Take a token for ``key``; RateLimitedError (with retry_after_s) when empty."""
        self._maybe_prune()
        taken = shared_limits.take_token(self.db, f"{self.name}:{key}", self.per_minute)
        if not taken.ok:
            raise _refused(what, self.per_minute, taken.retry_after_s)

    def refund(self, key: str) -> None:
        """Give back the token a refused request took, never past the capacity."""
        shared_limits.refund_token(self.db, f"{self.name}:{key}", self.per_minute)

    def _maybe_prune(self) -> None:
        with self._lock:
            due = time.monotonic() - self._pruned >= self.PRUNE_EVERY_S
            if due:
                self._pruned = time.monotonic()
        if due:
            shared_limits.prune_buckets(self.db)


class SharedIntake:
    """The intake gate's places in the database, for all the API servers together.

    ``take`` waits (without a thread) until one of the first ``size`` places is free
    and leases it for ``lease_s``; ``give_back`` frees it. The lease only matters if
    this process dies holding the place: a submission that outlives it merely lets
    one more in. A server retries a full gate every ``RETRY_S`` or so (jittered)."""

    RETRY_S = 0.05
    LEASE_S = 120.0

    def __init__(self, db: Database, size: int) -> None:
        self.db = db
        self.size = size
        self._prefix = f"{socket.gethostname()[:40]}:{os.getpid()}:"
        self._ready = False

    async def take(self) -> tuple[int, str]:
        holder = self._prefix + uuid.uuid4().hex[:16]
        if not self._ready:
            await run_in_threadpool(shared_limits.add_places, self.db, self.size)
            self._ready = True
        delay = self.RETRY_S
        while True:
            slot = await run_in_threadpool(
                shared_limits.take_place, self.db, self.size, holder, self.LEASE_S
            )
            if slot is not None:
                return slot, holder
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))  # noqa: S311 - jitter
            delay = min(delay * 1.5, 0.5)

    async def give_back(self, place: tuple[int, str]) -> None:
        slot, holder = place
        await run_in_threadpool(shared_limits.give_back_place, self.db, slot, holder)

    def held(self) -> int:
        """Places held now, by every server."""
        return shared_limits.places_held(self.db, self.size)


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
