"""WorkerPool in this process: grading for real (native sandbox), events, retries, failures."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from assay.config import Settings
from assay.errors import SandboxError
from assay.grading.submission import load_submission
from assay.queue import ClaimedJob
from assay.services import Actor, Platform
from assay.services.catalog import courses
from assay.services.identity import accounts
from assay.services.intake import runs, submissions, workers
from assay.storage.models import (
    GradingRun,
    Job,
    JobKind,
    JobStatus,
    Lane,
    Role,
    RunEvent,
    RunStatus,
    Worker,
    WorkerState,
)
from assay.worker.pool import WorkerPool, auto_slots
from helpers import require_backend
from platform_helpers import DATABASE_KINDS, database_url, open_platform, settings_for
from worker_helpers import (
    KINDS,
    assert_exactly_once,
    make_course,
    run_statuses,
    submit_batch,
    wait_finished,
)

BROKEN_CALLS: list[int] = []


def broken_handler(_platform: Platform, job: ClaimedJob, _worker_id: str) -> None:
    BROKEN_CALLS.append(job.attempt)
    raise SandboxError("the sandbox is broken")


@pytest.fixture(params=DATABASE_KINDS)
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    require_backend("native", "python3")
    with database_url(request.param, tmp_path) as url:
        settings = settings_for(url, tmp_path / "state", worker_poll_s=0.2)
        platform = open_platform(settings)
        yield platform
        platform.close()


def test_a_pool_grades_a_batch_once_each_with_events(platform: Platform) -> None:
    course = make_course(platform)
    expected = submit_batch(platform, course, 6)
    with WorkerPool(platform, slots=2) as pool:
        wait_finished(platform, list(expected), timeout_s=60)
        worker_id = pool.worker_id
    figures = assert_exactly_once(platform, expected)
    assert figures["retried"] == 0
    with platform.db.session() as session:
        run_id = next(iter(expected))
        stages = list(
            session.scalars(
                select(RunEvent.stage).where(RunEvent.run_id == run_id).order_by(RunEvent.seq)
            )
        )
        worker = session.get(Worker, worker_id)
        assert worker is not None
        assert worker.state == WorkerState.STOPPED
        assert worker.jobs_done == len(expected)
    assert stages[:2] == ["queued", "started"]
    assert "setup" in stages  # python-io has no build step
    assert stages.count("testing") == 10  # python-io has ten tests, one event each
    assert stages[-1] == "done"


def test_submitting_wakes_an_idle_pool_at_once(platform: Platform) -> None:
    """Embedded mode: the commit notifies the pool; it does not wait for a poll."""
    settings = platform.settings.model_copy(update={"worker_poll_s": 30.0})
    slow_poll = Platform(
        settings=settings, db=platform.db, queue=platform.queue, given_backend=platform.backend
    )
    course = make_course(slow_poll)
    with WorkerPool(slow_poll, slots=1):
        time.sleep(0.5)  # the slot is idle, waiting up to 30 s
        started = time.monotonic()
        expected = submit_batch(slow_poll, course, 1)
        wait_finished(slow_poll, list(expected), timeout_s=20)
        assert time.monotonic() - started < 10


def test_a_failing_handler_is_retried_then_recorded_as_error(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    course = make_course(platform)
    expected = submit_batch(platform, course, 1)
    (run_id,) = expected
    BROKEN_CALLS.clear()
    grade = workers.HANDLERS[JobKind.GRADE]
    broken = workers.Handlers(run=broken_handler, fail=grade.fail)
    monkeypatch.setitem(workers.HANDLERS, JobKind.GRADE, broken)
    with WorkerPool(platform, slots=1):
        wait_finished(platform, [run_id], timeout_s=20)
    assert BROKEN_CALLS == [1, 2, 3]  # job_max_attempts
    with platform.db.session() as session:
        run = session.get(GradingRun, run_id)
        job = session.scalar(select(Job).where(Job.target_id == run_id))
        stages = list(
            session.scalars(
                select(RunEvent.stage).where(RunEvent.run_id == run_id).order_by(RunEvent.seq)
            )
        )
    assert run is not None and job is not None
    assert run.status == RunStatus.ERROR
    assert "the sandbox is broken" in run.error  # staff-only text
    assert run.score is None
    assert job.status == JobStatus.FAILED and job.attempts == 3
    assert stages == ["queued", "error"]
    with platform.db.session() as session:
        detail = session.scalar(
            select(RunEvent.detail).where(RunEvent.run_id == run_id, RunEvent.stage == "error")
        )
    assert detail == runs.STUDENT_ERROR  # students are not shown our internals


def test_a_cancelled_run_is_not_graded(platform: Platform) -> None:
    """A resubmission cancels the queued older run; the worker skips it."""
    course = make_course(platform)
    admin = Actor.system()
    user = accounts.create_user(platform, admin, "twice", None)
    courses.enroll(platform, admin, course.course_id, "twice", Role.STUDENT)
    student = Actor(user_id=user.id, username="twice")
    files = load_submission(KINDS["wrong-answer"][0])
    first = submissions.submit(platform, student, course.assignment_id, files)
    second = submissions.submit(platform, student, course.assignment_id, files)
    with WorkerPool(platform, slots=1):
        wait_finished(platform, [second.run_id], timeout_s=30)
    statuses = run_statuses(platform, [first.run_id, second.run_id])
    assert statuses == {first.run_id: RunStatus.CANCELLED, second.run_id: RunStatus.GRADED}
    with platform.db.session() as session:
        jobs = list(session.scalars(select(Job).order_by(Job.id)))
    assert [job.status for job in jobs] == [JobStatus.CANCELLED, JobStatus.DONE]
    assert jobs[0].attempts == 0  # never claimed


def test_auto_slots_scale_with_cores_and_the_cpu_scheduler() -> None:
    cores = os.cpu_count() or 1
    scheduled = Settings(grading_backend="native", native_cpu_scheduling=True)
    unscheduled = Settings(grading_backend="native", native_cpu_scheduling=False)
    assert auto_slots(scheduled, memory_bytes=1 << 30) == max(2, 64 * cores)
    # Frozen jobs wait in slots, not in the queue: as many as memory allows, bounded.
    assert auto_slots(scheduled, memory_bytes=24 << 30) == max(768, 64 * cores)
    assert auto_slots(scheduled, memory_bytes=1 << 40) == max(1024, 64 * cores)
    assert auto_slots(unscheduled) == max(2, 2 * cores)
    assert auto_slots(Settings(grading_backend="docker")) == max(2, 2 * cores)


def test_an_idle_pool_with_many_slots_claims_once_per_poll(platform: Platform) -> None:
    """One dispatcher claims for all slots: no thread per idle slot, no claim storm."""
    before = threading.active_count()
    claims = 0
    original = platform.queue.claim_many

    def counting_claim(worker_id: str, limit: int, **options: Any) -> list[ClaimedJob]:
        nonlocal claims
        claims += 1
        return original(worker_id, limit, **options)

    platform.queue.claim_many = counting_claim  # type: ignore[method-assign]
    with WorkerPool(platform, slots=200):
        time.sleep(1.0)
        assert threading.active_count() - before <= 4  # dispatcher, heartbeat, watchdog
    poll_s = platform.settings.worker_poll_s
    assert 1 <= claims <= 2 + 1.0 / poll_s


def test_bulk_jobs_never_take_the_last_slot(platform: Platform) -> None:
    pool = WorkerPool(platform, slots=2)  # not started: claims are driven by hand
    with platform.db.session() as session:
        for target in (1, 2):  # EXECUTE: no start step, so the targets need not exist
            platform.queue.enqueue(session, JobKind.EXECUTE, target, lane=Lane.BULK)
    first = pool._claim(2)  # two free slots, but only one may go to bulk
    assert [job.lane for job in first] == [Lane.BULK]
    assert pool._claim(1) == []  # a bulk job waits, but the last slot stays interactive
    with platform.db.session() as session:
        platform.queue.enqueue(session, JobKind.EXECUTE, 3)
    second = pool._claim(1)
    assert [job.lane for job in second] == [Lane.INTERACTIVE]
