"""``InMemoryJobQueue``: the job queue's behaviour without a database, for unit tests
of its users (the same order, lanes, leases, attempts and de-duplication as
``jobs.JobQueue``; tests/integration/test_queue_contract.py holds both to one contract).

Jobs are ``Job`` objects kept in a list (never added to a session): what a caller
changes on one it got from ``expired_out_of_attempts`` is the queue's state, as a
change to a row in the caller's transaction is for the database queue.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from assay.queue.base import ClaimedJob, ClaimHook, Wakeup, take_by_lane
from assay.queue.jobs import HANDED_BACK_ERROR, REQUEUED_ERROR
from assay.storage.models import Job, JobKind, JobStatus, Lane, utcnow


class InMemoryJobQueue(Wakeup):
    def __init__(self, *, lease_s: float = 20.0, max_attempts: int = 3) -> None:
        super().__init__()
        self.lease = timedelta(seconds=lease_s)
        self.max_attempts = max_attempts
        self.jobs: list[Job] = []
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # --- producers ----------------------------------------------------------------------

    def enqueue(
        self,
        session: Session,
        kind: JobKind,
        target_id: int,
        *,
        lane: Lane = Lane.INTERACTIVE,
        course_id: int | None = None,
        dedupe_key: str | None = None,
    ) -> tuple[Job, list[int]]:
        del session  # no transaction: the job is queued at once
        with self._lock:
            cancelled: list[int] = []
            if dedupe_key is not None:
                for old in self._with(JobStatus.QUEUED):
                    if old.dedupe_key == dedupe_key:
                        old.status, old.finished_at = JobStatus.CANCELLED, utcnow()
                        cancelled.append(old.target_id)
            job = Job(
                id=next(self._ids),
                kind=kind,
                lane=lane,
                target_id=target_id,
                course_id=course_id,
                dedupe_key=dedupe_key,
                status=JobStatus.QUEUED,
                attempts=0,
                max_attempts=self.max_attempts,
                created_at=utcnow(),
                error="",
            )
            self.jobs.append(job)
        self.notify()
        return job, cancelled

    # --- workers ------------------------------------------------------------------------

    def claim(self, worker_id: str, *, allow_bulk: bool = True) -> ClaimedJob | None:
        jobs = self.claim_many(worker_id, 1, bulk_limit=1 if allow_bulk else 0)
        return jobs[0] if jobs else None

    def claim_many(
        self,
        worker_id: str,
        limit: int,
        *,
        bulk_limit: int | None = None,
        on_claimed: ClaimHook | None = None,
    ) -> list[ClaimedJob]:
        with self._lock:
            before = {row.id: _snapshot(row) for row in self.jobs}
            claimed = take_by_lane(
                limit, bulk_limit, lambda lane, room: self._claim_from(worker_id, lane, room)
            )
            if claimed and on_claimed is not None:
                try:
                    return on_claimed(Session(), claimed)  # unbound: nothing to commit
                except BaseException:
                    for row in self.jobs:  # as a rolled-back claiming transaction
                        _restore(row, before[row.id])
                    raise
        return claimed

    def _claim_from(self, worker_id: str, lane: Lane, room: int) -> list[ClaimedJob]:
        claimed: list[ClaimedJob] = []
        while len(claimed) < room and (job := self._claim_one(worker_id, lane)) is not None:
            claimed.append(job)
        return claimed

    def _claim_one(self, worker_id: str, lane: Lane) -> ClaimedJob | None:
        busy = Counter(job.course_id for job in self._with(JobStatus.RUNNING))
        queued = [job for job in self._with(JobStatus.QUEUED) if job.lane == lane]
        if not queued:
            return None
        job = min(queued, key=lambda j: (busy[j.course_id], j.created_at, j.id))
        now = utcnow()
        job.status, job.worker_id = JobStatus.RUNNING, worker_id
        job.attempts += 1
        job.started_at, job.lease_expires_at = now, now + self.lease
        return ClaimedJob(
            job.id, JobKind(job.kind), Lane(job.lane), job.target_id, job.attempts, job.max_attempts
        )

    def extend_leases(self, worker_id: str, job_ids: list[int]) -> None:
        with self._lock:
            for job in self._owned(worker_id, job_ids):
                job.lease_expires_at = utcnow() + self.lease

    def finish(self, session: Session, job_id: int, worker_id: str, *, error: str = "") -> bool:
        del session
        with self._lock:
            for job in self._owned(worker_id, [job_id]):
                job.status = JobStatus.FAILED if error else JobStatus.DONE
                job.finished_at, job.error = utcnow(), error
                return True
            return False

    def release(self, job_id: int, worker_id: str, *, error: str) -> bool:
        with self._lock:
            for job in self._owned(worker_id, [job_id]):
                if job.attempts >= job.max_attempts:
                    return False
                self._requeue(job, error)
                return True
            return False

    def hand_back(self, session: Session, job_id: int, worker_id: str) -> bool:
        del session
        with self._lock:
            for job in self._owned(worker_id, [job_id]):
                job.attempts -= 1
                self._requeue(job, HANDED_BACK_ERROR)
                return True
            return False

    # --- watchdog -----------------------------------------------------------------------

    def requeue_expired(self, now: datetime | None = None) -> list[int]:
        now = now or utcnow()
        with self._lock:
            expired = [j for j in self._expired(now) if j.attempts < j.max_attempts]
            for job in expired:
                self._requeue(job, REQUEUED_ERROR)
            return [job.id for job in expired]

    def expired_out_of_attempts(self, session: Session, now: datetime | None = None) -> list[Job]:
        del session
        now = now or utcnow()
        with self._lock:
            return [j for j in self._expired(now) if j.attempts >= j.max_attempts]

    def depth(self, session: Session) -> dict[str, int]:
        del session
        with self._lock:
            counts = {lane.value: 0 for lane in Lane}
            for job in self._with(JobStatus.QUEUED):
                counts[str(job.lane)] += 1
            return counts

    # --- helpers ------------------------------------------------------------------------

    def _with(self, status: JobStatus) -> list[Job]:
        return [job for job in self.jobs if job.status == status]

    def _owned(self, worker_id: str, job_ids: list[int]) -> list[Job]:
        return [
            job
            for job in self._with(JobStatus.RUNNING)
            if job.id in job_ids and job.worker_id == worker_id
        ]

    def _expired(self, now: datetime) -> list[Job]:
        running = self._with(JobStatus.RUNNING)
        return [j for j in running if j.lease_expires_at is not None and j.lease_expires_at < now]

    @staticmethod
    def _requeue(job: Job, error: str) -> None:
        job.status, job.worker_id, job.lease_expires_at, job.error = (
            JobStatus.QUEUED,
            None,
            None,
            error,
        )


_CLAIM_FIELDS = ("status", "worker_id", "attempts", "started_at", "lease_expires_at")


def _snapshot(job: Job) -> tuple[object, ...]:
    return tuple(getattr(job, name) for name in _CLAIM_FIELDS)


def _restore(job: Job, values: tuple[object, ...]) -> None:
    for name, value in zip(_CLAIM_FIELDS, values, strict=True):
        setattr(job, name, value)
