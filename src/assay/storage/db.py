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

A write that cannot happen now (SQLite busy beyond ``busy_timeout_s``, a full disk,
a read-only database, PostgreSQL unreachable: see ``storage.unavailable``) raises
``StorageUnavailableError`` from ``session()``; its transaction was rolled back, so
nothing of it is stored. ``probe_write`` tries a tiny write transaction (readiness).
Every SQLAlchemy error leaves this module as one of ``assay.errors``' storage errors
(``storage.unavailable.storage_errors``, the one mapping): code above catches those.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from assay.errors import ConfigError, StorageError
from assay.storage.unavailable import driver_reason, storage_errors

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0  # the default of settings.sqlite_busy_timeout_s


def _busy_timeout(dbapi_connection: Any, timeout_s: float) -> None:
    dbapi_connection.execute(f"PRAGMA busy_timeout={max(1, round(timeout_s * 1000))}")


def _sqlite_pragmas(busy_timeout_s: float) -> Any:
    def apply(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        _busy_timeout(dbapi_connection, busy_timeout_s)
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves

    return apply


class _WriterGate:
    """Threads of this process queue for SQLite's write lock on a Python lock.

    SQLite's own busy handler makes a waiting writer sleep and retry (up to 100 ms
    between tries), so with a hundred threads writing, the lock is often free while
    every waiter sleeps: writes crawl (a flood of submissions and worker events ran at
    about 20 transactions a second). Here a writer of this process that finishes
    hands the lock to the next one at once. Other processes still meet SQLite's busy
    timeout, shortened by the time waited here: a writer waits at most the timeout in
    all (then "database is locked": StorageUnavailableError).
    (A first-come-first-served lock was tried: it stopped a burst of submissions from
    delaying claims, but made the flood slower overall, ratio 1.52-1.65 against 1.44
    with this lock, now that claims come in batches; see docs/performance.md.)
    """

    KEY = "assay_writer_gate"
    TIMEOUT_KEY = "assay_writer_gate_timeout_s"  # a shorter wait for one transaction

    def __init__(self, timeout_s: float) -> None:
        self._lock = threading.Lock()
        self.timeout_s = timeout_s

    def begin(self, conn: Any) -> None:
        # Take the write lock at BEGIN: two writers then queue instead of one failing
        # with "database is locked" when it upgrades a read transaction.
        timeout_s = conn.info.get(self.TIMEOUT_KEY, self.timeout_s)
        started = time.monotonic()
        conn.info[self.KEY] = self._lock.acquire(timeout=timeout_s)
        left_s = timeout_s - (time.monotonic() - started)
        shorter = left_s < self.timeout_s - 0.05  # else the connection's own timeout
        dbapi = conn.connection.driver_connection
        try:
            if shorter:
                _busy_timeout(dbapi, max(left_s, 0.001))
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            finally:
                if shorter:
                    _busy_timeout(dbapi, self.timeout_s)
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
    # In WAL mode a reader never waits for a writer; the busy timeout only covers the
    # rare moments a reader must wait (a connection recovering the WAL after a crash).
    _busy_timeout(dbapi_connection, SQLITE_BUSY_TIMEOUT_S)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves


def _deferred_begin(conn: Any) -> None:
    # A snapshot for the whole session (several SELECTs see one state); takes no lock
    # that a writer waits for (WAL).
    conn.exec_driver_sql("BEGIN")


def _sqlite_path(url: str) -> str:
    return url.split("///", 1)[1] if "///" in url else ""


# PostgreSQL connections per process (settings.database_pool_size / _max_overflow)
POOL_SIZE = 10
MAX_OVERFLOW = 20


def make_reader_engine(url: str) -> Engine | None:
    """A read-only pool for an SQLite file (None: read through the main engine)."""
    path = _sqlite_path(url)
    if not url.startswith("sqlite") or not path or path == ":memory:":
        return None
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
        pool_size=16,
        max_overflow=-1,
    )
    event.listen(engine, "connect", _sqlite_reader_pragmas)
    event.listen(engine, "begin", _deferred_begin)
    return engine


def make_engine(
    url: str,
    busy_timeout_s: float = SQLITE_BUSY_TIMEOUT_S,
    *,
    pool_size: int = POOL_SIZE,
    max_overflow: int = MAX_OVERFLOW,
) -> Engine:
    """The writing engine: SQLite with its writer gate, or a PostgreSQL pool of
    ``pool_size`` connections (plus ``max_overflow`` at busy moments)."""
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Writers queue on SQLite's own lock (busy_timeout), not on the pool: a worker
        # with many job threads must never fail a write because the pool ran dry.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_s},
            pool_size=16,
            max_overflow=-1,
        )
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_s))
        gate = _WriterGate(busy_timeout_s)
        event.listen(engine, "begin", gate.begin)
        event.listen(engine, "commit", gate.end)
        event.listen(engine, "rollback", gate.end)
        event.listen(engine, "checkin", gate.checkin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow)


class SchemaState(StrEnum):
    """The database's schema against the migrations this code has."""

    CURRENT = "current"  # at the newest of them
    BEHIND = "behind"  # empty, or at an older one: migrate
    AHEAD = "ahead"  # at one this code does not know: a newer release migrated it


# pg_advisory_xact_lock's key for migrations: "ASSAYMIG" in ASCII, a constant no other
# lock of Assay's uses (one database may hold several applications' advisory locks).
MIGRATION_LOCK = 0x41535341594D4947


def _migration_lock(connection: Connection) -> None:
    """Wait for the migration lock (saying so if another process holds it)."""
    key = {"key": MIGRATION_LOCK}
    if connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), key).scalar():
        return
    log.info("another process is migrating the database; waiting for it")
    started = time.monotonic()
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), key)
    log.info("the other migration ended after %.1f s", time.monotonic() - started)


class Database:
    """One database: ``with db.session() as s:`` commits on success, rolls back on error."""

    def __init__(
        self,
        url: str,
        *,
        busy_timeout_s: float = SQLITE_BUSY_TIMEOUT_S,
        pool_size: int = POOL_SIZE,
        max_overflow: int = MAX_OVERFLOW,
    ) -> None:
        self.url = url
        self.busy_timeout_s = busy_timeout_s
        try:
            self.engine = make_engine(
                url, busy_timeout_s, pool_size=pool_size, max_overflow=max_overflow
            )
            self.reader_engine = make_reader_engine(url)
        except (ArgumentError, ImportError, ValueError) as exc:
            # not parsed, a port that is no number, a driver that is not installed; the
            # URL is not repeated: it may hold a password
            raise ConfigError(f"the database URL cannot be used: {exc}") from exc
        except OSError as exc:  # the SQLite file's directory could not be made
            raise ConfigError(f"the SQLite database's directory cannot be made: {exc}") from exc
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
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
            with storage_errors(what="a write transaction", log_refusals=True):
                try:
                    yield session
                    session.commit()
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
            with storage_errors(writing=False, what="a read"):
                yield session
        finally:
            # close() ends the transaction and detaches the objects WITHOUT expiring
            # them (a rollback would), so what was read stays usable afterwards.
            session.close()

    def alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["engine"] = self.engine
        return config

    def migrate(self) -> tuple[str | None, str | None]:
        """Bring the schema to the newest migration (safe to call on every start); the
        revision found (None: an empty database) and the one it is at now.

        Several servers may start at once: on PostgreSQL the upgrade runs under a
        transaction-level advisory lock (``MIGRATION_LOCK``), so one migrates and the
        others wait, then find the schema current and do nothing; the lock ends with the
        migration's transaction (DDL is transactional there), also when a process dies.
        On SQLite the transaction takes the write lock at BEGIN, which serialises them.
        A database at a migration this code does not know (a newer release made it) is
        left as it is.
        """
        try:
            with self.engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    _migration_lock(connection)
                found = MigrationContext.configure(connection).get_current_revision()
                if found is not None and not self._knows(found):
                    # an old server (re)starting during a rolling upgrade: serve as is
                    log.warning(
                        "the database is at migration %s, newer than this Assay knows "
                        "(a newer release migrated it); not migrating",
                        found,
                    )
                    return found, found
                config = self.alembic_config()
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                now = MigrationContext.configure(connection).get_current_revision()
        except SQLAlchemyError as exc:
            failed = "migrating the database failed"
            raise StorageError(f"{failed}: {exc}", what=failed, reason=driver_reason(exc)) from exc
        return found, now

    def is_current(self) -> bool:
        """Whether this code may use the schema (for /readyz and workers; it only reads,
        so on SQLite it does not wait for the writer): at its newest migration, or at a
        newer one it does not know, made by a newer release during a rolling upgrade
        (migrations only add: docs/deploy.md, Upgrades)."""
        return self.schema_state() is not SchemaState.BEHIND

    def schema_state(self) -> SchemaState:
        current, head = self.revisions()
        if current == head:
            return SchemaState.CURRENT
        if current is not None and not self._knows(current):
            return SchemaState.AHEAD
        return SchemaState.BEHIND

    def _knows(self, revision: str) -> bool:
        try:
            ScriptDirectory.from_config(self.alembic_config()).get_revision(revision)
        except CommandError:
            return False
        return True

    def revisions(self) -> tuple[str | None, str | None]:
        """The database's migration (None: none yet) and the newest this code has."""
        head = ScriptDirectory.from_config(self.alembic_config()).get_current_head()
        with (
            storage_errors(writing=False, what="reading the schema version"),
            (self.reader_engine or self.engine).connect() as connection,
        ):
            current = MigrationContext.configure(connection).get_current_revision()
        return current, head

    def probe_write(self, timeout_s: float) -> None:
        """Commit a tiny write transaction (one row rewritten as it was), waiting at most
        about ``timeout_s`` for the write lock; ``StorageUnavailableError`` if it cannot
        (cheap enough for every readiness check)."""
        touch = text("UPDATE alembic_version SET version_num = version_num")
        ms = max(1, round(timeout_s * 1000))
        with storage_errors(what="a test write"), self.engine.connect() as connection:
            if self.is_sqlite:
                connection.info[_WriterGate.TIMEOUT_KEY] = timeout_s
                try:
                    with connection.begin():
                        connection.execute(touch)
                finally:
                    connection.info.pop(_WriterGate.TIMEOUT_KEY, None)
            else:
                with connection.begin():
                    connection.exec_driver_sql(f"SET LOCAL lock_timeout = {ms}")
                    connection.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")
                    connection.execute(touch)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.reader_engine is not None:
            self.reader_engine.dispose()
