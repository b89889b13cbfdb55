"""Workers as the platform sees them: job handlers, registry, heartbeats, watchdog.

A job's handlers are looked up by the job's kind in ``HANDLERS``:

- ``run(platform, job, worker_id) -> None`` does the job and records its result
  together with ``platform.queue.finish(session, job.id, worker_id)`` in ONE
  transaction (when ``finish`` returns False the job is no longer this worker's:
  record nothing). Raising means our infrastructure failed: the job is retried.
- ``fail(session, target_id, error) -> None`` records, inside the caller's
  transaction, that the target (a grading run, an execution) failed for good;
  ``error`` is staff-only text.
- ``handed_back(session, target_id) -> None`` (optional) records, inside the
  transaction that hands the job back (``hand_back``), that the target waits again.

The watchdog runs in every worker process and is safe with many running at once:
each step is one conditional statement or works on rows it locked, and removing
a dead worker's sandboxes is idempotent. A worker's id starts with the owner of
its process's sandboxes (``sandbox.owner``), which is how a survivor finds what
a dead worker left.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from assay.errors import SandboxError
from assay.queue import ClaimedJob
from assay.sandbox.base import CheckStatus, SandboxBackend
from assay.sandbox.owner import SandboxOwner, this_process
from assay.services.catalog import refcheck
from assay.services.execution import core
from assay.services.intake import runs
from assay.services.platform import Platform
from assay.storage.models import (
    Job,
    JobKind,
    JobStatus,
    Worker,
    WorkerState,
    utcnow,
)

log = logging.getLogger(__name__)

# For this long after a worker is declared dead, every watchdog round tries to remove
# its sandboxes: each survivor reaches its own host and Docker daemon, so the ones that
# share the dead worker's succeed, whichever watchdog declared it dead.
LEFTOVER_WINDOW = timedelta(minutes=10)
_numbers = itertools.count()  # of the workers (pools) of this process

RunHandler = Callable[[Platform, ClaimedJob, str], None]
FailHandler = Callable[[Session, int, str], None]
StartHandler = Callable[[Platform, Session, list[ClaimedJob], str], list[ClaimedJob]]
HandBackHandler = Callable[[Session, int], None]


@dataclass(frozen=True)
class Handlers:
    run: RunHandler
    fail: FailHandler
    start: StartHandler | None = None  # runs in the claiming transaction (see start_claimed)
    handed_back: HandBackHandler | None = None  # runs in the hand-back's transaction


HANDLERS: dict[JobKind, Handlers] = {
    JobKind.GRADE: Handlers(
        run=runs.run_grading_job,
        fail=runs.fail_grading_run,
        start=runs.start_grading_runs,
        handed_back=runs.requeue_grading_run,
    ),
    JobKind.EXECUTE: Handlers(
        run=core.run_execution_job,
        fail=core.mark_execution_failed,
    ),
    JobKind.CHECK: Handlers(
        run=refcheck.run_check_job,
        fail=refcheck.fail_check,
    ),
}


def run_handler(kind: JobKind) -> RunHandler:
    """What does a job of ``kind``."""
    return HANDLERS[kind].run


def fail_handler(kind: JobKind) -> FailHandler:
    """What records that a job of ``kind`` failed for good."""
    return HANDLERS[kind].fail


def hand_back(platform: Platform, job: ClaimedJob, worker_id: str) -> bool:
    """Give a job this worker will not finish back to the queue, attempt not used,
    nothing recorded but that its target waits again (see ``JobQueue.hand_back``).

    True: queued again, for another worker (this one's late result will be dropped).
    False: the job had finished (or been lost) first: there is nothing to hand back.
    """
    with platform.db.session() as session:
        if not platform.queue.hand_back(session, job.id, worker_id):
            return False
        handler = HANDLERS[job.kind].handed_back
        if handler is not None:
            handler(session, job.target_id)
    platform.queue.notify()  # this process's other workers (embedded) may take it
    return True


def start_claimed(
    platform: Platform, session: Session, jobs: list[ClaimedJob], worker_id: str
) -> list[ClaimedJob]:
    """The claim hook of a worker: each kind's start step, in the claiming transaction
    (a burst of claimed grading jobs is marked started in one write, not one each).
    Returns the jobs still to run (a start step finishes a job with nothing to do)."""
    ready: list[ClaimedJob] = []
    for kind in dict.fromkeys(job.kind for job in jobs):
        group = [job for job in jobs if job.kind is kind]
        starter = HANDLERS[kind].start
        if starter is None:
            ready.extend(group)
            continue
        ready.extend(starter(platform, session, group, worker_id))
    return ready


def sandbox_problems(backend: SandboxBackend) -> list[str]:
    """What keeps this host from grading (empty: the sandbox works).

    A worker checks before it claims anything: one that cannot sandbox would
    otherwise take job after job and burn their attempts in seconds.
    """
    try:
        items = backend.check()
    except SandboxError as exc:
        return [exc.message]
    return [
        f"{item.feature}: {item.detail}" + (f" (fix: {item.fix})" if item.fix else "")
        for item in items
        if item.status is CheckStatus.FAIL
    ]


# --- registry and heartbeats ----------------------------------------------------------


def new_worker_id() -> str:
    """``host:pid:token:n``: the owner of this process's sandboxes and the number of
    the worker in this process. Unique, and says whose sandboxes a dead worker left."""
    return f"{this_process()}:{next(_numbers)}"


def sandbox_owner(worker_id: str) -> SandboxOwner | None:
    """Whose sandboxes the worker opened (its process's); None for ids of another form."""
    return SandboxOwner.parse(worker_id.rpartition(":")[0])


def register(platform: Platform, worker_id: str, slots: int) -> None:
    now = utcnow()
    with platform.db.session() as session:
        session.add(
            Worker(
                id=worker_id,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                slots=slots,
                state_dir=str(platform.settings.state_dir),
                started_at=now,
                heartbeat_at=now,
                state=WorkerState.RUNNING,
            )
        )


def heartbeat(
    platform: Platform, worker_id: str, *, busy: int, jobs_done: int, job_ids: list[int]
) -> int:
    """Record that the worker is alive and extend the leases of its running jobs.

    Returns how many live workers had a free slot at their last heartbeat (this one
    counted as it was before this one; at least 1): the idle fleet that shares the
    polling for jobs (``worker.pool.idle_poll_s``). Read in the same statement."""
    now = utcnow()
    peer = aliased(Worker)  # not correlated with the row being updated
    idle_fleet = (
        select(func.count())
        .select_from(peer)
        .where(
            peer.state == WorkerState.RUNNING,
            peer.heartbeat_at >= now - platform.queue.lease,
            peer.busy < peer.slots,
        )
        .scalar_subquery()
    )
    with platform.db.session() as session:
        counted = session.scalar(
            update(Worker)
            .where(Worker.id == worker_id)
            .values(heartbeat_at=now, busy=busy, jobs_done=jobs_done, state=WorkerState.RUNNING)
            .returning(idle_fleet)
        )
    platform.queue.extend_leases(worker_id, job_ids)
    return max(1, int(counted or 0))


def mark_stopped(platform: Platform, worker_id: str, *, jobs_done: int) -> None:
    with platform.db.session() as session:
        session.execute(
            update(Worker)
            .where(Worker.id == worker_id)
            .values(state=WorkerState.STOPPED, stopped_at=utcnow(), busy=0, jobs_done=jobs_done)
        )


# --- watchdog -------------------------------------------------------------------------


@dataclass
class WatchdogReport:
    requeued: list[int] = field(default_factory=list)  # job ids
    failed: list[int] = field(default_factory=list)  # job ids out of attempts
    dead_workers: list[str] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)  # job ids past job_timeout_s
    leftovers: list[str] = field(default_factory=list)  # sandboxes of the dead, removed

    @property
    def anything(self) -> bool:
        return any((self.requeued, self.failed, self.dead_workers, self.overdue, self.leftovers))


def watchdog(platform: Platform, backend: SandboxBackend | None = None) -> WatchdogReport:
    """One round: re-queue, fail, mark dead, report overdue; given the workers' sandbox
    ``backend``, also remove the sandboxes of dead processes and dead workers that it
    reaches."""
    report = WatchdogReport()
    report.requeued = platform.queue.requeue_expired()
    report.failed = fail_out_of_attempts(platform)
    report.dead_workers = mark_dead_workers(platform)
    report.overdue = overdue_jobs(platform)
    if backend is not None:
        try:
            report.leftovers = backend.remove_stale()
        except (SandboxError, OSError) as exc:
            log.warning("stale sandbox cleanup failed: %s", exc)
        report.leftovers += remove_leftovers(platform, backend)
    for job_id in report.requeued:
        log.warning("job %s re-queued: its worker stopped renewing the lease", job_id)
    for worker_id in report.dead_workers:
        log.warning("worker %s is dead: no heartbeat within the lease", worker_id)
    for job_id in report.overdue:
        log.warning(
            "job %s has run longer than job_timeout_s=%s",
            job_id,
            platform.settings.job_timeout_s,
        )
    for what in report.leftovers:
        log.info("removed a sandbox of a dead process: %s", what)
    return report


def fail_out_of_attempts(platform: Platform) -> list[int]:
    """Jobs whose lease ran out on their last attempt: job failed, target recorded as error."""
    failed: list[int] = []
    with platform.db.session() as session:
        for job in platform.queue.expired_out_of_attempts(session):
            error = (
                f"worker {job.worker_id} lost on attempt {job.attempts} of "
                f"{job.max_attempts} (lease expired)"
            )
            job.status = JobStatus.FAILED
            job.finished_at = utcnow()
            job.error = error
            fail_handler(JobKind(job.kind))(session, job.target_id, error)
            failed.append(job.id)
    return failed


def mark_dead_workers(platform: Platform) -> list[str]:
    """Workers whose heartbeat is older than the lease: their jobs are up for re-queueing."""
    cutoff = utcnow() - platform.queue.lease
    with platform.db.session() as session:
        rows = session.execute(
            update(Worker)
            .where(Worker.state == WorkerState.RUNNING, Worker.heartbeat_at < cutoff)
            .values(state=WorkerState.DEAD, stopped_at=utcnow(), busy=0)
            .returning(Worker.id)
        ).all()
    return [row[0] for row in rows]


def remove_leftovers(platform: Platform, backend: SandboxBackend) -> list[str]:
    """Remove what workers declared dead within ``LEFTOVER_WINDOW`` left, as far as
    ``backend`` reaches (``SandboxBackend.remove_leftovers``).

    Scoped by owner: one that still has a running worker, and this process, are
    never touched. A worker declared dead only because its heartbeats stopped (a
    database outage) loses its sandboxes too; its jobs were handed to others and
    their results would be dropped anyway.
    """
    since = utcnow() - LEFTOVER_WINDOW
    with platform.db.reading() as session:
        rows = session.execute(
            select(Worker.id, Worker.state).where(
                or_(
                    Worker.state == WorkerState.RUNNING,
                    and_(Worker.state == WorkerState.DEAD, Worker.stopped_at >= since),
                )
            )
        ).all()
    owners = {worker_id: sandbox_owner(worker_id) for worker_id, _state in rows}
    live = {owners[worker_id] for worker_id, state in rows if state == WorkerState.RUNNING}
    dead = {owners[worker_id] for worker_id, state in rows if state == WorkerState.DEAD}
    removed: list[str] = []
    for owner in sorted((o for o in dead - live if o is not None), key=str):
        try:
            removed += backend.remove_leftovers(owner)
        except (SandboxError, OSError) as exc:
            log.warning("cannot remove the sandboxes of dead worker process %s: %s", owner, exc)
    return removed


def overdue_jobs(platform: Platform) -> list[int]:
    """The timeout checker: running jobs started longer than ``job_timeout_s`` ago."""
    cutoff = utcnow() - timedelta(seconds=platform.settings.job_timeout_s)
    with platform.db.session() as session:
        return list(
            session.scalars(
                select(Job.id).where(Job.status == JobStatus.RUNNING, Job.started_at < cutoff)
            )
        )
