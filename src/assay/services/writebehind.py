"""Writes that reads make but must not wait for, done behind them in the background.

A GET never waits for the database's writer (on SQLite one transaction writes at a
time, and another process may hold the lock for long). What a read wants written
is noted here and written by a background thread, all of it in one transaction,
once the oldest has waited ``FLUSH_AFTER_S``:

- when each API token was last used (the newest time per token; noted at most
  once a minute per token, see ``accounts``). Under a burst of hundreds of
  students with their own tokens this also saves a write per request;
- the audit entries of reads that are audited (grade exports), with the time of
  the read.

When the database cannot be written (busy, full, read-only) the writes stay
pending and are tried again ``RETRY_AFTER_S`` later; closing the platform writes
what is pending. A crash loses at most the last few seconds of them.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update

from assay.errors import StorageError
from assay.storage.db import Database
from assay.storage.models import ApiToken, AuditEntry

log = logging.getLogger(__name__)

FLUSH_AFTER_S = 5.0
RETRY_AFTER_S = 5.0

_TOKEN_USE = (
    update(ApiToken)
    .where(ApiToken.id == bindparam("token_id"))
    .values(last_used_at=bindparam("used_at"))
)


class WriteBehind:
    """Pending writes of this process and the timer that writes them."""

    def __init__(self, delay_s: float = FLUSH_AFTER_S) -> None:
        self.delay_s = delay_s
        self._lock = threading.Lock()
        self._uses: dict[int, datetime] = {}
        self._audit: list[dict[str, Any]] = []
        self._timer: threading.Timer | None = None
        self._closed = False

    def token_used(self, db: Database, token_id: int, used_at: datetime) -> None:
        with self._lock:
            known = self._uses.get(token_id)
            self._uses[token_id] = used_at if known is None else max(known, used_at)
            self._schedule(db, self.delay_s)

    def audit(self, db: Database, entry: dict[str, Any]) -> None:
        """An ``audit_log`` row (its columns, ``at`` included) to insert."""
        with self._lock:
            self._audit.append(entry)
            self._schedule(db, self.delay_s)

    def token_uses(self) -> dict[int, datetime]:
        """Last uses not written yet, by token id (newer than the database's)."""
        with self._lock:
            return dict(self._uses)

    def flush(self, db: Database) -> None:
        """Write everything pending now, in one transaction (``StorageError`` if the
        database cannot be written: then it all stays pending)."""
        with self._lock:
            uses, audit = self._uses, self._audit
            self._uses, self._audit = {}, []
        if not uses and not audit:
            return
        try:
            with db.session() as session:
                if uses:
                    # in id order: two servers writing the same tokens never deadlock
                    rows = [{"token_id": i, "used_at": uses[i]} for i in sorted(uses)]
                    session.connection().execute(_TOKEN_USE, rows)
                if audit:
                    session.execute(insert(AuditEntry), audit)
        except BaseException:
            with self._lock:
                for token_id, at in uses.items():
                    known = self._uses.get(token_id)
                    self._uses[token_id] = at if known is None else max(known, at)
                self._audit[:0] = audit
            raise

    def close(self, db: Database) -> None:
        """Stop the timer and write what is pending (logged if that is impossible)."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        try:
            self.flush(db)
        except StorageError:
            log.exception("token use times and audit entries not written at close")

    def _schedule(self, db: Database, delay_s: float) -> None:
        """Start the timer unless it runs (called with ``_lock`` held)."""
        if self._timer is not None or self._closed:
            return
        self._timer = threading.Timer(delay_s, self._write, args=(db,))
        self._timer.daemon = True
        self._timer.name = "assay-write-behind"
        self._timer.start()

    def _write(self, db: Database) -> None:
        with self._lock:
            self._timer = None
        try:
            self.flush(db)
        except StorageError as exc:
            log.warning("pending writes kept, to be tried again: %s", exc)
            with self._lock:
                self._schedule(db, RETRY_AFTER_S)
