"""The worker pool's claiming and retry rules, on the in-memory queue (no database:
the queue's own behaviour is held to the database queue's by test_queue_contract)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from assay.config import Settings
from assay.errors import SandboxError
from assay.queue import InMemoryJobQueue
from assay.services import Platform
from assay.storage.db import Database
from assay.storage.models import JobKind, JobStatus, Lane
from assay.worker.pool import WorkerPool


def make_pool(tmp_path: Path, slots: int) -> tuple[WorkerPool, InMemoryJobQueue]:
    queue = InMemoryJobQueue(lease_s=30, max_attempts=2)
    # the database is never reached: its engine is made, never connected
    db = Database(f"sqlite:///{tmp_path / 'never-opened.db'}")
    platform = Platform(settings=Settings(state_dir=tmp_path), db=db, queue=queue)
    return WorkerPool(platform, slots), queue


def enqueue(queue: InMemoryJobQueue, target: int, lane: Lane = Lane.INTERACTIVE) -> int:
    job, _ = queue.enqueue(Session(), JobKind.EXECUTE, target, lane=lane)
    return job.id


def test_bulk_jobs_never_take_the_last_slot(tmp_path: Path) -> None:
    pool, queue = make_pool(tmp_path, slots=3)
    for target in range(5):
        enqueue(queue, target, Lane.BULK)
    claimed = pool._claim(3)
    assert [job.lane for job in claimed] == [Lane.BULK, Lane.BULK]  # one slot kept free
    assert pool._claim(1) == []  # still only bulk waiting
    enqueue(queue, 99)  # a student's job takes the kept slot at once
    (interactive,) = pool._claim(1)
    assert (interactive.target_id, interactive.lane) == (99, Lane.INTERACTIVE)
    assert sorted(pool.running_job_ids()) == sorted([*(j.id for j in claimed), interactive.id])


def test_a_single_slot_pool_takes_bulk_jobs(tmp_path: Path) -> None:
    pool, queue = make_pool(tmp_path, slots=1)
    enqueue(queue, 1, Lane.BULK)
    assert [job.target_id for job in pool._claim(1)] == [1]


def test_an_infrastructure_failure_gives_the_job_back_for_another_attempt(tmp_path: Path) -> None:
    pool, queue = make_pool(tmp_path, slots=2)
    job_id = enqueue(queue, 7)
    (job,) = pool._claim(1)
    pool._failed(job, SandboxError("the sandbox broke"))
    (row,) = queue.jobs
    assert (row.id, row.status, row.worker_id) == (job_id, JobStatus.QUEUED, None)
    assert row.error.startswith("SandboxError: the sandbox broke")
    (again,) = pool._claim(1)
    assert (again.id, again.attempt) == (job_id, 2)
    assert not (tmp_path / "never-opened.db").exists()
