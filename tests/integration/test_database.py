"""The database handle: reading sessions on SQLite."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from assay.storage.db import Database
from assay.storage.models import Course


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
