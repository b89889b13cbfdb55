"""Grading a run: what a worker does with a GRADE job.

Delivery is at least once, so the result is committed idempotently: the job's
``finish`` (which succeeds only for the worker that still owns the job) and the
run's update (only while the run is queued or running) happen in ONE
transaction. Whatever crashes, and however often a job is handed out, a run gets
exactly one report.

Progress events (started, setup, building, testing i of n...) are each their own
short transaction, so live viewers see them while the grading goes on. A retried
attempt records ``started`` again (with its attempt number); the terminal
``done`` or ``error`` event is written only with the result. A run whose worker
stopped before finishing it (handed back on SIGTERM) is queued again with a
``queued`` event saying so (``REQUEUED_DETAIL``), then ``started`` again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from assay.errors import GradingError, StorageError
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.outcome import TestStatus
from assay.grading.report import GradeReport, ReportStatus
from assay.grading.stages import Stage
from assay.queue import ClaimedJob
from assay.services.catalog import environments, packages
from assay.services.intake import progress
from assay.services.platform import Platform
from assay.storage import filesets
from assay.storage.blobs import get_blob
from assay.storage.models import (
    AssignmentVersion,
    GradingRun,
    RunStatus,
    Submission,
    utcnow,
)

log = logging.getLogger(__name__)

OPEN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
# Stages of the engine that the worker records itself, with the result.
ENGINE_STAGES_SKIPPED = frozenset({Stage.DONE})
STUDENT_ERROR = "grading failed on our side, not because of your submission"
REQUEUED_DETAIL = "re-queued: the worker grading it stopped; another one takes it"


class GradingRetryError(GradingError):
    """The report says our side failed; the job is retried while attempts remain."""


@dataclass(frozen=True)
class _Work:
    run_id: int
    package_sha256: str
    files_sha256: str


class EventProgress:
    """A ``grading.context.Progress`` that records each stage as a run event; given
    the grading worker, only while the run is still running there (a run handed back
    or taken over by another worker shows none of this attempt's later stages)."""

    def __init__(self, platform: Platform, run_id: int, worker_id: str | None = None) -> None:
        self.platform = platform
        self.run_id = run_id
        self.worker_id = worker_id

    def stage(
        self, name: Stage, detail: str = "", current: int | None = None, total: int | None = None
    ) -> None:
        if name in ENGINE_STAGES_SKIPPED:
            return
        event = progress.NewEvent(self.run_id, name, detail, current, total)
        try:
            with self.platform.db.session() as session:
                if self.worker_id is None:
                    progress.record_events(session, [event])
                else:
                    progress.record_event_on(session, self.worker_id, event)
        except StorageError as exc:  # progress is best effort, not the result
            log.warning("cannot record stage %s of run %s: %s", name, self.run_id, exc)


def run_grading_job(platform: Platform, job: ClaimedJob, worker_id: str) -> None:
    """Grade the run ``job.target_id`` and record its one report (see module docstring).

    The run was marked running by ``start_grading_runs`` in the claiming transaction."""
    work = _prepared(platform, job)
    if work is None:
        return
    report = _grade(platform, work, worker_id)
    if report.status is ReportStatus.ERROR and job.attempt < job.max_attempts:
        raise GradingRetryError(report.staff_error or report.error or "grading failed")
    values = _report_values(report)  # serialised before the write transaction
    with platform.db.session() as session:
        if not platform.queue.finish(session, job.id, worker_id):
            log.warning("job %s is no longer ours; its result is dropped", job.id)
            session.rollback()
            return
        _record_report(session, work.run_id, report, values)


def start_grading_runs(
    platform: Platform, session: Session, jobs: list[ClaimedJob], worker_id: str
) -> list[ClaimedJob]:
    """The start step of jobs just claimed, in the claiming transaction: the runs
    still open marked running at once, each with its ``started`` event; a job whose
    run is no longer open (cancelled, or graded by an earlier attempt) is finished."""
    started = set(
        session.scalars(
            update(GradingRun)
            .where(
                GradingRun.id.in_([job.target_id for job in jobs]),
                GradingRun.status.in_(OPEN_STATUSES),
            )
            .values(status=RunStatus.RUNNING, worker_id=worker_id, started_at=utcnow())
            .returning(GradingRun.id)
            .execution_options(synchronize_session=False)
        )
    )
    ready = [job for job in jobs if job.target_id in started]
    for job in jobs:
        if job.target_id not in started:
            platform.queue.finish(session, job.id, worker_id)
    progress.record_events(
        session,
        [progress.NewEvent(job.target_id, Stage.STARTED, _attempt(job)) for job in ready],
    )
    return ready


def _attempt(job: ClaimedJob) -> str:
    return f"attempt {job.attempt}" if job.attempt > 1 else ""


# What a run grades: its package's and its files' digests (one query, no objects).
_WORK = (
    select(AssignmentVersion.package_sha256, Submission.files_sha256)
    .select_from(GradingRun)
    .join(Submission, Submission.id == GradingRun.submission_id)
    .join(AssignmentVersion, AssignmentVersion.id == GradingRun.version_id)
    .where(GradingRun.id == bindparam("run"))
)


def _prepared(platform: Platform, job: ClaimedJob) -> _Work | None:
    """What to grade for a job whose run the claim already started."""
    with platform.db.reading() as session:
        row = session.execute(_WORK, {"run": job.target_id}).first()
    if row is None:
        return None
    return _Work(job.target_id, row[0], row[1])


def _grade(platform: Platform, work: _Work, worker_id: str) -> GradeReport:
    files_data = _read_blob(platform, work.files_sha256)
    cache = Path(platform.settings.state_dir) / "packages"
    # the package (up to 64 MiB) is read from the database only when not yet unpacked here
    root = packages.unpacked(
        cache, work.package_sha256, lambda: _read_blob(platform, work.package_sha256)
    )
    files = filesets.unpack(files_data)
    progress = EventProgress(platform, work.run_id, worker_id)
    with load_package(root) as package:
        # a tree fetched or built for this run is its cold start, shown in its events
        environments.prepare(platform.backend.environment_provider, package.environment, progress)
        return grade(
            package,
            files,
            backend=platform.backend,
            parallel_runs=platform.settings.grading_parallel_runs,
            progress=progress,
        )


def _read_blob(platform: Platform, digest: str) -> bytes:
    with platform.db.reading() as session:
        return get_blob(session, digest)


def _report_values(report: GradeReport) -> dict[str, object]:
    """The run's columns for ``report``."""
    graded = report.status is ReportStatus.GRADED
    passed = sum(1 for test in report.tests if test.status is TestStatus.PASSED)
    return {
        "status": RunStatus.GRADED if graded else RunStatus.ERROR,
        "report": report.model_dump(mode="json"),
        "score": report.score if graded else None,
        "max_score": report.max_score,
        "tests_passed": passed,
        "tests_total": len(report.tests),
        "tampered": bool(report.tampered),
        "error": "" if graded else (report.staff_error or report.error or ""),
    }


def _record_report(
    session: Session, run_id: int, report: GradeReport, values: dict[str, object]
) -> None:
    graded = report.status is ReportStatus.GRADED
    result = session.execute(
        update(GradingRun)
        .where(GradingRun.id == run_id, GradingRun.status.in_(OPEN_STATUSES))
        .values(**values, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return  # cancelled meanwhile: no report
    if graded:
        progress.record_event(
            session, run_id, Stage.DONE, f"{report.score:g} / {report.max_score:g}"
        )
    else:
        progress.record_event(session, run_id, Stage.ERROR, STUDENT_ERROR)


def requeue_grading_run(session: Session, run_id: int) -> None:
    """The run's job was handed back (its worker is stopping), inside that transaction:
    the run is queued again, with a ``queued`` event whose detail says why (not a
    terminal stage: the run goes on elsewhere)."""
    result = session.execute(
        update(GradingRun)
        .where(GradingRun.id == run_id, GradingRun.status == RunStatus.RUNNING)
        .values(status=RunStatus.QUEUED, worker_id=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        progress.record_event(session, run_id, Stage.QUEUED, REQUEUED_DETAIL)


def fail_grading_run(session: Session, run_id: int, error: str) -> None:
    """The run failed on our side for good (out of attempts): status error, event error.

    ``error`` is staff-only (``GradingRun.error``); the event says only that it was us.
    """
    result = session.execute(
        update(GradingRun)
        .where(GradingRun.id == run_id, GradingRun.status.in_(OPEN_STATUSES))
        .values(status=RunStatus.ERROR, error=error, finished_at=utcnow())
    )
    if result.rowcount:  # type: ignore[attr-defined]
        progress.record_event(session, run_id, Stage.ERROR, STUDENT_ERROR)
    log.error("grading run %s failed: %s", run_id, error)
