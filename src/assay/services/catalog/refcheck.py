"""An assignment's package versions and their check against the reference solution.

Uploading a version only validates the package (``packages.validate``). Staff also
need to know the package grades correctly: its reference solution gets full marks
and each known-bad submission does not (``grading.checking``, the same check as
``assay assignment check``). That grades several submissions and takes seconds,
so the pages start it in a background thread and the result is kept with the
version (``AssignmentVersion.check["reference"]``); the page shows it when done.

A check that could not run (no sandbox on this web server, a crash) is recorded
as ``error`` with the reason: the package is then neither proven nor refuted.

Where it runs (``Settings.reference_checks``, ``runs_on``): in this server's process
(a thread, or before the answer), or as a ``JobKind.CHECK`` job on the durable queue
that a worker runs on its sandbox (``run_check_job``): an API server with no workers
of its own (``assay serve --workers 0``) usually has no sandbox. ``check["reference_run"]``
says which (``on``) and, for a queued check of a version that must pass before it
counts, that the worker makes it current when it passes (``promote``). A queued check
is ended by the queue (lease, attempts, ``fail_check``); a server's thread that died
leaves "running", which reads as "could not run" after
``assignments.CHECK_INTERRUPTED_AFTER``.

Uploads over the API (``assay assignment upload``) run the check before they answer
(``create_checked``, ``upload_checked``); a queued one is waited for up to
``Settings.reference_check_wait_s``, then the answer says "running" (202) and the client polls the
versions. A version whose check did not pass (failed, could not run, never ran)
reaches students only with an explicit ``force``: it is not published
(``require_publishable``), and a new version of a published assignment is not stored
(queued: stored, not current, and removed when its check fails), unless forced; the
audit log records each forced one.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Unpack

from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from assay.errors import AssayError, ConflictError, NotFoundError, SandboxError
from assay.grading.checking import CheckReport, check_package
from assay.grading.loader import load_package
from assay.queue import ClaimedJob
from assay.sandbox.base import SandboxBackend
from assay.services.actor import Actor
from assay.services.catalog import assignments, packages
from assay.services.catalog.assignments import AssignmentOut
from assay.services.identity import audit
from assay.services.identity.access import require_staff
from assay.services.platform import Platform
from assay.storage.blobs import get_blob
from assay.storage.models import (
    Assignment,
    AssignmentVersion,
    JobKind,
    Lane,
    User,
    utcnow,
)

log = logging.getLogger(__name__)

CheckStatus = Literal["running", "passed", "failed", "error"]
RunsOn = Literal["server", "workers"]

POLL_INTERVAL_S = 0.25
_ERROR_CHARS = 2000  # of a failed job's error kept with the check (staff read it)


class CheckedSubmission(BaseModel):
    label: str  # "solution" or the known-bad path
    expectation: str
    score: float | None
    max_score: float | None
    ok: bool
    problem: str


class ReferenceCheck(BaseModel):
    status: CheckStatus
    started_at: datetime
    finished_at: datetime | None = None
    entries: list[CheckedSubmission] = []
    problems: list[str] = []  # about the package as a whole
    error: str = ""  # why the check could not run


class CheckedAssignmentOut(AssignmentOut):
    """An assignment after an upload, with the check its new version got."""

    reference: ReferenceCheck
    # the number of the uploaded version (``version`` is the current one: the same,
    # unless the new one waits for its check to pass; None: it was removed, refused)
    reference_version: int | None = None


class VersionOut(BaseModel):
    number: int
    current: bool
    created_at: datetime
    uploaded_by: str
    title: str
    max_score: float
    tests: int
    reference: ReferenceCheck | None


def list_versions(platform: Platform, actor: Actor, assignment_id: int) -> list[VersionOut]:
    """Every package version, newest first, with its reference check (staff)."""
    with platform.db.reading() as session:
        assignment = assignments.get_for(session, actor, assignment_id, staff=True)
        rows = session.execute(
            select(AssignmentVersion, User.username)
            .outerjoin(User, User.id == AssignmentVersion.uploaded_by_id)
            .where(AssignmentVersion.assignment_id == assignment.id)
            .order_by(AssignmentVersion.number.desc())
        )
        return [
            _version_out(v, who or "", current=v.id == assignment.current_version_id)
            for v, who in rows
        ]


def _version_out(version: AssignmentVersion, uploaded_by: str, *, current: bool) -> VersionOut:
    summary: dict[str, Any] = version.check.get("summary", {})
    return VersionOut(
        number=version.number,
        current=current,
        created_at=version.created_at,
        uploaded_by=uploaded_by,
        title=str(summary.get("title", "")),
        max_score=version.max_score,
        tests=int(summary.get("tests", 0)),
        reference=_stored(version),
    )


def _stored(version: AssignmentVersion) -> ReferenceCheck | None:
    raw = assignments.stored_reference(version)  # a server's dead thread: an error
    if raw is None:
        return None
    try:
        return ReferenceCheck.model_validate(raw)
    except ValidationError:
        return None


def runs_on(platform: Platform, embedded_workers: int | None) -> RunsOn:
    """Where this server's reference checks run (``Settings.reference_checks``): auto
    is on the workers when the server has no embedded ones (``embedded_workers`` 0:
    ``assay serve --workers 0``), else here (None: no ``assay serve``, e.g. a test's app)."""
    setting = platform.settings.reference_checks
    if setting != "auto":
        return setting
    return "workers" if embedded_workers == 0 else "server"


def start_reference_check(
    platform: Platform, actor: Actor, assignment_id: int, *, on: RunsOn = "server"
) -> ReferenceCheck:
    """Mark the current version's check as running and run it in a background thread
    (``on="server"``) or queue it for the workers."""
    version_id, running = _begin(platform, actor, assignment_id, on)
    if on == "workers":
        platform.queue.notify()
        return running
    threading.Thread(
        target=_run_and_store,
        args=(platform, version_id, running),
        name=f"refcheck-{version_id}",
        daemon=True,
    ).start()
    return running


def check_reference(platform: Platform, actor: Actor, assignment_id: int) -> ReferenceCheck:
    """Check the current version against its reference solution, now (staff)."""
    version_id, running = _begin(platform, actor, assignment_id, "server")
    return _run_and_store(platform, version_id, running)


def _begin(
    platform: Platform, actor: Actor, assignment_id: int, on: RunsOn
) -> tuple[int, ReferenceCheck]:
    with platform.db.session() as session:
        assignment = assignments.get_for(session, actor, assignment_id, staff=True)
        version = assignment.current_version
        if version is None:
            raise NotFoundError("the assignment has no package yet")
        running = ReferenceCheck(status="running", started_at=utcnow())
        _store(version, running, run={"on": on})
        if on == "workers":
            _enqueue(platform, session, version)
        audit.record(
            session,
            actor,
            "assignment.check",
            f"assignment:{assignment.id}",
            version=version.number,
        )
        return version.id, running


def _enqueue(platform: Platform, session: Session, version: AssignmentVersion) -> None:
    """Queue the version's check for the workers (inside the caller's transaction);
    a check of it still queued is replaced."""
    platform.queue.enqueue(
        session,
        JobKind.CHECK,
        version.id,
        lane=Lane.INTERACTIVE,  # staff wait for it; rare and short
        dedupe_key=f"check:{version.id}",
    )


def _run_and_store(platform: Platform, version_id: int, running: ReferenceCheck) -> ReferenceCheck:
    try:
        with platform.db.session() as session:
            version = session.get(AssignmentVersion, version_id)
            assert version is not None  # noqa: S101 - _begin found it
            data = get_blob(session, version.package_sha256)
        report = _grade(data, platform.backend, platform.settings.grading_parallel_runs)
        result = _from_report(report, running.started_at)
    except AssayError as exc:
        result = _failed(running, exc.message)
    except Exception as exc:  # a background thread: record it rather than vanish
        log.exception("reference check of package version %s crashed", version_id)
        result = _failed(running, f"{type(exc).__name__}: {exc}")
    try:
        with platform.db.session() as session:
            version = session.get(AssignmentVersion, version_id)
            if version is not None:
                _store(version, result)
    except AssayError:  # the platform closed under us (shutdown)
        log.warning("could not store the reference check of version %s", version_id)
    return result


# --- the check as a job on the workers ------------------------------------------------

_finished = threading.Condition()


def run_check_job(platform: Platform, job: ClaimedJob, worker_id: str) -> None:
    """The CHECK job's handler (on a worker): check the version on this worker's sandbox
    and store the result with the job's completion; a version to ``promote`` that passed
    becomes its assignment's current one.

    A package the check cannot load, or whose submissions do not grade, is a result
    (``error``/``failed``); a sandbox failure raises (the job is retried, then
    ``fail_check`` records it)."""
    with platform.db.session() as session:
        version = session.get(AssignmentVersion, job.target_id)
        if version is None:  # removed (a refused upload) before a worker got to it
            platform.queue.finish(session, job.id, worker_id, error="package version not found")
            return
        running = _stored(version)
        if running is None or running.status != "running":
            running = ReferenceCheck(status="running", started_at=utcnow())
        data = get_blob(session, version.package_sha256)
    try:
        report = _grade(data, platform.backend, platform.settings.grading_parallel_runs)
        result = _from_report(report, running.started_at)
    except SandboxError:
        raise  # ours: another attempt, maybe on another worker
    except AssayError as exc:  # the package's: it could not be loaded or graded
        result = _failed(running, exc.message)
    with platform.db.session() as session:
        if not platform.queue.finish(session, job.id, worker_id):
            session.rollback()  # no longer ours: another worker records it
            return
        version = session.get(AssignmentVersion, job.target_id)
        if version is not None:
            _finish_run(session, version, result)
    notify_finished()


def _finish_run(session: Session, version: AssignmentVersion, result: ReferenceCheck) -> None:
    run = dict(version.check.get("reference_run") or {})
    if run.pop("promote", False) and result.status == "passed":
        assignments.make_current(session, version)
    _store(version, result, run=run)


def fail_check(session: Session, version_id: int, error: str) -> None:
    """The CHECK job's fail handler: its attempts are used up (inside the caller's
    transaction): the check could not run. ``error`` is for staff (who read checks)."""
    version = session.get(AssignmentVersion, version_id)
    if version is None:
        return
    running = _stored(version) or ReferenceCheck(status="running", started_at=utcnow())
    if running.status == "running":
        _finish_run(
            session, version, _failed(running, f"the workers failed: {error}"[:_ERROR_CHARS])
        )
    notify_finished()


def notify_finished() -> None:
    """Wake this process's waiters (a check was recorded)."""
    with _finished:
        _finished.notify_all()


def wait_for_check(platform: Platform, version_id: int, timeout_s: float) -> ReferenceCheck | None:
    """The version's check when it is no longer running, or as it is after ``timeout_s``
    (workers in this process wake the waiter at once; others are polled). None: the
    version is gone or never checked."""
    deadline = time.monotonic() + timeout_s
    while True:
        with platform.db.reading() as session:
            version = session.get(AssignmentVersion, version_id)
            check = _stored(version) if version is not None else None
        left = deadline - time.monotonic()
        if check is None or check.status != "running" or left <= 0:
            return check
        with _finished:
            _finished.wait(min(POLL_INTERVAL_S, left))


def _grade(data: bytes, backend: SandboxBackend, parallel_runs: int) -> CheckReport:
    with tempfile.TemporaryDirectory(prefix="assay-refcheck-") as tmp:
        archive = Path(tmp) / "package.tar.gz"
        archive.write_bytes(data)
        with load_package(archive) as package:
            return check_package(package, backend, parallel_runs=parallel_runs)


def _from_report(report: CheckReport, started_at: datetime) -> ReferenceCheck:
    return ReferenceCheck(
        status="passed" if report.ok else "failed",
        started_at=started_at,
        finished_at=utcnow(),
        problems=list(report.problems),
        entries=[
            CheckedSubmission(
                label=e.label,
                expectation=e.expectation,
                score=e.report.score if e.report is not None else None,
                max_score=e.report.max_score if e.report is not None else None,
                ok=e.ok,
                problem=e.problem,
            )
            for e in report.entries
        ],
    )


def _failed(running: ReferenceCheck, why: str) -> ReferenceCheck:
    return running.model_copy(update={"status": "error", "finished_at": utcnow(), "error": why})


def _store(
    version: AssignmentVersion, check: ReferenceCheck, *, run: dict[str, Any] | None = None
) -> None:
    # a new dict: the JSON column notices assignment, not changes inside its value
    version.check = {**version.check, "reference": check.model_dump(mode="json")} | (
        {"reference_run": run} if run is not None else {}
    )


# --- uploads that are checked before they answer, and publishing ---------------------------


def check_package_bytes(platform: Platform, data: bytes) -> ReferenceCheck:
    """The reference check of a package archive, run now (it is not stored)."""
    running = ReferenceCheck(status="running", started_at=utcnow())
    try:
        report = _grade(data, platform.backend, platform.settings.grading_parallel_runs)
    except AssayError as exc:
        return _failed(running, exc.message)
    except Exception as exc:  # recorded as "could not run", as the background check does
        log.exception("reference check of an uploaded package crashed")
        return _failed(running, f"{type(exc).__name__}: {exc}")
    return _from_report(report, running.started_at)


def describe(check: ReferenceCheck | None) -> str:
    """The check in one phrase for messages: "passed", "failed: ...", "never ran"."""
    if check is None:
        return "never ran"
    if check.status == "error":
        return f"could not run: {check.error}"
    if check.status == "failed":
        why = [*check.problems, *(e.problem for e in check.entries if not e.ok and e.problem)]
        return "failed: " + ("; ".join(why) or "see the assignment page")
    return "is still running" if check.status == "running" else "passed"


def create_checked(
    platform: Platform,
    actor: Actor,
    course_id: int,
    data: bytes,
    filename: str = "package.tar.gz",
    *,
    force: bool = False,
    on: RunsOn = "server",
    **settings: Unpack[assignments.NewAssignment],
) -> CheckedAssignmentOut:
    """A new assignment (``settings`` as ``assignments.create_assignment`` takes them)
    from a package whose reference check runs first (``on`` the workers: queued and
    waited for); ``publish`` with a check that did not pass is refused (nothing is
    created) unless ``force``. Queued and not done in time: created unpublished."""
    publish = settings.get("publish", False)
    with platform.db.reading() as session:
        require_staff(session, actor, course_id)  # only staff make the server grade
    refusal = "not created"
    advice = (
        "Fix the package, upload it without publishing to keep it hidden, or "
        "publish it anyway with force"
    )
    if on == "server":
        return _checked(
            platform,
            data,
            filename,
            gated=publish,
            force=force,
            refusal=refusal,
            advice=advice,
            store=lambda reference, forced: assignments.create_assignment(
                platform,
                actor,
                course_id,
                data,
                filename,
                reference=reference,
                forced=forced,
                **settings,
            ),
        )
    packages.validate(data, filename)  # a broken package: its own clear 400 first
    queued = _Queued(platform)
    created = assignments.create_assignment(
        platform,
        actor,
        course_id,
        data,
        filename,
        on_stored=queued.on_stored(promote=False),
        **(settings | {"publish": False}),
    )
    check = queued.wait()
    if publish and check.status == "running" and not force:
        pass  # stays hidden: publishing it waits for the check (require_publishable)
    elif publish and (check.status == "passed" or force):
        _publish(platform, actor, created.id, check, forced=check.status != "passed")
    elif publish:
        _remove(platform, Assignment, created.id)
        raise ConflictError(f"{refusal}: the package's reference check {describe(check)}. {advice}")
    return _answer(platform, actor, created.id, check, queued.number)


def upload_checked(
    platform: Platform,
    actor: Actor,
    assignment_id: int,
    data: bytes,
    filename: str,
    *,
    force: bool = False,
    on: RunsOn = "server",
) -> CheckedAssignmentOut:
    """A new package version whose reference check runs first (``on`` the workers:
    queued and waited for). Of a published assignment (students would be graded
    against it at once), a version that does not pass is refused (nothing stored)
    unless ``force``; queued and not done in time, it is stored but not current until
    its check passes (a worker then makes it current)."""
    with platform.db.reading() as session:
        published = assignments.get_for(session, actor, assignment_id, staff=True).published
    refusal = "not uploaded"
    advice = (
        "The assignment is published, so students would be graded against it: fix "
        "the package, or upload it anyway with force"
    )
    if on == "server":
        return _checked(
            platform,
            data,
            filename,
            gated=published,
            force=force,
            refusal=refusal,
            advice=advice,
            store=lambda reference, forced: assignments.upload_version(
                platform,
                actor,
                assignment_id,
                data,
                filename,
                reference=reference,
                forced=forced,
            ),
        )
    packages.validate(data, filename)
    queued = _Queued(platform)
    assignments.upload_version(
        platform,
        actor,
        assignment_id,
        data,
        filename,
        current=not published,
        on_stored=queued.on_stored(promote=published),
    )
    check = queued.wait()
    if published and check.status not in ("passed", "running"):
        if not force:
            _remove(platform, AssignmentVersion, queued.version_id)
            raise ConflictError(
                f"{refusal}: the package's reference check {describe(check)}. {advice}"
            )
        _make_current(platform, actor, assignment_id, queued.version_id, check)
    elif published and check.status == "running" and force:
        _make_current(platform, actor, assignment_id, queued.version_id, check)
    return _answer(platform, actor, assignment_id, check, queued.number)


class _Queued:
    """An upload whose check is queued in the transaction that stores its version."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.version_id = 0
        self.number = 0

    def on_stored(self, *, promote: bool) -> assignments.OnStored:
        def queue(session: Session, version: AssignmentVersion) -> None:
            running = ReferenceCheck(status="running", started_at=utcnow())
            _store(version, running, run={"on": "workers", "promote": promote})
            _enqueue(self.platform, session, version)
            self.version_id, self.number = version.id, version.number

        return queue

    def wait(self) -> ReferenceCheck:
        self.platform.queue.notify()  # committed: this process's workers (if any) may take it
        wait_s = self.platform.settings.reference_check_wait_s
        check = wait_for_check(self.platform, self.version_id, wait_s)
        if check is None:  # removed meanwhile (the assignment deleted)
            raise NotFoundError("the uploaded version is gone")
        return check


def _publish(
    platform: Platform, actor: Actor, assignment_id: int, check: ReferenceCheck, *, forced: bool
) -> None:
    with platform.db.session() as session:
        assignment = assignments.get_for(session, actor, assignment_id, staff=True)
        assignment.published = True
        audit.record(
            session,
            actor,
            "assignment.publish_forced" if forced else "assignment.update",
            f"assignment:{assignment_id}",
            published=True,
            check=check.status,
        )


def _make_current(
    platform: Platform, actor: Actor, assignment_id: int, version_id: int, check: ReferenceCheck
) -> None:
    """A forced version that waited for its check becomes current now (audited)."""
    with platform.db.session() as session:
        version = session.get_one(AssignmentVersion, version_id)
        run = dict(version.check.get("reference_run") or {})
        run.pop("promote", None)  # not again when its check ends
        version.check = {**version.check, "reference_run": run}
        assignments.make_current(session, version)
        audit.record(
            session,
            actor,
            "assignment.version_forced",
            f"assignment:{assignment_id}",
            number=version.number,
            check=check.status,
        )


def _remove(
    platform: Platform, table: type[Assignment] | type[AssignmentVersion], id_: int
) -> None:
    """Remove what a refused upload stored (an assignment, or a version not current)."""
    with platform.db.session() as session:
        session.execute(delete(table).where(table.id == id_))


def _answer(
    platform: Platform, actor: Actor, assignment_id: int, check: ReferenceCheck, number: int
) -> CheckedAssignmentOut:
    out = assignments.get_assignment(platform, actor, assignment_id)
    return CheckedAssignmentOut(**out.model_dump(), reference=check, reference_version=number)


def _checked(
    platform: Platform,
    data: bytes,
    filename: str,
    *,
    gated: bool,
    force: bool,
    refusal: str,
    advice: str,
    store: Callable[[dict[str, Any], bool], AssignmentOut],
) -> CheckedAssignmentOut:
    """Validate the package, run its reference check here, then ``store`` it with the
    check and whether it is ``forced`` in (``gated``: it must pass, unless ``force``;
    when it does not, a 409 that starts with ``refusal`` and ends with ``advice``)."""
    packages.validate(data, filename)  # a broken package: its own clear 400 first
    check = check_package_bytes(platform, data)
    if gated and check.status != "passed" and not force:
        raise ConflictError(f"{refusal}: the package's reference check {describe(check)}. {advice}")
    out = store(check.model_dump(mode="json"), gated and check.status != "passed")
    return CheckedAssignmentOut(**out.model_dump(), reference=check, reference_version=out.version)


def require_publishable(
    platform: Platform, actor: Actor, assignment_id: int, *, force: bool = False
) -> None:
    """Before publishing: the current version's check must have passed, or ``force``
    be given (then the audit log records ``assignment.publish_forced``). An assignment
    already published, or with no package, passes."""
    with platform.db.session() as session:
        assignment = assignments.get_for(session, actor, assignment_id, staff=True)
        version = assignment.current_version
        if assignment.published or version is None:
            return
        check = _stored(version)
        if check is not None and check.status == "passed":
            return
        if not force:
            raise ConflictError(
                f"not published: the reference check of version {version.number} "
                f"{describe(check)}. Run the check and fix the package, or publish it "
                "anyway with force"
            )
        audit.record(
            session,
            actor,
            "assignment.publish_forced",
            f"assignment:{assignment.id}",
            version=version.number,
            check=check.status if check is not None else "never ran",
        )
