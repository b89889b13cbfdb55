"""An assignment's package versions and their check against the reference solution.

Uploading a version only validates the package (``packages.validate``). Staff also
need to know the package grades correctly: its reference solution gets full marks
and each known-bad submission does not (``grading.checking``, the same check as
``assay assignment check``). That grades several submissions and takes seconds,
so the pages start it in a background thread and the result is kept with the
version (``AssignmentVersion.check["reference"]``); the page shows it when done.

A check that could not run (no sandbox on this web server, a crash) is recorded
as ``error`` with the reason: the package is then neither proven nor refuted.

Uploads over the API (``assay assignment upload``) run the check before they answer
(``create_checked``, ``upload_checked``). A version whose check did not pass (failed,
could not run, never ran) reaches students only with an explicit ``force``: it is
not published (``require_publishable``), and a new version of a published assignment
is not stored, unless forced; the audit log records each forced one.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Unpack

from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from assay.errors import AssayError, ConflictError, NotFoundError
from assay.grading.checking import CheckReport, check_package
from assay.grading.loader import load_package
from assay.sandbox.base import SandboxBackend
from assay.services.actor import Actor
from assay.services.catalog import assignments, packages
from assay.services.catalog.assignments import AssignmentOut
from assay.services.identity import audit
from assay.services.identity.access import require_staff
from assay.services.platform import Platform
from assay.storage.blobs import get_blob
from assay.storage.models import AssignmentVersion, User, utcnow

log = logging.getLogger(__name__)

CheckStatus = Literal["running", "passed", "failed", "error"]


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
    raw = version.check.get("reference")
    if raw is None:
        return None
    try:
        return ReferenceCheck.model_validate(raw)
    except ValidationError:
        return None


def start_reference_check(platform: Platform, actor: Actor, assignment_id: int) -> ReferenceCheck:
    """Mark the current version's check as running and run it in a background thread."""
    version_id, running = _begin(platform, actor, assignment_id)
    threading.Thread(
        target=_run_and_store,
        args=(platform, version_id, running),
        name=f"refcheck-{version_id}",
        daemon=True,
    ).start()
    return running


def check_reference(platform: Platform, actor: Actor, assignment_id: int) -> ReferenceCheck:
    """Check the current version against its reference solution, now (staff)."""
    version_id, running = _begin(platform, actor, assignment_id)
    return _run_and_store(platform, version_id, running)


def _begin(platform: Platform, actor: Actor, assignment_id: int) -> tuple[int, ReferenceCheck]:
    with platform.db.session() as session:
        assignment = assignments.get_for(session, actor, assignment_id, staff=True)
        version = assignment.current_version
        if version is None:
            raise NotFoundError("the assignment has no package yet")
        running = ReferenceCheck(status="running", started_at=utcnow())
        _store(version, running)
        audit.record(
            session,
            actor,
            "assignment.check",
            f"assignment:{assignment.id}",
            version=version.number,
        )
        return version.id, running


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


def _store(version: AssignmentVersion, check: ReferenceCheck) -> None:
    # a new dict: the JSON column notices assignment, not changes inside its value
    version.check = {**version.check, "reference": check.model_dump(mode="json")}


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
    **settings: Unpack[assignments.NewAssignment],
) -> CheckedAssignmentOut:
    """A new assignment (``settings`` as ``assignments.create_assignment`` takes them)
    from a package whose reference check runs first; ``publish`` with a check that did
    not pass is refused (nothing is created) unless ``force``."""
    publish = settings.get("publish", False)
    with platform.db.reading() as session:
        require_staff(session, actor, course_id)  # only staff make the server grade
    return _checked(
        platform,
        data,
        filename,
        gated=publish,
        force=force,
        refusal="not created",
        advice="Fix the package, upload it without publishing to keep it hidden, or "
        "publish it anyway with force",
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


def upload_checked(
    platform: Platform,
    actor: Actor,
    assignment_id: int,
    data: bytes,
    filename: str,
    *,
    force: bool = False,
) -> CheckedAssignmentOut:
    """A new package version whose reference check runs first. Of a published
    assignment (students would be graded against it at once), a version that does not
    pass is refused (nothing stored) unless ``force``."""
    with platform.db.reading() as session:
        published = assignments.get_for(session, actor, assignment_id, staff=True).published
    return _checked(
        platform,
        data,
        filename,
        gated=published,
        force=force,
        refusal="not uploaded",
        advice="The assignment is published, so students would be graded against it: fix "
        "the package, or upload it anyway with force",
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
    """Validate the package, run its reference check, then ``store`` it with the check
    and whether it is ``forced`` in (``gated``: it must pass, unless ``force``; when it
    does not, a 409 that starts with ``refusal`` and ends with ``advice``)."""
    packages.validate(data, filename)  # a broken package: its own clear 400 first
    check = check_package_bytes(platform, data)
    if gated and check.status != "passed" and not force:
        raise ConflictError(f"{refusal}: the package's reference check {describe(check)}. {advice}")
    out = store(check.model_dump(mode="json"), gated and check.status != "passed")
    return CheckedAssignmentOut(**out.model_dump(), reference=check)


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
