"""One contract for both job queues: the database's (SQLite, PostgreSQL) and the
in-memory one that unit tests of the queue's users run on. The same assertions run
against each, so the in-memory queue cannot drift from the real one.

(The database queue's own concerns, concurrent claims across connections and the
wake-up only after the producer's commit, stay in test_queue.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from assay.queue import ClaimedJob, InMemoryJobQueue, JobQueue, JobQueueProtocol
from assay.storage.db import Database
from assay.storage.models import Job, JobKind, JobStatus, Lane, utcnow
from platform_helpers import DATABASE_KINDS, database_url

LEASE_S = 30


class Subject:
    """A queue under test, with a transaction and a look at a job for the assertions."""

    def __init__(self, queue: JobQueueProtocol, db: Database | None = None) -> None:
        self.queue = queue
        self.db = db

    def transaction(self) -> AbstractContextManager[Session]:
        return self.db.session() if self.db is not None else nullcontext(Session())

    def job(self, job_id: int) -> Job:
        if self.db is not None:
            with self.db.session() as session:
                row = session.get(Job, job_id)
        else:
            assert isinstance(self.queue, InMemoryJobQueue)
            row = next((j for j in self.queue.jobs if j.id == job_id), None)
        assert row is not None
        return row

    def add(
        self,
        target: int,
        *,
        lane: Lane = Lane.INTERACTIVE,
        course: int | None = 1,
        key: str | None = None,
    ) -> tuple[int, list[int]]:
        with self.transaction() as session:
            job, cancelled = self.queue.enqueue(
                session, JobKind.GRADE, target, lane=lane, course_id=course, dedupe_key=key
            )
            return job.id, cancelled


@contextmanager
def _subject(kind: str, tmp_path: Path) -> Iterator[Subject]:
    if kind == "memory":
        yield Subject(InMemoryJobQueue(lease_s=LEASE_S, max_attempts=2))
        return
    with database_url(kind, tmp_path) as url:
        db = Database(url)
        db.migrate()
        try:
            yield Subject(JobQueue(db, lease_s=LEASE_S, max_attempts=2), db)
        finally:
            db.dispose()


@pytest.fixture(params=("memory", *DATABASE_KINDS))
def q(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    with _subject(request.param, tmp_path) as subject:
        yield subject


def test_interactive_before_bulk_and_oldest_first(q: Subject) -> None:
    q.add(1, lane=Lane.BULK)
    q.add(2)
    q.add(3)
    q.add(4, lane=Lane.BULK)
    order = []
    while (claimed := q.queue.claim("w")) is not None:
        order.append(claimed.target_id)
    assert order == [2, 3, 1, 4]


def test_a_claim_without_bulk_never_takes_a_bulk_job(q: Subject) -> None:
    q.add(1, lane=Lane.BULK)
    assert q.queue.claim("w", allow_bulk=False) is None
    claimed = q.queue.claim("w", allow_bulk=True)
    assert claimed is not None and claimed.lane is Lane.BULK


def test_the_course_with_fewer_running_jobs_goes_first(q: Subject) -> None:
    q.add(1, course=1)
    q.add(2, course=1)
    q.add(3, course=2)
    targets = [c.target_id for c in iter(lambda: q.queue.claim("w"), None)]
    assert targets == [1, 3, 2]


def test_a_resubmission_cancels_only_the_queued_older_job(q: Subject) -> None:
    running, _ = q.add(1, key="a:7")
    assert q.queue.claim("w") is not None
    old, cancelled = q.add(2, key="a:7")
    assert cancelled == []
    _new, cancelled = q.add(3, key="a:7")
    assert cancelled == [2]
    assert q.job(old).status == JobStatus.CANCELLED
    assert q.job(running).status == JobStatus.RUNNING
    assert q.add(4, key="a:8")[1] == []
    claimed = q.queue.claim("w")
    assert claimed is not None and claimed.target_id == 3


def test_lease_expiry_requeues_once_and_only_the_new_owner_finishes(q: Subject) -> None:
    job_id, _ = q.add(1)
    first = q.queue.claim("dead")
    assert first is not None and first.attempt == 1 and first.max_attempts == 2
    assert q.queue.requeue_expired() == []
    later = utcnow() + timedelta(seconds=LEASE_S + 1)
    assert q.queue.requeue_expired(now=later) == [job_id]
    assert q.queue.requeue_expired(now=later) == []
    assert q.job(job_id).status == JobStatus.QUEUED
    assert q.job(job_id).error == "worker lost (lease expired); re-queued"
    second = q.queue.claim("alive")
    assert second is not None and second.id == job_id and second.attempt == 2
    with q.transaction() as session:
        assert q.queue.finish(session, job_id, "dead") is False
    with q.transaction() as session:
        assert q.queue.finish(session, job_id, "alive") is True
    with q.transaction() as session:
        assert q.queue.finish(session, job_id, "alive") is False
    assert q.job(job_id).status == JobStatus.DONE


def test_finish_with_an_error_fails_the_job(q: Subject) -> None:
    job_id, _ = q.add(1)
    assert q.queue.claim("w") is not None
    with q.transaction() as session:
        assert q.queue.finish(session, job_id, "w", error="broken") is True
    row = q.job(job_id)
    assert (row.status, row.error) == (JobStatus.FAILED, "broken")
    assert row.finished_at is not None


def test_an_expired_job_out_of_attempts_is_left_to_be_failed(q: Subject) -> None:
    job_id, _ = q.add(1)
    later = utcnow() + timedelta(seconds=LEASE_S + 1)
    assert q.queue.claim("a") is not None
    q.queue.requeue_expired(now=later)
    assert q.queue.claim("b") is not None
    much_later = later + timedelta(seconds=LEASE_S + 1)
    assert q.queue.requeue_expired(now=much_later) == []
    with q.transaction() as session:
        expired = q.queue.expired_out_of_attempts(session, now=much_later)
        assert [j.id for j in expired] == [job_id]
        assert q.queue.expired_out_of_attempts(session) == []  # its lease runs yet


def test_heartbeats_extend_only_their_own_leases(q: Subject) -> None:
    job_id, _ = q.add(1)
    assert q.queue.claim("a") is not None
    before = q.job(job_id).lease_expires_at
    q.queue.extend_leases("b", [job_id])
    assert q.job(job_id).lease_expires_at == before
    q.queue.extend_leases("a", [job_id])
    after = q.job(job_id).lease_expires_at
    assert before is not None and after is not None and after >= before


def test_release_retries_until_out_of_attempts(q: Subject) -> None:
    job_id, _ = q.add(1)
    assert q.queue.claim("w") is not None
    assert q.queue.release(job_id, "other", error="x") is False
    assert q.queue.release(job_id, "w", error="sandbox broke") is True
    assert (q.job(job_id).status, q.job(job_id).error) == (JobStatus.QUEUED, "sandbox broke")
    assert q.queue.claim("w") is not None
    assert q.queue.release(job_id, "w", error="again") is False
    assert q.job(job_id).status == JobStatus.RUNNING


def test_a_handed_back_job_keeps_its_attempt_and_only_its_new_owner_finishes(
    q: Subject,
) -> None:
    job_id, _ = q.add(1)
    for _attempt in range(3):  # more hand-backs than attempts: none is used up
        first = q.queue.claim("stopping")
        assert first is not None and first.id == job_id and first.attempt == 1
        with q.transaction() as session:
            assert q.queue.hand_back(session, job_id, "other") is False
        with q.transaction() as session:
            assert q.queue.hand_back(session, job_id, "stopping") is True
        row = q.job(job_id)
        assert (row.status, row.worker_id, row.attempts) == (JobStatus.QUEUED, None, 0)
        assert row.error == "handed back by its stopping worker; re-queued"
    second = q.queue.claim("alive")
    assert second is not None and second.attempt == 1
    with q.transaction() as session:  # the stopping worker's late finish records nothing
        assert q.queue.finish(session, job_id, "stopping") is False
    with q.transaction() as session:
        assert q.queue.hand_back(session, job_id, "stopping") is False
    with q.transaction() as session:
        assert q.queue.finish(session, job_id, "alive") is True
    with q.transaction() as session:  # finished first: a hand-back finds nothing
        assert q.queue.hand_back(session, job_id, "alive") is False
    assert q.job(job_id).status == JobStatus.DONE


def test_claim_many_respects_the_bulk_limit_and_its_hook(q: Subject) -> None:
    for target in range(1, 6):
        q.add(target, course=target % 2)
    q.add(100, lane=Lane.BULK)
    q.add(101, lane=Lane.BULK)
    seen: list[list[int]] = []

    def hook(_session: Session, jobs: list[ClaimedJob]) -> list[ClaimedJob]:
        seen.append(sorted(job.target_id for job in jobs))
        return [job for job in jobs if job.target_id != 3]

    claimed = q.queue.claim_many("w", 10, bulk_limit=1, on_claimed=hook)
    assert seen == [[1, 2, 3, 4, 5, 100]]
    assert sorted(job.target_id for job in claimed) == [1, 2, 4, 5, 100]
    courses = [job.target_id % 2 for job in claimed if job.lane is Lane.INTERACTIVE]
    assert courses[:2] in ([0, 1], [1, 0])
    assert q.queue.claim_many("w", 10, bulk_limit=0) == []
    assert [job.target_id for job in q.queue.claim_many("w", 10)] == [101]
    assert q.queue.claim_many("w", 10) == []


def test_a_failing_claim_hook_claims_nothing(q: Subject) -> None:
    job_id, _ = q.add(1)

    def hook(_session: Session, _jobs: list[ClaimedJob]) -> list[ClaimedJob]:
        raise RuntimeError("start step failed")

    with pytest.raises(RuntimeError):
        q.queue.claim_many("w", 4, on_claimed=hook)
    row = q.job(job_id)
    assert (row.status, row.attempts, row.worker_id) == (JobStatus.QUEUED, 0, None)


def test_depth_counts_queued_jobs_per_lane(q: Subject) -> None:
    q.add(1)
    q.add(2, lane=Lane.BULK)
    q.add(3, lane=Lane.BULK)
    assert q.queue.claim("w", allow_bulk=False) is not None
    with q.transaction() as session:
        assert q.queue.depth(session) == {Lane.INTERACTIVE.value: 0, Lane.BULK.value: 2}


def test_enqueue_wakes_waiting_workers(q: Subject) -> None:
    seen = q.queue.generation()
    q.add(1)  # committed when the transaction ends (the in-memory queue: at once)
    q.queue.wait(seen, timeout_s=5)
    assert q.queue.generation() != seen


def test_batches_follow_the_one_at_a_time_fairness_order(q: Subject) -> None:
    # course 1 has 2 running jobs, course 2 one, jobs without a course none
    for target in (90, 91):
        q.add(target, course=1)
    q.add(92, course=2)
    assert len(q.queue.claim_many("busy", 3)) == 3
    for target, course in [(1, 1), (2, 1), (3, 2), (4, None), (5, 2), (6, None), (7, 1)]:
        q.add(target, course=course)
    claimed = q.queue.claim_many("w", 5)
    # fewest running first (the picks before counting), then the oldest: None (0 running)
    # takes 4, then None (1) and course 2 (1) tie, the older job (3) first, then 6 ...
    assert [job.target_id for job in claimed] == [4, 3, 6, 1, 5]
    assert [job.target_id for job in q.queue.claim_many("w", 5)] == [2, 7]


def test_a_claim_takes_exactly_the_jobs_it_returns(q: Subject) -> None:
    ids = [q.add(target, course=target % 2)[0] for target in range(1, 8)]
    claimed = q.queue.claim_many("w", 3)
    assert len(claimed) == 3
    running = {job_id for job_id in ids if q.job(job_id).status == JobStatus.RUNNING}
    assert running == {job.id for job in claimed}
    one = q.queue.claim("w")
    assert one is not None
    assert sum(q.job(job_id).status == JobStatus.RUNNING for job_id in ids) == 4
