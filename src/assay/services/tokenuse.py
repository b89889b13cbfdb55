"""When each API token was last used, written in batches.

Every request with a token would otherwise write its ``last_used_at`` (a write
transaction per request, or per token and minute: under a burst of hundreds of
students, each with their own token, that is one more write per submission).
Uses are noted in memory and written together, one statement for all of them,
once the oldest has waited ``FLUSH_AFTER_S``; reading the tokens (``flush``
first) and closing the platform write what is pending. The time is informative
(which tokens are still in use), so a crash loses at most a few seconds of it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from sqlalchemy import bindparam, update

from assay.storage.db import Database
from assay.storage.models import ApiToken

FLUSH_AFTER_S = 5.0

_WRITE = (
    update(ApiToken)
    .where(ApiToken.id == bindparam("token_id"))
    .values(last_used_at=bindparam("used_at"))
)


class TokenUses:
    """Pending ``last_used_at`` values of this process, by token id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, datetime] = {}
        self._oldest: float | None = None  # monotonic time of the oldest pending use

    def note(self, db: Database, token_id: int, used_at: datetime) -> None:
        """Record a use; writes every pending one if the oldest has waited long enough."""
        with self._lock:
            self._pending[token_id] = used_at
            if self._oldest is None:
                self._oldest = time.monotonic()
            due = time.monotonic() - self._oldest >= FLUSH_AFTER_S
        if due:
            self.flush(db)

    def flush(self, db: Database) -> None:
        """Write every pending use now (one transaction)."""
        with self._lock:
            pending, self._pending, self._oldest = self._pending, {}, None
        if not pending:
            return
        rows = [{"token_id": token_id, "used_at": at} for token_id, at in pending.items()]
        with db.session() as session:
            session.connection().execute(_WRITE, rows)
