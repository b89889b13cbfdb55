"""The database handle: reading sessions and the SQLite writer gate."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from assay.storage.db import Database, _FairLock
from assay.storage.models import Course


def test_the_writer_gate_serves_waiters_in_arrival_order() -> None:
    lock = _FairLock()
    assert lock.acquire(timeout=1)
    order: list[int] = []
    threads = []

    def take(n: int) -> None:
        assert lock.acquire(10)
        order.append(n)

    for n in range(8):
        thread = threading.Thread(target=take, args=(n,))
        thread.start()
        threads.append(thread)
        time.sleep(0.02)  # each queued before the next comes
    for _ in range(8):
        lock.release()
        time.sleep(0.02)
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == list(range(8))
    assert lock.acquire(timeout=0.1)  # free again once all are done


def test_a_waiter_that_times_out_leaves_the_queue() -> None:
    lock = _FairLock()
    assert lock.acquire(timeout=1)
    assert lock.acquire(timeout=0.05) is False
    lock.release()
    assert lock.acquire(timeout=0.05)  # nobody stale in the queue holds it


def test_sqlite_reading_sessions_see_commits_and_cannot_write(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'assay.db'}")
    db.migrate()
    try:
        with db.session() as session:
            session.add(Course(code="cs1", name="One"))
        with db.reading() as session:
            assert session.scalar(select(Course.code)) == "cs1"
            session.add(Course(code="cs2", name="Two"))
            with pytest.raises(OperationalError, match="readonly"):
                session.flush()
        with db.reading() as session:
            assert session.scalars(select(Course.code)).all() == ["cs1"]
    finally:
        db.dispose()


def test_a_reader_is_not_blocked_by_an_open_write_transaction(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'assay.db'}")
    db.migrate()
    try:
        with db.session() as writer:
            writer.add(Course(code="cs1", name="One"))
            writer.flush()  # the write lock is held until the commit
            started = time.monotonic()
            with db.reading() as reader:
                assert reader.scalars(select(Course.code)).all() == []  # not committed yet
            assert time.monotonic() - started < 1.0
    finally:
        db.dispose()
