"""A job queue in the database itself.

Why not a separate broker: a submission and its job are committed in one
transaction, so the API never acknowledges work that is not durably queued, and
nothing but the database has to run (SQLite embedded, PostgreSQL distributed).
On PostgreSQL a claim is one ``UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP
LOCKED)``, so many workers claim concurrently without blocking each other; on
SQLite writes are serialised by the database lock, which the same statement
takes.

Delivery is at least once: a claimed job holds a lease that its worker's
heartbeats extend; when the lease runs out (the worker died) the watchdog puts it
back. Whatever a job does must therefore commit its result idempotently (see
``services.runs``).

Order: the interactive lane (students, code execution) before the bulk lane
(regrades), and a worker never fills all its slots with bulk jobs, so a student's
submission starts at once even during a regrade of a whole course. Within a lane
the course with the fewest running jobs goes first (fairness across courses),
then the oldest job.

Workers poll for jobs with a short interval; inside one process they are also
woken at once: ``enqueue`` arranges a ``notify()`` for when the producer's
transaction commits, so embedded mode (`assay serve`) starts a job immediately.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from sqlalchemy import Update, and_, bindparam, event, func, or_, select, update
from sqlalchemy.orm import Session

from assay.queue.base import ClaimedJob, ClaimHook, Wakeup, take_by_lane
from assay.storage.db import Database
from assay.storage.models import Job, JobKind, JobStatus, Lane, utcnow

NOTIFY_AFTER_COMMIT = "assay_queue_notify"  # session.info flag set by enqueue
REQUEUED_ERROR = "worker lost (lease expired); re-queued"
HANDED_BACK_ERROR = "handed back by its stopping worker; re-queued"


class JobQueue(Wakeup):
    def __init__(self, db: Database, *, lease_s: float = 20.0, max_attempts: int = 3) -> None:
        super().__init__()
        self.db = db
        self.lease = timedelta(seconds=lease_s)
        self.max_attempts = max_attempts
        # One listener on the database's sessions (listening on each session that
        # enqueues would cost more than the enqueue itself).
        event.listen(db.session_factory, "after_commit", self._after_commit)

    # --- producers (inside the caller's transaction) ----------------------------------

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
        """Add a job; with ``dedupe_key``, cancel older still-queued jobs of that key.

        Returns the job and the target ids of the jobs it cancelled (the caller marks
        their targets cancelled in the same transaction).
        """
        cancelled: list[int] = []
        if dedupe_key is not None:
            rows = session.execute(
                update(Job)
                .where(Job.dedupe_key == dedupe_key, Job.status == JobStatus.QUEUED)
                .values(status=JobStatus.CANCELLED, finished_at=utcnow())
                .returning(Job.target_id)
                .execution_options(synchronize_session=False)
            ).all()
            cancelled = [row[0] for row in rows]
        job = Job(
            kind=kind,
            lane=lane,
            target_id=target_id,
            course_id=course_id,
            dedupe_key=dedupe_key,
            max_attempts=self.max_attempts,
        )
        session.add(job)
        session.flush()
        session.info[NOTIFY_AFTER_COMMIT] = True
        return job, cancelled

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(NOTIFY_AFTER_COMMIT, False):
            self.notify()

    # --- workers ------------------------------------------------------------------------

    def claim(self, worker_id: str, *, allow_bulk: bool = True) -> ClaimedJob | None:
        """Take the next job for ``worker_id``, or None when there is nothing to do."""
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
        """Take up to ``limit`` jobs (at most ``bulk_limit`` of them bulk) in ONE
        transaction: a worker with many free slots does not pay a write per job.

        Each job is taken by its own statement, so the course fairness order sees the
        jobs claimed before it. ``on_claimed(session, jobs)`` runs in the same
        transaction (a worker marks the jobs' targets started there) and returns the
        jobs still to run. An empty queue is seen with a read, without the write lock.
        """
        queued = self._queued_by_lane() if limit >= 1 else {}
        if not queued:
            return []
        with self.db.session() as session:
            # no statement for jobs the read saw were not there (others may have
            # taken some since: a claim that finds nothing still ends the lane)
            claimed = take_by_lane(
                limit,
                bulk_limit,
                lambda lane: self._claim_from(session, worker_id, lane),
                waiting=queued,
            )
            if claimed and on_claimed is not None:
                return on_claimed(session, claimed)
        return claimed

    def _queued_by_lane(self) -> dict[Lane, int]:
        """How many jobs wait in each lane (a read: no write lock when there are none)."""
        with self.db.reading() as session:
            rows = session.execute(_QUEUED_BY_LANE).all()
        return {Lane(lane): int(count) for lane, count in rows}

    def _claim_from(self, session: Session, worker_id: str, lane: Lane) -> ClaimedJob | None:
        now = utcnow()
        row = session.execute(
            _claim_statement(lane),
            {"worker_id": worker_id, "now": now, "lease_until": now + self.lease},
        ).first()
        if row is None:
            return None
        return ClaimedJob(
            id=row[0],
            kind=JobKind(row[1]),
            lane=Lane(row[2]),
            target_id=row[3],
            attempt=row[4],
            max_attempts=row[5],
        )

    def extend_leases(self, worker_id: str, job_ids: list[int]) -> None:
        if not job_ids:
            return
        with self.db.session() as session:
            session.execute(
                update(Job)
                .where(
                    Job.id.in_(job_ids),
                    Job.worker_id == worker_id,
                    Job.status == JobStatus.RUNNING,
                )
                .values(lease_expires_at=utcnow() + self.lease)
            )

    def finish(self, session: Session, job_id: int, worker_id: str, *, error: str = "") -> bool:
        """Mark the job done inside the transaction that records its result.

        False when this worker no longer owns the job (its lease ran out and the job
        was handed to someone else): the caller must then not record anything.
        """
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.worker_id == worker_id, Job.status == JobStatus.RUNNING)
            .values(
                status=JobStatus.FAILED if error else JobStatus.DONE,
                finished_at=utcnow(),
                error=error,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def release(self, job_id: int, worker_id: str, *, error: str) -> bool:
        """Give a job back after an infrastructure failure (retried if attempts remain).

        Returns True if the job was re-queued, False if it is out of attempts (the
        caller records the failure) or no longer this worker's.
        """
        with self.db.session() as session:
            result = session.execute(
                update(Job)
                .where(
                    Job.id == job_id,
                    Job.worker_id == worker_id,
                    Job.status == JobStatus.RUNNING,
                    Job.attempts < Job.max_attempts,
                )
                .values(status=JobStatus.QUEUED, worker_id=None, lease_expires_at=None, error=error)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def hand_back(self, session: Session, job_id: int, worker_id: str) -> bool:
        """Put a job its stopping worker will not finish back in the queue, inside the
        caller's transaction, WITHOUT using up an attempt (the job did not fail).

        Conditional like ``finish``: only while the job is running and this worker's.
        Both take the job's row, so when a hand-back races with the job's own finish
        exactly one of them wins: True means the job is queued again (and the
        finish that comes later finds it is no longer its own and records nothing);
        False means it was finished (or lost) already, and there is nothing to do.
        """
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.worker_id == worker_id, Job.status == JobStatus.RUNNING)
            .values(
                status=JobStatus.QUEUED,
                worker_id=None,
                lease_expires_at=None,
                attempts=Job.attempts - 1,
                error=HANDED_BACK_ERROR,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # --- watchdog -----------------------------------------------------------------------

    def requeue_expired(self, now: datetime | None = None) -> list[int]:
        """Put back the running jobs whose lease ran out; returns their ids.

        Jobs out of attempts are left for ``expired_out_of_attempts`` to fail.
        """
        now = now or utcnow()
        with self.db.session() as session:
            rows = session.execute(
                update(Job)
                .where(
                    Job.status == JobStatus.RUNNING,
                    Job.lease_expires_at < now,
                    Job.attempts < Job.max_attempts,
                )
                .values(
                    status=JobStatus.QUEUED,
                    worker_id=None,
                    lease_expires_at=None,
                    error=REQUEUED_ERROR,
                )
                .returning(Job.id)
            ).all()
        return [row[0] for row in rows]

    def expired_out_of_attempts(self, session: Session, now: datetime | None = None) -> list[Job]:
        """Running jobs whose lease ran out on their last attempt (to be failed)."""
        now = now or utcnow()
        return list(
            session.scalars(
                select(Job)
                .where(
                    Job.status == JobStatus.RUNNING,
                    Job.lease_expires_at < now,
                    Job.attempts >= Job.max_attempts,
                )
                .with_for_update(skip_locked=True)
            )
        )

    def depth(self, session: Session) -> dict[str, int]:
        """Queued jobs per lane (for /metrics and the staff queue view)."""
        rows = session.execute(_QUEUED_BY_LANE).all()
        counts = {lane.value: 0 for lane in Lane}
        counts.update({str(lane): int(n) for lane, n in rows})
        return counts


_QUEUED_BY_LANE = (
    select(Job.lane, func.count(Job.id)).where(Job.status == JobStatus.QUEUED).group_by(Job.lane)
)


@functools.cache
def _claim_statement(lane: Lane) -> Update:
    """Claim the next job of ``lane`` (built once: a burst claims hundreds of jobs)."""
    busy = select(Job.course_id, func.count(Job.id).label("n")).where(
        Job.status == JobStatus.RUNNING
    )
    busy_by_course = busy.group_by(Job.course_id).subquery()
    candidate = (
        select(Job.id)
        .outerjoin(
            busy_by_course,
            or_(
                busy_by_course.c.course_id == Job.course_id,
                and_(busy_by_course.c.course_id.is_(None), Job.course_id.is_(None)),
            ),
        )
        .where(Job.status == JobStatus.QUEUED, Job.lane == lane)
        .order_by(func.coalesce(busy_by_course.c.n, 0), Job.created_at, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=Job)
        .scalar_subquery()
    )
    return (
        update(Job)
        .where(Job.id == candidate, Job.status == JobStatus.QUEUED)
        .values(
            status=JobStatus.RUNNING,
            worker_id=bindparam("worker_id", type_=Job.worker_id.type),
            attempts=Job.attempts + 1,
            started_at=bindparam("now", type_=Job.started_at.type),
            lease_expires_at=bindparam("lease_until", type_=Job.lease_expires_at.type),
        )
        .returning(Job.id, Job.kind, Job.lane, Job.target_id, Job.attempts, Job.max_attempts)
        .execution_options(synchronize_session=False)
    )
