"""Workers as the platform sees them: job handlers, registry, heartbeats, watchdog.

A job handler is looked up by the job's kind in ``HANDLERS`` (``module:function``
names, imported on first use like the sandbox backends), so a kind's module can
land or change without this one knowing it:

- ``run(platform, job, worker_id) -> None`` does the job and records its result
  together with ``platform.queue.finish(session, job.id, worker_id)`` in ONE
  transaction (when ``finish`` returns False the job is no longer this worker's:
  record nothing). Raising means our infrastructure failed: the job is retried.
- ``fail(session, target_id, error) -> None`` records, inside the caller's
  transaction, that the target (a grading run, an execution) failed for good;
  ``error`` is staff-only text.

The watchdog runs in every worker process and is safe with many running at once:
each step is one conditional statement or works on rows it locked.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from assay.config import Settings
from assay.errors import QueueError, SandboxError
from assay.queue import ClaimedJob
from assay.sandbox.backends import get_backend
from assay.sandbox.base import CheckStatus
from assay.sandbox.native.stale import remove_stale_sandboxes
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

RunHandler = Callable[[Platform, ClaimedJob, str], None]
FailHandler = Callable[[Session, int, str], None]
StartHandler = Callable[[Platform, Session, list[ClaimedJob], str], list[ClaimedJob]]


@dataclass(frozen=True)
class HandlerNames:
    run: str  # "module:function"
    fail: str
    start: str = ""  # optional: runs in the claiming transaction (see start_claimed)


HANDLERS: dict[JobKind, HandlerNames] = {
    JobKind.GRADE: HandlerNames(
        run="assay.services.runs:run_grading_job",
        fail="assay.services.runs:fail_grading_run",
        start="assay.services.runs:start_grading_runs",
    ),
    JobKind.EXECUTE: HandlerNames(
        run="assay.services.execute:run_execution_job",
        fail="assay.services.execute:mark_execution_failed",
    ),
}


def _load(name: str) -> Callable[..., None]:
    module_name, _, attr = name.partition(":")
    try:
        function: Callable[..., None] = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise QueueError(f"job handler {name} is not available: {exc}") from exc
    return function


def run_handler(kind: JobKind) -> RunHandler:
    """What does a job of ``kind``; QueueError if its module is missing."""
    return _load(HANDLERS[kind].run)


def fail_handler(kind: JobKind) -> FailHandler:
    """What records that a job of ``kind`` failed for good."""
    return _load(HANDLERS[kind].fail)


def start_claimed(
    platform: Platform, session: Session, jobs: list[ClaimedJob], worker_id: str
) -> list[ClaimedJob]:
    """The claim hook of a worker: each kind's start step, in the claiming transaction
    (a burst of claimed grading jobs is marked started in one write, not one each).
    Returns the jobs still to run (a start step finishes a job with nothing to do)."""
    ready: list[ClaimedJob] = []
    for kind in dict.fromkeys(job.kind for job in jobs):
        group = [job for job in jobs if job.kind is kind]
        name = HANDLERS[kind].start
        if not name:
            ready.extend(group)
            continue
        starter: StartHandler = _load(name)  # type: ignore[assignment]
        ready.extend(starter(platform, session, group, worker_id))
    return ready


def sandbox_problems(settings: Settings) -> list[str]:
    """What keeps this host from grading (empty: the sandbox works).

    A worker checks before it claims anything: one that cannot sandbox would
    otherwise take job after job and burn their attempts in seconds.
    """
    try:
        backend = get_backend(settings.grading_backend)
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
    """``host:pid:random``: unique, and says where to look for its sandboxes."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


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
) -> None:
    """Record that the worker is alive and extend the leases of its running jobs."""
    with platform.db.session() as session:
        session.execute(
            update(Worker)
            .where(Worker.id == worker_id)
            .values(
                heartbeat_at=utcnow(), busy=busy, jobs_done=jobs_done, state=WorkerState.RUNNING
            )
        )
    platform.queue.extend_leases(worker_id, job_ids)


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
    stale_sandboxes: list[str] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return any(
            (self.requeued, self.failed, self.dead_workers, self.overdue, self.stale_sandboxes)
        )


def watchdog(platform: Platform, *, clean_sandboxes: bool = True) -> WatchdogReport:
    """One round: re-queue, fail, mark dead, report overdue, clean this host's sandboxes."""
    report = WatchdogReport()
    report.requeued = platform.queue.requeue_expired()
    report.failed = fail_out_of_attempts(platform)
    report.dead_workers = mark_dead_workers(platform)
    report.overdue = overdue_jobs(platform)
    if clean_sandboxes:
        try:
            report.stale_sandboxes = remove_stale_sandboxes(platform.settings)
        except (SandboxError, OSError) as exc:
            log.warning("stale sandbox cleanup failed: %s", exc)
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
    for path in report.stale_sandboxes:
        log.info("removed a stale sandbox of a dead process: %s", path)
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


def overdue_jobs(platform: Platform) -> list[int]:
    """The timeout checker: running jobs started longer than ``job_timeout_s`` ago."""
    cutoff = utcnow() - timedelta(seconds=platform.settings.job_timeout_s)
    with platform.db.session() as session:
        return list(
            session.scalars(
                select(Job.id).where(Job.status == JobStatus.RUNNING, Job.started_at < cutoff)
            )
        )
