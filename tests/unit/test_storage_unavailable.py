"""Which database and disk failures are "cannot store now" (503), and which are bugs."""

from __future__ import annotations

import errno
import sqlite3

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from assay.errors import StorageUnavailableError
from assay.storage.unavailable import cause, disk_writes, unavailable


class FakePostgresError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("server said no")
        self.sqlstate = sqlstate


def sqlite_error(name: str) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("from SQLite")
    error.sqlite_errorname = name  # set by sqlite3 itself on a real error
    return error


@pytest.mark.parametrize(
    ("original", "words"),
    [
        (sqlite_error("SQLITE_BUSY"), "busy"),
        (sqlite_error("SQLITE_BUSY_SNAPSHOT"), "busy"),
        (sqlite_error("SQLITE_LOCKED"), "busy"),
        (sqlite_error("SQLITE_FULL"), "disk is full"),
        (sqlite_error("SQLITE_READONLY_DBMOVED"), "read-only"),
        (sqlite_error("SQLITE_IOERR_WRITE"), "failed a write"),
        (FakePostgresError("53100"), "out of disk"),
        (FakePostgresError("08006"), "cannot be reached"),
        (FakePostgresError("25006"), "read-only"),
        (FakePostgresError("40P01"), "busy"),
        (FakePostgresError("57P03"), "starting"),
        (FakePostgresError(None), "cannot be reached"),  # no answer from the server
    ],
)
def test_database_failures_that_mean_try_again(original: Exception, words: str) -> None:
    refused = unavailable(OperationalError("SQL", {}, original))
    assert isinstance(refused, StorageUnavailableError)
    assert words in refused.message and "nothing was stored" in refused.message
    assert "SQL" not in refused.message and refused.retry_after_s > 0


def test_bugs_and_refused_values_are_not_unavailability() -> None:
    assert cause(IntegrityError("SQL", {}, FakePostgresError("23505"))) is None
    assert cause(OperationalError("SQL", {}, sqlite_error("SQLITE_ERROR"))) is None
    assert cause(ValueError("no")) is None
    # a write in a read-only session is a bug there, not a read-only database
    readonly = OperationalError("SQL", {}, sqlite_error("SQLITE_READONLY"))
    assert cause(readonly, writing=False) is None
    assert cause(readonly) is not None


def test_pool_exhaustion_and_disks() -> None:
    assert cause(PoolTimeoutError()) == "all database connections are in use"
    assert cause(OSError(errno.ENOSPC, "No space left on device")) == "the disk is full"
    assert "read-only" in (cause(OSError(errno.EROFS, "Read-only file system")) or "")
    assert cause(OSError(errno.ENOENT, "No such file")) is None
    with pytest.raises(StorageUnavailableError, match="disk is full"), disk_writes():
        raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(FileNotFoundError), disk_writes():
        raise FileNotFoundError(errno.ENOENT, "No such file")
