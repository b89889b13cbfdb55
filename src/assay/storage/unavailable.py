"""Foreign failures of the database and the disk as Assay's storage errors.

``storage_errors()`` is the one place where they are mapped (``Database``'s sessions,
its schema and write probes, and blob writes to disk go through it), so code above
storage catches ``assay.errors`` only:

- a value the database refused (``DataError``: a NUL character, a number out of
  range) is the request's fault: ``InvalidRequestError``;
- "cannot store this now" becomes ``StorageUnavailableError`` (see below);
- any other SQLAlchemy error is ``StorageError`` (a bug or a schema problem; the
  original is its ``__cause__``);
- any other ``OSError`` passes unchanged (not the storage's).

"Cannot store this now" (``StorageUnavailableError``, 503 with ``Retry-After`` in the
web layer): SQLite busy beyond its timeout or locked, a full disk, a read-only database or file
system, a write that the disk refused; PostgreSQL unreachable, out of disk or
connections, read-only (a standby), or a lock or serialization conflict. Their
messages name the cause only: no paths, no SQL.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DataError, DBAPIError, OperationalError, SQLAlchemyError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from assay.errors import AssayError, InvalidRequestError, StorageError, StorageUnavailableError

log = logging.getLogger(__name__)

BUSY = "the database is busy (another process holds its write lock)"
FULL = "the disk is full"
READ_ONLY = "the database or its disk is read-only"
REFUSED_VALUE = "a value the database cannot take (a NUL character, or a number out of range)"

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


def driver_reason(exc: BaseException) -> str | None:
    """The database driver's own reason for ``exc`` on one line (without SQLAlchemy's
    SQL and link), or None when no driver exception is behind it."""
    if not isinstance(exc, StatementError) or exc.orig is None:
        return None
    return " ".join(str(exc.orig).split())


def unavailable(exc: BaseException, *, writing: bool = True) -> StorageUnavailableError | None:
    """The ``StorageUnavailableError`` for ``exc``, or None (see ``cause``)."""
    why = cause(exc, writing=writing)
    if why is None:
        return None
    tail = "nothing was stored; try again in a few seconds" if writing else "try again soon"
    return StorageUnavailableError(f"{why}: {tail}", what=why, reason=driver_reason(exc))


def translate(
    exc: BaseException, *, writing: bool = True, what: str = "a database operation"
) -> AssayError | None:
    """Assay's exception for ``exc`` met at the storage boundary, or None for one that
    is not the storage's (an ``OSError`` other than a full or read-only disk)."""
    if isinstance(exc, DataError):
        return InvalidRequestError(REFUSED_VALUE)
    refused = unavailable(exc, writing=writing)
    if refused is not None:
        return refused
    if isinstance(exc, SQLAlchemyError):
        failed = f"{what} failed"
        return StorageError(f"{failed}: {exc}", what=failed, reason=driver_reason(exc))
    return None


@contextmanager
def storage_errors(
    *, writing: bool = True, what: str = "a database operation", log_refusals: bool = False
) -> Iterator[None]:
    """SQLAlchemy's and the disk's exceptions raised in the block, as Assay's (see the
    module docstring). ``writing`` False: a read-only session (see ``cause``);
    ``log_refusals``: log a ``StorageUnavailableError`` as a warning when it is made."""
    try:
        yield
    except (SQLAlchemyError, OSError) as exc:
        mapped = translate(exc, writing=writing, what=what)
        if mapped is None:
            raise
        if log_refusals and isinstance(mapped, StorageUnavailableError):
            log.warning("%s failed: %s", what, mapped.message)
        raise mapped from exc


@contextmanager
def disk_writes() -> Iterator[None]:
    """Files written in the block: a full or read-only disk raises
    ``StorageUnavailableError`` (other ``OSError``s pass unchanged)."""
    with storage_errors(what="a write to disk"):
        yield
