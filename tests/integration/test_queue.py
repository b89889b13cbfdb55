"""The durable queue on SQLite and PostgreSQL: order, lanes, fairness, leases, ownership."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.queue import ClaimedJob, JobQueue
from assay.storage.db import Database
from assay.storage.models import Job, JobKind, JobStatus, Lane, utcnow
from platform_helpers import DATABASE_KINDS, database_url


@pytest.fixture(params=DATABASE_KINDS)
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobQueue]:
    with database_url(request.param, tmp_path) as url:
        db = Database(url)
        db.migrate()
        yield JobQueue(db, lease_s=30, max_attempts=2)
        db.dispose()


def add(
    queue: JobQueue,
    target: int,
    *,
    lane: Lane = Lane.INTERACTIVE,
    course: int | None = 1,
    key: str | None = None,
) -> tuple[int, list[int]]:
    with queue.db.session() as session:
        job, cancelled = queue.enqueue(
            session, JobKind.GRADE, target, lane=lane, course_id=course, dedupe_key=key
        )
        return job.id, cancelled


def job(queue: JobQueue, job_id: int) -> Job:
    with queue.db.session() as session:
        row = session.get(Job, job_id)
        assert row is not None
        return row


def test_interactive_before_bulk_and_oldest_first(queue: JobQueue) -> None:
    add(queue, 1, lane=Lane.BULK)
    add(queue, 2)
    add(queue, 3)
    add(queue, 4, lane=Lane.BULK)
    order = []
    while (claimed := queue.claim("w")) is not None:
        order.append(claimed.target_id)
    assert order == [2, 3, 1, 4]


def test_a_claim_without_bulk_never_takes_a_bulk_job(queue: JobQueue) -> None:
    add(queue, 1, lane=Lane.BULK)
    assert queue.claim("w", allow_bulk=False) is None
    claimed = queue.claim("w", allow_bulk=True)
    assert claimed is not None and claimed.lane is Lane.BULK


def test_the_course_with_fewer_running_jobs_goes_first(queue: JobQueue) -> None:
    add(queue, 1, course=1)
    add(queue, 2, course=1)  # older than course 2's job
    add(queue, 3, course=2)
    first = queue.claim("w")
    assert first is not None and first.target_id == 1  # course 1 now has one running
    second = queue.claim("w")
    assert second is not None and second.target_id == 3  # course 2 has none: it goes first
    third = queue.claim("w")
    assert third is not None and third.target_id == 2


def test_a_resubmission_cancels_only_the_queued_older_job(queue: JobQueue) -> None:
    running, _ = add(queue, 1, key="a:7")
    assert queue.claim("w") is not None
    old, cancelled = add(queue, 2, key="a:7")
    assert cancelled == []  # a running job is not cancelled
    _new, cancelled = add(queue, 3, key="a:7")
    assert cancelled == [2]
    assert job(queue, old).status == JobStatus.CANCELLED
    assert job(queue, running).status == JobStatus.RUNNING
    _other, cancelled = add(queue, 4, key="a:8")  # another student: untouched
    assert cancelled == []
    claimed = queue.claim("w")
    assert claimed is not None and claimed.target_id == 3


def test_an_expired_lease_requeues_and_the_old_owner_cannot_finish(queue: JobQueue) -> None:
    job_id, _ = add(queue, 1)
    first = queue.claim("dead")
    assert first is not None and first.attempt == 1
    assert queue.requeue_expired() == []  # lease still valid
    later = utcnow() + timedelta(seconds=31)
    assert queue.requeue_expired(now=later) == [job_id]
    assert queue.requeue_expired(now=later) == []  # once
    second = queue.claim("alive")
    assert second is not None and second.id == job_id and second.attempt == 2
    with queue.db.session() as session:
        assert queue.finish(session, job_id, "dead") is False  # not its job any more
    with queue.db.session() as session:
        assert queue.finish(session, job_id, "alive") is True
    with queue.db.session() as session:
        assert queue.finish(session, job_id, "alive") is False  # finished once
    assert job(queue, job_id).status == JobStatus.DONE


def test_an_expired_job_out_of_attempts_is_left_to_be_failed(queue: JobQueue) -> None:
    job_id, _ = add(queue, 1)
    later = utcnow() + timedelta(seconds=31)
    assert queue.claim("a") is not None
    queue.requeue_expired(now=later)
    assert queue.claim("b") is not None  # attempt 2 of 2
    assert queue.requeue_expired(now=later + timedelta(seconds=31)) == []
    with queue.db.session() as session:
        expired = queue.expired_out_of_attempts(session, now=later + timedelta(seconds=31))
        assert [j.id for j in expired] == [job_id]


def test_heartbeats_extend_only_their_own_leases(queue: JobQueue) -> None:
    job_id, _ = add(queue, 1)
    assert queue.claim("a") is not None
    before = job(queue, job_id).lease_expires_at
    time.sleep(0.05)
    queue.extend_leases("b", [job_id])
    assert job(queue, job_id).lease_expires_at == before
    queue.extend_leases("a", [job_id])
    after = job(queue, job_id).lease_expires_at
    assert before is not None and after is not None and after > before


def test_release_retries_until_out_of_attempts(queue: JobQueue) -> None:
    job_id, _ = add(queue, 1)
    assert queue.claim("w") is not None
    assert queue.release(job_id, "other", error="x") is False  # not its job
    assert queue.release(job_id, "w", error="sandbox broke") is True
    assert job(queue, job_id).status == JobStatus.QUEUED
    assert queue.claim("w") is not None
    assert queue.release(job_id, "w", error="again") is False  # attempt 2 of 2
    assert job(queue, job_id).status == JobStatus.RUNNING


@pytest.mark.parametrize("batch", [1, 8])
def test_concurrent_claims_hand_each_job_out_once(queue: JobQueue, batch: int) -> None:
    """Workers claiming one job or up to 8 at once from several courses (and jobs
    without one): every job ends claimed by exactly one of them, and nothing is left
    running that no claim returned (a claim reads its candidates under SKIP LOCKED,
    then takes exactly those)."""
    for target in range(120):
        add(queue, target, course=None if target % 5 == 0 else target % 4)
    claimed: list[int] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while got := queue.claim_many(name, batch):
            with lock:
                claimed.extend(job.id for job in got)

    threads = [threading.Thread(target=claimer, args=(f"w{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 120
    with queue.db.session() as session:
        assert set(session.scalars(select(Job.status))) == {JobStatus.RUNNING}


def test_a_committed_enqueue_wakes_waiting_workers(queue: JobQueue) -> None:
    seen = queue.generation()
    woke: list[float] = []

    def waiter() -> None:
        started = time.monotonic()
        queue.wait(seen, timeout_s=20)
        woke.append(time.monotonic() - started)

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.1)
    with queue.db.session() as session:
        queue.enqueue(session, JobKind.GRADE, 1)
        session.flush()
        time.sleep(0.2)
        assert not woke  # not before the commit
    thread.join(5)
    assert woke and woke[0] < 5


def test_claim_many_takes_a_batch_in_one_transaction_with_its_hook(queue: JobQueue) -> None:
    for target in range(1, 6):
        add(queue, target, course=target % 2)
    add(queue, 100, lane=Lane.BULK)
    add(queue, 101, lane=Lane.BULK)
    seen: list[list[int]] = []

    def hook(session: Session, jobs: list[ClaimedJob]) -> list[ClaimedJob]:
        # inside the claiming transaction: the jobs are already running in it
        running = session.scalars(select(Job.target_id).where(Job.status == JobStatus.RUNNING))
        seen.append(sorted(running))
        return [job for job in jobs if job.target_id != 3]  # the hook may drop a job

    claimed = queue.claim_many("w", 10, bulk_limit=1, on_claimed=hook)
    assert seen == [[1, 2, 3, 4, 5, 100]]
    assert [job.lane for job in claimed].count(Lane.BULK) == 1  # bulk_limit
    assert sorted(job.target_id for job in claimed) == [1, 2, 4, 5, 100]
    # interactive first; fairness alternates the two courses (fewest running first)
    courses = [job.target_id % 2 for job in claimed if job.lane is Lane.INTERACTIVE]
    assert courses[:2] in ([0, 1], [1, 0])
    assert queue.claim_many("w", 10, bulk_limit=0) == []  # only bulk left, none allowed
    assert [job.target_id for job in queue.claim_many("w", 10)] == [101]


def test_a_failing_claim_hook_claims_nothing(queue: JobQueue) -> None:
    add(queue, 1)

    def hook(_session: Session, _jobs: list[ClaimedJob]) -> list[ClaimedJob]:
        raise RuntimeError("start step failed")

    with pytest.raises(RuntimeError):
        queue.claim_many("w", 4, on_claimed=hook)
    with queue.db.reading() as session:
        assert session.scalar(select(Job.status)) == JobStatus.QUEUED
