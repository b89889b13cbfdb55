"""Several processes migrating one PostgreSQL database at once take turns.

``assay serve`` migrates at start and ``assay db migrate`` does it as an upgrade step;
when several start together (a rollout of API servers), the upgrade runs under an
advisory lock: one migrates, the others wait and then find the schema current.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from assay.storage.db import MIGRATION_LOCK, Database, SchemaState
from platform_helpers import database_url

ASSAY = Path(sys.executable).with_name("assay")


def start_migrate(url: str, state: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    env |= {"ASSAY_DATABASE_URL": url, "ASSAY_STATE_DIR": str(state)}
    return subprocess.Popen(
        [str(ASSAY), "--verbose", "db", "migrate"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(processes: list[subprocess.Popen[str]]) -> list[str]:
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, f"{out}\n{err}"
        outputs.append(out + err)
    return outputs


def waiting_for_advisory_locks(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = "
                    "current_database())"
                )
            ).scalar_one()
        )


def test_servers_starting_together_wait_for_one_migration(tmp_path: Path) -> None:
    with database_url("postgresql", tmp_path) as url:
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as holder:
                # This test plays the process that is migrating: it holds the lock.
                holder.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
                processes = [start_migrate(url, tmp_path / f"s{i}") for i in range(2)]
                deadline = time.monotonic() + 60
                while waiting_for_advisory_locks(engine) < 2:
                    assert all(p.poll() is None for p in processes), "one did not wait"
                    assert time.monotonic() < deadline, "they did not wait for the lock"
                    time.sleep(0.1)
                time.sleep(0.5)
                assert all(p.poll() is None for p in processes)
                assert not sa.inspect(engine).has_table("alembic_version")
                holder.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
            outputs = finish(processes)
        finally:
            engine.dispose()
        assert all("another process is migrating the database" in out for out in outputs)
        migrated = [out for out in outputs if "migrated the schema from revision none" in out]
        current = [out for out in outputs if "the schema was current already" in out]
        assert (len(migrated), len(current)) == (1, 1), outputs
        db = Database(url)
        try:
            assert db.is_current()
        finally:
            db.dispose()


@pytest.mark.parametrize("count", [2])
def test_processes_racing_on_a_fresh_database_all_succeed(tmp_path: Path, count: int) -> None:
    with database_url("postgresql", tmp_path) as url:
        processes = [start_migrate(url, tmp_path / f"s{i}") for i in range(count)]
        outputs = finish(processes)
        migrated = [out for out in outputs if "migrated the schema from revision none" in out]
        assert len(migrated) == 1, outputs
        db = Database(url)
        try:
            current, head = db.revisions()
            assert current == head
        finally:
            db.dispose()


def test_an_older_release_leaves_a_newer_schema_alone(tmp_path: Path) -> None:
    """During a rolling upgrade the new release migrates first; old servers and workers
    (re)starting meanwhile use the schema as it is (migrations only add)."""
    db = Database(f"sqlite:///{tmp_path / 'assay.db'}")
    try:
        assert db.schema_state() is SchemaState.BEHIND  # empty
        assert not db.is_current()
        found, now = db.migrate()
        assert found is None
        assert db.schema_state() is SchemaState.CURRENT
        _, head = db.revisions()
        assert now == head
        with db.session() as session:
            session.execute(sa.text("UPDATE alembic_version SET version_num = '9999_newer'"))
        assert db.schema_state() is SchemaState.AHEAD
        assert db.is_current()  # workers and /readyz go on
        assert db.migrate() == ("9999_newer", "9999_newer")  # and nothing is touched
        with db.session() as session:
            session.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
        assert db.schema_state() is SchemaState.BEHIND
        assert not db.is_current()
    finally:
        db.dispose()
