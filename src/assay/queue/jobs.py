"""A job queue in the database itself.

Why not a separate broker: a submission and its job are committed in one
transaction, so the API never acknowledges work that is not durably queued, and
nothing but the database has to run (SQLite embedded, PostgreSQL distributed).
A claim is planned with a few index lookups whose cost does not grow with the
queue's depth, reading candidates ``FOR UPDATE SKIP LOCKED``, then takes the
planned jobs with one ``UPDATE`` (``claims.py``): on PostgreSQL many workers claim
concurrently without blocking each other; on SQLite writes are serialised by the
database lock, which the claiming transaction takes at its start.

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

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import bindparam, event, func, select, update
from sqlalchemy.orm import Session

from assay.queue import claims
from assay.queue.base import ClaimedJob, ClaimHook, Wakeup, take_by_lane
from assay.storage.db import Database
from assay.storage.models import Job, JobKind, JobStatus, Lane, utcnow

NOTIFY_AFTER_COMMIT = "assay_queue_notify"  # session.info flag set by enqueue
REQUEUED_ERROR = "worker lost (lease expired); re-queued"
HANDED_BACK_ERROR = "handed back by its stopping worker; re-queued"


_JOBS = Job.metadata.tables[Job.__tablename__]
# Every job ends with this (built once, Core: no ORM step for a statement run per job).
_FINISH = (
    update(_JOBS)
    .where(
        _JOBS.c.id == bindparam("job"),
        _JOBS.c.worker_id == bindparam("owner"),
        _JOBS.c.status == JobStatus.RUNNING,
    )
    .values(
        status=bindparam("end_status", type_=_JOBS.c.status.type),
        finished_at=bindparam("ended_at", type_=_JOBS.c.finished_at.type),
        error=bindparam("end_error", type_=_JOBS.c.error.type),
    )
)


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
        queued = self._queued_by_lane(limit) if limit >= 1 else {}
        if not queued:
            return []
        with self.db.session() as session:
            running: Counter[claims.CourseKey] | None = None

            def take(lane: Lane, room: int) -> list[ClaimedJob]:
                nonlocal running
                if running is None:  # read once; this claim's own picks are added to it
                    running = claims.running_by_course(session)
                return self._claim_from(session, worker_id, lane, room, running)

            # no statement for jobs the read saw were not there (others may have
            # taken some since: a claim that finds nothing still ends the lane)
            claimed = take_by_lane(limit, bulk_limit, take, waiting=queued)
            if claimed and on_claimed is not None:
                return on_claimed(session, claimed)
        return claimed

    def _queued_by_lane(self, cap: int) -> dict[Lane, int]:
        """How many jobs wait in each lane, counted up to ``cap`` (a read: no write
        lock when there are none, and no count of a deep queue)."""
        with self.db.reading() as session:
            return claims.waiting(session, cap)

    def _claim_from(
        self,
        session: Session,
        worker_id: str,
        lane: Lane,
        room: int,
        running: Counter[claims.CourseKey],
    ) -> list[ClaimedJob]:
        """Up to ``room`` jobs of ``lane`` in the fairness order (``claims``)."""
        picked = claims.plan(claims.candidates(session, lane, room), running, room)
        now = utcnow()
        values = {"claimer": worker_id, "claimed_at": now, "lease_until": now + self.lease}
        claimed = claims.take(session, picked, values)
        course_of = {c.id: c.course_id for c in picked}
        running.update(course_of[job.id] for job in claimed)
        return claimed

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
            _FINISH,
            {
                "job": job_id,
                "owner": worker_id,
                "end_status": JobStatus.FAILED if error else JobStatus.DONE,
                "ended_at": utcnow(),
                "end_error": error,
            },
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
