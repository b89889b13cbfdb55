"""Which failures of the database or the disk mean "cannot store this now".

They become ``StorageUnavailableError`` (503 with ``Retry-After`` in the web layer):
SQLite busy beyond its timeout or locked, a full disk, a read-only database or file
system, a write that the disk refused; PostgreSQL unreachable, out of disk or
connections, read-only (a standby), or a lock or serialization conflict. Anything
else is a bug or a schema problem and is left alone. Messages name the cause only:
no paths, no SQL.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from assay.errors import StorageUnavailableError

BUSY = "the database is busy (another process holds its write lock)"
FULL = "the disk is full"
READ_ONLY = "the database or its disk is read-only"

# sqlite3 errors carry the SQLite result code's name (extended: SQLITE_BUSY_SNAPSHOT)
_SQLITE = {
    "SQLITE_BUSY": BUSY,
    "SQLITE_LOCKED": BUSY,
    "SQLITE_FULL": FULL,
    "SQLITE_READONLY": READ_ONLY,
    "SQLITE_IOERR": "the disk failed a write of the database",
    "SQLITE_CANTOPEN": "the database file cannot be opened",
}
# PostgreSQL SQLSTATEs (or their class, the first two characters)
_POSTGRES = {
    "08": "the database cannot be reached",
    "53": "the database server is out of disk, memory or connections",
    "57P01": "the database server is shutting down",
    "57P02": "the database server is restarting",
    "57P03": "the database server is starting",
    "25006": READ_ONLY,
    "40001": BUSY,
    "40P01": BUSY,
    "55P03": BUSY,
}
_OS = {errno.ENOSPC: FULL, errno.EDQUOT: "the disk quota is used up", errno.EROFS: READ_ONLY}


def cause(exc: BaseException, *, writing: bool = True) -> str | None:
    """Why nothing can be stored now, or None when ``exc`` is not such a failure.

    ``writing`` False: a read-only session, where "read-only" means a write was tried
    where none belongs (a bug), not an unwritable database.
    """
    if isinstance(exc, PoolTimeoutError):
        return "all database connections are in use"
    if isinstance(exc, OSError):
        return _OS.get(exc.errno or 0)
    if not isinstance(exc, DBAPIError):
        return None
    if isinstance(exc.orig, sqlite3.Error):
        return _sqlite_cause(exc.orig, writing=writing)
    state = getattr(exc.orig, "sqlstate", None)
    if isinstance(state, str):
        return _POSTGRES.get(state) or _POSTGRES.get(state[:2])
    # the server never answered (refused, timed out)
    return _POSTGRES["08"] if isinstance(exc, OperationalError) else None


def _sqlite_cause(error: sqlite3.Error, *, writing: bool) -> str | None:
    name = getattr(error, "sqlite_errorname", None) or ""
    text = next((text for prefix, text in _SQLITE.items() if name.startswith(prefix)), None)
    return None if text is READ_ONLY and not writing else text


def unavailable(exc: BaseException, *, writing: bool = True) -> StorageUnavailableError | None:
    """The ``StorageUnavailableError`` for ``exc``, or None (see ``cause``)."""
    reason = cause(exc, writing=writing)
    if reason is None:
        return None
    tail = "nothing was stored; try again in a few seconds" if writing else "try again soon"
    return StorageUnavailableError(f"{reason}: {tail}")


@contextmanager
def disk_writes() -> Iterator[None]:
    """Files written in the block: a full or read-only disk raises
    ``StorageUnavailableError`` (other ``OSError``s pass unchanged)."""
    try:
        yield
    except OSError as exc:
        refused = unavailable(exc)
        if refused is None:
            raise
        raise refused from exc
