"""The database handle: engine, sessions, migrations.

SQLite (the embedded default) runs in WAL mode with a busy timeout so the web
server and worker threads/processes can share one file; PostgreSQL is the
distributed mode. Nothing connects until a ``Database`` is made.

Two kinds of sessions: ``db.session()`` may write (on SQLite it takes the write
lock at BEGIN, see ``_WriterGate``), ``db.reading()`` only reads. On SQLite a
reading session comes from a second pool of connections opened read-only
(``PRAGMA query_only``) that begin a deferred transaction: in WAL mode readers
never wait for the writer nor block it, so status pages, event streams, token
checks and report downloads do not queue behind a burst of submissions. A write
in a reading session fails loudly ("attempt to write a readonly database").
On PostgreSQL both are ordinary sessions of one pool.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DataError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from assay.errors import InvalidRequestError, StorageError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
_REFUSED_VALUE = "a value the database cannot take (a NUL character, or a number out of range)"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


class _WriterGate:
    """Threads of this process queue for SQLite's write lock on a Python lock.

    SQLite's own busy handler makes a waiting writer sleep and retry (up to 100 ms
    between tries), so with a hundred threads writing, the lock is often free while
    every waiter sleeps: writes crawl (a flood of submissions and worker events ran at
    about 20 transactions a second). Here a writer of this process that finishes
    hands the lock to the next one at once. Other processes still meet SQLite's busy
    timeout; so does a writer that waited here longer than it (it then tries anyway).
    (A first-come-first-served lock was tried: it stopped a burst of submissions from
    delaying claims, but made the flood slower overall, ratio 1.52-1.65 against 1.44
    with this lock, now that claims come in batches; see docs/performance.md.)
    """

    KEY = "assay_writer_gate"

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def begin(self, conn: Any) -> None:
        # Take the write lock at BEGIN: two writers then queue instead of one failing
        # with "database is locked" when it upgrades a read transaction.
        held = self._lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        conn.info[self.KEY] = held
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self.end(conn)
            raise

    def end(self, conn: Any) -> None:
        if conn.info.pop(self.KEY, False):
            self._lock.release()

    def checkin(self, _dbapi_connection: Any, record: Any) -> None:
        """A connection back in the pool never keeps the gate (belt and braces)."""
        if record.info.pop(self.KEY, False):
            self._lock.release()


def _sqlite_reader_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves


def _deferred_begin(conn: Any) -> None:
    # A snapshot for the whole session (several SELECTs see one state); takes no lock
    # that a writer waits for (WAL).
    conn.exec_driver_sql("BEGIN")


def _sqlite_path(url: str) -> str:
    return url.split("///", 1)[1] if "///" in url else ""


def make_reader_engine(url: str) -> Engine | None:
    """A read-only pool for an SQLite file (None: read through the main engine)."""
    path = _sqlite_path(url)
    if not url.startswith("sqlite") or not path or path == ":memory:":
        return None
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=16,
        max_overflow=-1,
    )
    event.listen(engine, "connect", _sqlite_reader_pragmas)
    event.listen(engine, "begin", _deferred_begin)
    return engine


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Writers queue on SQLite's own lock (busy_timeout), not on the pool: a worker
        # with many job threads must never fail a write because the pool ran dry.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=16,
            max_overflow=-1,
        )
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves

        gate = _WriterGate()
        event.listen(engine, "begin", gate.begin)
        event.listen(engine, "commit", gate.end)
        event.listen(engine, "rollback", gate.end)
        event.listen(engine, "checkin", gate.checkin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Database:
    """One database: ``with db.session() as s:`` commits on success, rolls back on error."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.reader_engine = make_reader_engine(url)
        self._readers = sessionmaker(self.reader_engine or self.engine, expire_on_commit=False)

    @property
    def session_factory(self) -> sessionmaker[Session]:
        """The factory of writing sessions (for session event listeners)."""
        return self._sessions

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except DataError as exc:
            # The database refused a value the caller gave (PostgreSQL: a NUL character
            # in text, a number out of range): the request's fault, not ours.
            session.rollback()
            raise InvalidRequestError(_REFUSED_VALUE) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session that only reads (see the module docstring); nothing is committed."""
        session = self._readers()
        try:
            yield session
        except DataError as exc:
            raise InvalidRequestError(_REFUSED_VALUE) from exc
        finally:
            # close() ends the transaction and detaches the objects WITHOUT expiring
            # them (a rollback would), so what was read stays usable afterwards.
            session.close()

    def alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["engine"] = self.engine
        return config

    def migrate(self) -> None:
        """Bring the schema to the newest migration (safe to call on every start)."""
        try:
            with self.engine.begin() as connection:
                config = self.alembic_config()
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise StorageError(f"migrating the database failed: {exc}") from exc

    def is_current(self) -> bool:
        """Whether the schema is at the newest migration (for /readyz)."""
        head = ScriptDirectory.from_config(self.alembic_config()).get_current_head()
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        return current == head

    def dispose(self) -> None:
        self.engine.dispose()
        if self.reader_engine is not None:
            self.reader_engine.dispose()
