"""Recording a run's stages (on SQLite and PostgreSQL): numbered 0, 1, 2, ... with no
gap or repeat under concurrent writers, a worker's stages only while the run is still
running on it, and on PostgreSQL one notification per event at commit."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select, update

from assay.errors import NotFoundError
from assay.grading.stages import Stage
from assay.services import Platform
from assay.services.intake import progress
from assay.storage.models import GradingRun, RunEvent, RunStatus
from assay.storage.pgconn import libpq_url
from platform_helpers import DATABASE_KINDS, platform_on
from worker_helpers import make_course, submit_batch


@pytest.fixture(params=DATABASE_KINDS)
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    with platform_on(request.param, tmp_path) as opened:
        yield opened


def _runs(platform: Platform, count: int) -> list[int]:
    return list(submit_batch(platform, make_course(platform), count))


def _run_on(platform: Platform, run_id: int, worker_id: str | None, status: RunStatus) -> None:
    with platform.db.session() as session:
        session.execute(
            update(GradingRun)
            .where(GradingRun.id == run_id)
            .values(worker_id=worker_id, status=status)
        )


def _stages(platform: Platform, run_id: int) -> list[tuple[int, str, str]]:
    with platform.db.reading() as session:
        rows = session.execute(
            select(RunEvent.seq, RunEvent.stage, RunEvent.detail)
            .where(RunEvent.run_id == run_id)
            .order_by(RunEvent.seq)
        )
        return [(seq, stage, detail) for seq, stage, detail in rows]


def _on(platform: Platform, worker_id: str, run_id: int, detail: str) -> int | None:
    event = progress.NewEvent(run_id, Stage.TESTING, detail, 1, 2)
    with platform.db.session() as session:
        return progress.record_event_on(session, worker_id, event)


def test_a_workers_stage_is_recorded_only_while_the_run_runs_on_it(platform: Platform) -> None:
    (run_id,) = _runs(platform, 1)  # queued: its "queued" event is seq 0
    assert _on(platform, "w1", run_id, "queued, not running") is None
    _run_on(platform, run_id, "w1", RunStatus.RUNNING)
    assert _on(platform, "w1", run_id, "first") == 1
    assert _on(platform, "w2", run_id, "another worker's") is None
    assert _on(platform, "w1", run_id, "second") == 2
    _run_on(platform, run_id, None, RunStatus.QUEUED)  # handed back
    assert _on(platform, "w1", run_id, "after the hand-back") is None
    with platform.db.session() as session:
        assert progress.record_event(session, run_id, Stage.STARTED, "unconditional") == 3
        with pytest.raises(NotFoundError, match="no grading run"):
            progress.record_event(session, run_id + 1000, Stage.STARTED)
    assert _stages(platform, run_id)[1:] == [
        (1, "testing", "first"),
        (2, "testing", "second"),
        (3, "started", "unconditional"),
    ]


def test_concurrent_writers_number_a_runs_events_without_gaps(platform: Platform) -> None:
    run_ids = _runs(platform, 2)
    for run_id in run_ids:
        _run_on(platform, run_id, "w1", RunStatus.RUNNING)

    def write(number: int) -> int | None:
        run_id = run_ids[number % 2]
        if number % 3:
            return _on(platform, "w1", run_id, f"e{number}")
        with platform.db.session() as session:
            return progress.record_event(session, run_id, Stage.SETUP, f"e{number}")

    with ThreadPoolExecutor(6) as pool:
        seqs = list(pool.map(write, range(120)))
    assert None not in seqs
    for run_id in run_ids:
        stages = _stages(platform, run_id)
        assert [seq for seq, _stage, _detail in stages] == list(range(61))
        assert len({detail for _seq, _stage, detail in stages[1:]}) == 60


def test_each_event_is_notified_at_commit_on_postgresql(tmp_path: Path) -> None:
    with platform_on("postgres", tmp_path) as platform:  # SQLite has none: streams poll
        _notified_at_commit(platform)


def _notified_at_commit(platform: Platform) -> None:
    (run_id,) = _runs(platform, 1)
    _run_on(platform, run_id, "w1", RunStatus.RUNNING)
    with psycopg.connect(libpq_url(platform.db.url), autocommit=True) as listener:
        listener.execute(f"LISTEN {progress.NOTIFY_CHANNEL}")
        with platform.db.session() as session:
            progress.record_event(session, run_id, Stage.SETUP)
            session.rollback()  # rolled back: no event, no notification
        assert _on(platform, "w1", run_id, "a") == 1
        assert _on(platform, "w1", run_id, "b") == 2
        heard = [note.payload for note in listener.notifies(timeout=2.0, stop_after=2)]
    assert heard == [f"{run_id}:1", f"{run_id}:2"]


def test_concurrent_batches_of_events_number_each_run_without_gaps(platform: Platform) -> None:
    run_a, run_b = _runs(platform, 2)
    batch = [
        progress.NewEvent(run_a, Stage.STARTED),
        progress.NewEvent(run_b, Stage.STARTED),
        progress.NewEvent(run_a, Stage.SETUP),
    ]

    def write(_number: int) -> list[int]:
        with platform.db.session() as session:
            return progress.record_events(session, batch)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(write, range(40)))
    for seq_a, seq_b, next_a in results:
        assert next_a == seq_a + 1  # one batch's events of a run are consecutive
        assert seq_a >= 1 and seq_b >= 1
    assert [seq for seq, _s, _d in _stages(platform, run_a)] == list(range(81))
    assert [seq for seq, _s, _d in _stages(platform, run_b)] == list(range(41))
    with platform.db.session() as session, pytest.raises(NotFoundError, match="no grading run"):
        progress.record_events(session, [*batch, progress.NewEvent(run_b + 1000, Stage.SETUP)])
