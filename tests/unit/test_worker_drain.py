"""The pool's drain (``WorkerPool.stop``) on the in-memory queue: finish within the
timeout, else hand back (attempt not used, the late finish records nothing), hurry,
no claims once draining, and the sandboxes killed only after the hand-back.

The workers' registry lives in a SQLite file (no server); the jobs in the in-memory
queue, whose hand-back is held to the database queue's by test_queue_contract."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from assay.config import Settings
from assay.queue import ClaimedJob, InMemoryJobQueue
from assay.queue.jobs import HANDED_BACK_ERROR
from assay.sandbox.fake import FakeBackend
from assay.services import Platform
from assay.services.intake import workers
from assay.storage.db import Database
from assay.storage.models import Job, JobKind, JobStatus
from assay.worker.pool import WorkerPool


class Gate:
    """A job handler that waits to be let go, then finishes its job like a real one."""

    def __init__(self, queue: InMemoryJobQueue) -> None:
        self.queue = queue
        self.running = threading.Semaphore(0)
        self.go = threading.Event()
        self.finished: dict[int, bool] = {}  # job id -> what finish said

    def run(self, _platform: Platform, job: ClaimedJob, worker_id: str) -> None:
        self.running.release()
        self.go.wait(10)
        self.finished[job.id] = self.queue.finish(Session(), job.id, worker_id)


class KillRecorder(FakeBackend):
    """The fake sandbox, noting when the pool kills its sandboxes."""

    def __init__(self, queue: InMemoryJobQueue) -> None:
        super().__init__()
        self.queue = queue
        self.kills: list[list[JobStatus]] = []  # the jobs' statuses at each kill

    def kill_own(self) -> list[str]:
        self.kills.append([JobStatus(job.status) for job in self.queue.jobs])
        return []


@pytest.fixture
def setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Platform, InMemoryJobQueue, Gate, KillRecorder]]:
    queue = InMemoryJobQueue(lease_s=30, max_attempts=2)
    db = Database(f"sqlite:///{tmp_path / 'workers.db'}")
    db.migrate()
    backend = KillRecorder(queue)
    settings = Settings(state_dir=tmp_path, worker_poll_s=0.05, worker_heartbeat_s=0.05)
    platform = Platform(settings=settings, db=db, queue=queue, given_backend=backend)
    gate = Gate(queue)
    handlers = workers.Handlers(run=gate.run, fail=lambda _s, _t, _e: None)
    monkeypatch.setitem(workers.HANDLERS, JobKind.EXECUTE, handlers)
    yield platform, queue, gate, backend
    gate.go.set()
    db.dispose()


def enqueue(queue: InMemoryJobQueue, target: int) -> Job:
    return queue.enqueue(Session(), JobKind.EXECUTE, target)[0]


def running_one(
    setup: tuple[Platform, InMemoryJobQueue, Gate, KillRecorder],
    slots: int,
    *,
    owns_sandboxes: bool = False,
) -> tuple[WorkerPool, Job]:
    """A started pool of ``slots`` running one job, held at the gate."""
    platform, queue, gate, _backend = setup
    pool = WorkerPool(platform, slots=slots, owns_sandboxes=owns_sandboxes).start()
    job = enqueue(queue, 1)
    assert gate.running.acquire(timeout=5)
    return pool, job


def test_jobs_that_finish_within_the_timeout_are_recorded_by_their_worker(
    setup: tuple[Platform, InMemoryJobQueue, Gate, KillRecorder],
) -> None:
    platform, queue, gate, backend = setup
    pool = WorkerPool(platform, slots=2, owns_sandboxes=True).start()
    jobs = [enqueue(queue, 1), enqueue(queue, 2)]
    assert gate.running.acquire(timeout=5) and gate.running.acquire(timeout=5)
    threading.Timer(0.3, gate.go.set).start()
    started = time.monotonic()
    assert pool.stop(timeout=10) == []
    assert time.monotonic() - started < 5  # returned once they finished, not at the deadline
    assert gate.finished == {jobs[0].id: True, jobs[1].id: True}
    assert [job.status for job in queue.jobs] == [JobStatus.DONE, JobStatus.DONE]
    assert pool.jobs_done == 2
    assert backend.kills == []  # nothing handed back: nothing killed


def test_jobs_still_running_at_the_deadline_are_handed_back_then_killed(
    setup: tuple[Platform, InMemoryJobQueue, Gate, KillRecorder],
) -> None:
    _, queue, gate, backend = setup
    pool, job = running_one(setup, 2, owns_sandboxes=True)
    started = time.monotonic()
    threading.Timer(1.0, gate.go.set).start()  # the killed run's thread ends later
    assert pool.stop(timeout=0.2) == [job.id]
    assert 0.2 <= time.monotonic() - started < 5
    row = queue.jobs[0]
    assert (row.status, row.attempts, row.worker_id) == (JobStatus.QUEUED, 0, None)
    assert row.error == HANDED_BACK_ERROR
    assert backend.kills and backend.kills[0] == [JobStatus.QUEUED]  # after the hand-back
    assert pool.jobs_done == 0
    deadline = time.monotonic() + 5
    while job.id not in gate.finished and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gate.finished == {job.id: False}  # its late finish recorded nothing
    assert queue.jobs[0].status == JobStatus.QUEUED
    again = queue.claim("another")
    assert again is not None and (again.id, again.attempt) == (job.id, 1)


def test_without_owning_the_sandboxes_it_hands_back_but_kills_nothing(
    setup: tuple[Platform, InMemoryJobQueue, Gate, KillRecorder],
) -> None:
    backend = setup[3]
    pool, job = running_one(setup, 1)
    assert pool.stop(timeout=0.1) == [job.id]
    assert backend.kills == []


def test_hurry_hands_back_without_waiting_for_the_timeout(
    setup: tuple[Platform, InMemoryJobQueue, Gate, KillRecorder],
) -> None:
    pool, job = running_one(setup, 1)
    handed: list[int] = []
    stopping = threading.Thread(target=lambda: handed.extend(pool.stop(timeout=60)))
    stopping.start()
    time.sleep(0.3)
    assert stopping.is_alive()  # still waiting for the job
    started = time.monotonic()
    pool.hurry()
    stopping.join(10)
    assert time.monotonic() - started < 5
    assert handed == [job.id]


def test_a_draining_pool_claims_nothing_more(
    setup: tuple[Platform, InMemoryJobQueue, Gate, KillRecorder],
) -> None:
    _, queue, gate, _ = setup
    pool, first = running_one(setup, 4)
    pool.drain()
    assert pool.draining
    late = enqueue(queue, 2)
    time.sleep(0.3)  # several poll intervals
    assert not gate.running.acquire(timeout=0.1)
    gate.go.set()
    assert pool.stop(timeout=5) == []
    statuses = {job.id: job.status for job in queue.jobs}
    assert statuses == {first.id: JobStatus.DONE, late.id: JobStatus.QUEUED}


def test_a_job_that_finished_first_is_not_handed_back(
    setup: tuple[Platform, InMemoryJobQueue, Gate, KillRecorder],
) -> None:
    """The race at the deadline, the finish first: the hand-back finds nothing."""
    platform, queue, _gate, _backend = setup
    pool = WorkerPool(platform, slots=1)
    job = enqueue(queue, 1)
    (claimed,) = pool._claim(1)
    assert queue.finish(Session(), job.id, pool.worker_id)  # its own finish wins
    assert workers.hand_back(platform, claimed, pool.worker_id) is False
    assert pool._hand_back_running() == []
    assert queue.jobs[0].status == JobStatus.DONE
