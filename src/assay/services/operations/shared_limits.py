"""Limits shared by several API servers of one PostgreSQL database.

Behind a balancer each request may reach any server, so what limits a user (the
rate-limit buckets) or the platform (the intake gate's places) must live where
every server sees it: here, rows that one statement updates atomically. All times
are the database's clock (``clock_timestamp()`` in epoch seconds), so servers
whose clocks differ still agree. PostgreSQL only: a single server on SQLite keeps
these in its memory (``assay.web.ratelimit``).

- ``take_token``: a token bucket per key (``rate_buckets``): refilled continuously
  at ``per_minute`` tokens a minute up to ``per_minute``; one ``INSERT ... ON
  CONFLICT DO UPDATE`` refills, takes a token if there is one, and says whether it
  did (no read-then-write race between servers). ``refund_token`` gives one back.
  A bucket untouched for a minute is full again, the same as no row: such rows are
  deleted now and then (``prune_buckets``).
- ``take_place``: one of ``size`` places of the intake gate (``intake_places``), held
  under a lease: a place whose holder crashed comes back when the lease ends.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, text

from assay.storage.db import Database
from assay.storage.unavailable import storage_errors

# Every statement reads the database's clock: EXTRACT(EPOCH FROM clock_timestamp()).
# The bucket refilled as of now (``r`` below, spelled out: ON CONFLICT has no aliases):
#   LEAST(capacity, b.tokens + GREATEST(0, now - b.refilled_at) * rate)
_TAKE = text(
    """
    INSERT INTO rate_buckets AS b (key, tokens, refilled_at, taken)
    VALUES (:key, CAST(:capacity AS float8) - 1, EXTRACT(EPOCH FROM clock_timestamp()), true)
    ON CONFLICT (key) DO UPDATE SET
      tokens = CASE
        WHEN LEAST(CAST(:capacity AS float8), b.tokens + GREATEST(0,
               EXCLUDED.refilled_at - b.refilled_at) * CAST(:rate AS float8)) >= 1
        THEN LEAST(CAST(:capacity AS float8), b.tokens + GREATEST(0,
               EXCLUDED.refilled_at - b.refilled_at) * CAST(:rate AS float8)) - 1
        ELSE LEAST(CAST(:capacity AS float8), b.tokens + GREATEST(0,
               EXCLUDED.refilled_at - b.refilled_at) * CAST(:rate AS float8))
      END,
      taken = LEAST(CAST(:capacity AS float8), b.tokens + GREATEST(0,
               EXCLUDED.refilled_at - b.refilled_at) * CAST(:rate AS float8)) >= 1,
      refilled_at = EXCLUDED.refilled_at
    RETURNING tokens, taken
    """
)
_REFUND = text(
    "UPDATE rate_buckets SET tokens = LEAST(CAST(:capacity AS float8), tokens + 1) WHERE key = :key"
)
_PRUNE = text(
    "DELETE FROM rate_buckets"
    " WHERE refilled_at < EXTRACT(EPOCH FROM clock_timestamp()) - CAST(:idle_s AS float8)"
)
FULL_AFTER_S = 60.0  # any bucket refills completely in a minute (capacity = per minute)

_ADD_PLACES = text(
    "INSERT INTO intake_places (slot, holder, expires_at)"
    " SELECT slot, '', 0 FROM generate_series(0, CAST(:size AS integer) - 1) AS slot"
    " ON CONFLICT DO NOTHING"
)
_TAKE_PLACE = text(
    """
    UPDATE intake_places
    SET holder = :holder,
        expires_at = EXTRACT(EPOCH FROM clock_timestamp()) + CAST(:lease_s AS float8)
    WHERE slot = (
      SELECT slot FROM intake_places
      WHERE slot < :size
        AND (holder = '' OR expires_at < EXTRACT(EPOCH FROM clock_timestamp()))
      ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED
    )
    RETURNING slot
    """
)
_GIVE_BACK = text(
    "UPDATE intake_places SET holder = '', expires_at = 0 WHERE slot = :slot AND holder = :holder"
)
_HELD = text(
    "SELECT count(*) FROM intake_places WHERE slot < :size AND holder <> ''"
    " AND expires_at >= EXTRACT(EPOCH FROM clock_timestamp())"
)


@contextmanager
def _alone(db: Database) -> Iterator[Connection]:
    """A connection for one statement that is its own transaction (autocommit).

    Each statement here is atomic by itself, so a transaction around it only added two
    round trips (BEGIN, COMMIT): these run several times per submission (the request
    and submission buckets, the intake place taken, retried and given back). Errors
    are mapped as ``Database.session`` maps them."""
    with (
        storage_errors(what="a write transaction", log_refusals=True),
        db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection,
    ):
        yield connection


@dataclass(frozen=True)
class Taken:
    """The outcome of ``take_token``: whether a token was taken, else the wait."""

    ok: bool
    retry_after_s: int = 0


def take_token(db: Database, key: str, per_minute: int) -> Taken:
    """Take a token from ``key``'s bucket (made full on first use)."""
    rate = per_minute / 60.0
    with _alone(db) as connection:
        tokens, taken = connection.execute(
            _TAKE, {"key": key, "capacity": per_minute, "rate": rate}
        ).one()
    if taken:
        return Taken(ok=True)
    return Taken(ok=False, retry_after_s=max(1, math.ceil((1.0 - float(tokens)) / rate)))


def refund_token(db: Database, key: str, per_minute: int) -> None:
    """Give a token back to ``key``'s bucket, never past its capacity."""
    with _alone(db) as connection:
        connection.execute(_REFUND, {"key": key, "capacity": per_minute})


def prune_buckets(db: Database) -> int:
    """Delete the buckets that are full again (untouched for a minute); how many."""
    with _alone(db) as connection:
        return int(connection.execute(_PRUNE, {"idle_s": FULL_AFTER_S}).rowcount or 0)


def add_places(db: Database, size: int) -> None:
    """Make sure places 0 .. size-1 exist (idempotent)."""
    with _alone(db) as connection:
        connection.execute(_ADD_PLACES, {"size": size})


def take_place(db: Database, size: int, holder: str, lease_s: float) -> int | None:
    """A free place among the first ``size`` for ``holder`` (its slot), or None."""
    with _alone(db) as connection:
        slot = connection.scalar(_TAKE_PLACE, {"size": size, "holder": holder, "lease_s": lease_s})
    return None if slot is None else int(slot)


def give_back_place(db: Database, slot: int, holder: str) -> None:
    """Free ``slot`` if ``holder`` still holds it (its lease may have passed)."""
    with _alone(db) as connection:
        connection.execute(_GIVE_BACK, {"slot": slot, "holder": holder})


def places_held(db: Database, size: int) -> int:
    with db.reading() as session:
        return int(session.scalar(_HELD, {"size": size}) or 0)
