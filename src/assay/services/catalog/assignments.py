"""Assignments: packages uploaded and versioned, release and due dates, publishing."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.errors import ConflictError, InvalidRequestError, NotFoundError
from assay.grading.package import MANIFEST, parse_manifest
from assay.grading.scoring import BestPolicy, LatePolicy
from assay.grading.spec import AssignmentSpec
from assay.services.actor import Actor
from assay.services.catalog import packages
from assay.services.catalog.courses import COURSE_CODE
from assay.services.identity import audit
from assay.services.identity.access import STAFF, course_role, require_member, require_staff
from assay.services.platform import Platform
from assay.storage.blobs import get_blob, put_blob
from assay.storage.models import Assignment, AssignmentVersion, Role, utcnow
from assay.storage.upsert import insert_new


class AssignmentOut(BaseModel):
    id: int
    course_id: int
    slug: str
    title: str
    published: bool
    release_at: datetime | None
    due_at: datetime | None
    late_policy: LatePolicy
    best_policy: BestPolicy
    version: int | None
    max_score: float
    environment: str
    tests: int
    statement: str
    # the current version's check against its reference solution: passed, failed,
    # error (could not run), running; None: it never ran
    reference_check: str | None = None


class NewAssignment(TypedDict, total=False):
    """The settings ``create_assignment`` takes by keyword, for a service that passes
    them on (``refcheck.create_checked``); a missing one has that function's default."""

    slug: str | None
    release_at: datetime | None
    due_at: datetime | None
    late_policy: LatePolicy | None
    best_policy: BestPolicy
    publish: bool


OnStored = Callable[[Session, AssignmentVersion], None]


def late_policy(assignment: Assignment) -> LatePolicy:
    """The assignment's stored late policy (the defaults where none is stored)."""
    return LatePolicy.model_validate(assignment.late_policy or {})


def assignment_out(session: Session, assignment: Assignment) -> AssignmentOut:
    version = assignment.current_version
    summary: dict[str, Any] = version.check.get("summary", {}) if version is not None else {}
    return AssignmentOut(
        id=assignment.id,
        course_id=assignment.course_id,
        slug=assignment.slug,
        title=assignment.title,
        published=assignment.published,
        release_at=assignment.release_at,
        due_at=assignment.due_at,
        late_policy=late_policy(assignment),
        best_policy=BestPolicy(assignment.best_policy),
        version=version.number if version is not None else None,
        max_score=version.max_score if version is not None else 0.0,
        environment=str(summary.get("environment", "")),
        tests=int(summary.get("tests", 0)),
        statement=str(summary.get("statement", "")),
        reference_check=reference_status(version),
    )


# A check run by an API server's own thread that still says "running" after this long
# was cut off (the server stopped or restarted): it is shown as "could not run". A
# check queued for the workers never is: the queue's lease and attempts end it.
CHECK_INTERRUPTED_AFTER = timedelta(minutes=15)


def stored_reference(version: AssignmentVersion | None) -> dict[str, Any] | None:
    """The version's stored reference check (``check["reference"]``), a stale one of a
    server's thread (``CHECK_INTERRUPTED_AFTER``) as the error it is; None: never ran."""
    raw = version.check.get("reference") if version is not None else None
    if version is None or not isinstance(raw, dict):
        return None
    run = version.check.get("reference_run")
    on_workers = isinstance(run, dict) and run.get("on") == "workers"
    if raw.get("status") != "running" or on_workers:
        return raw
    try:
        started = datetime.fromisoformat(str(raw.get("started_at")))
    except ValueError:
        started = None
    if started is not None and started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    if started is not None and utcnow() - started < CHECK_INTERRUPTED_AFTER:
        return raw
    return raw | {
        "status": "error",
        "error": "interrupted: the server running the check stopped before it ended",
    }


def reference_status(version: AssignmentVersion | None) -> str | None:
    """The stored status of the version's reference check (None: it never ran)."""
    raw = stored_reference(version)
    status = raw.get("status") if raw is not None else None
    return str(status) if status is not None else None


def _add_version(
    session: Session,
    actor: Actor,
    assignment: Assignment,
    data: bytes,
    summary: packages.PackageSummary,
    *,
    reference: dict[str, Any] | None = None,
    current: bool = True,
    on_stored: OnStored | None = None,
) -> AssignmentVersion:
    # The assignment's row is locked first, so two uploads at once number their
    # versions one after the other instead of both taking the same next number.
    session.execute(select(Assignment.id).where(Assignment.id == assignment.id).with_for_update())
    number = (
        session.scalar(
            select(func.max(AssignmentVersion.number)).where(
                AssignmentVersion.assignment_id == assignment.id
            )
        )
        or 0
    ) + 1
    version = AssignmentVersion(
        assignment_id=assignment.id,
        number=number,
        package_sha256=put_blob(session, data),
        max_score=summary.max_score,
        check={"summary": summary.model_dump()}
        | ({"reference": reference} if reference is not None else {}),
        uploaded_by_id=actor.user_id,
    )
    session.add(version)
    session.flush()
    if current:
        assignment.current_version = version
    if on_stored is not None:
        on_stored(session, version)
    if not assignment.title or assignment.title == assignment.slug:
        assignment.title = summary.title
    return version


def create_assignment(
    platform: Platform,
    actor: Actor,
    course_id: int,
    data: bytes,
    filename: str = "package.tar.gz",
    *,
    slug: str | None = None,
    release_at: datetime | None = None,
    due_at: datetime | None = None,
    late_policy: LatePolicy | None = None,
    best_policy: BestPolicy = BestPolicy.MOST_PASSED,
    publish: bool = False,
    reference: dict[str, Any] | None = None,
    forced: bool = False,
    on_stored: OnStored | None = None,
) -> AssignmentOut:
    """Create an assignment from an uploaded package (staff). Its name is the slug.

    ``reference``: the package's reference check, already run (``refcheck``), stored
    with the version; ``forced``: published although that check did not pass (audited);
    ``on_stored``: called with the new version inside the transaction that stores it.
    """
    release_at, due_at = _in_utc(release_at), _in_utc(due_at)
    if slug is not None and not COURSE_CODE.match(slug):  # package names fit it too
        raise InvalidRequestError("a slug is 1-64 letters, digits, '.', '_' or '-'")
    with platform.db.reading() as session:
        # before the package is unpacked: only the course's staff make the server do that
        require_staff(session, actor, course_id)
    # unpacked and checked before the write transaction, which would hold SQLite's lock
    summary = packages.validate(data, filename)
    slug = slug or summary.name
    with platform.db.session() as session:
        require_staff(session, actor, course_id)
        _check_dates(release_at, due_at)
        # one statement, so that the same slug created twice at once gives a 409
        assignment_id = insert_new(
            session,
            Assignment,
            {
                "course_id": course_id,
                "slug": slug,
                "title": summary.title,
                "release_at": release_at,
                "due_at": due_at,
                "late_policy": (late_policy or LatePolicy()).model_dump(),
                "best_policy": best_policy,
                "published": publish,
            },
            key=["course_id", "slug"],
            returning=Assignment.id,
        )
        if assignment_id is None:
            raise ConflictError(
                f"the course already has an assignment {slug!r}; upload a new version of it"
            )
        assignment = session.get_one(Assignment, assignment_id)
        _add_version(
            session, actor, assignment, data, summary, reference=reference, on_stored=on_stored
        )
        audit.record(
            session,
            actor,
            "assignment.create",
            f"assignment:{assignment.id}",
            slug=slug,
            **_check_detail(reference, forced),
        )
        return assignment_out(session, assignment)


def upload_version(
    platform: Platform,
    actor: Actor,
    assignment_id: int,
    data: bytes,
    filename: str,
    *,
    reference: dict[str, Any] | None = None,
    forced: bool = False,
    current: bool = True,
    on_stored: OnStored | None = None,
) -> AssignmentOut:
    """A new package version; new submissions are graded against it (staff).
    ``reference``, ``forced`` and ``on_stored`` as for ``create_assignment``;
    ``current=False``: stored, but the current version stays (see ``make_current``)."""
    with platform.db.reading() as session:
        _get(session, actor, assignment_id, staff=True)  # staff only make the server unpack it
    # unpacked and checked before the write transaction, which would hold SQLite's lock
    summary = packages.validate(data, filename)
    with platform.db.session() as session:
        assignment = _get(session, actor, assignment_id, staff=True)
        version = _add_version(
            session,
            actor,
            assignment,
            data,
            summary,
            reference=reference,
            current=current,
            on_stored=on_stored,
        )
        audit.record(
            session,
            actor,
            "assignment.version",
            f"assignment:{assignment.id}",
            number=version.number,
            **_check_detail(reference, forced),
        )
        return assignment_out(session, assignment)


def make_current(session: Session, version: AssignmentVersion) -> bool:
    """Make a stored version its assignment's current one, unless a newer version is
    current already (inside the caller's transaction). True: it is current now."""
    assignment = session.get_one(Assignment, version.assignment_id, with_for_update=True)
    now = assignment.current_version
    if now is not None and now.number > version.number:
        return False
    assignment.current_version = version
    return True


def _check_detail(reference: dict[str, Any] | None, forced: bool) -> dict[str, Any]:
    """The audit details of an upload whose reference check ran."""
    if reference is None:
        return {}
    return {"check": reference.get("status"), "forced": forced}


def update_assignment(
    platform: Platform,
    actor: Actor,
    assignment_id: int,
    *,
    title: str | None = None,
    published: bool | None = None,
    release_at: datetime | None = None,
    due_at: datetime | None = None,
    clear_release: bool = False,
    clear_due: bool = False,
    late_policy: LatePolicy | None = None,
    best_policy: BestPolicy | None = None,
) -> AssignmentOut:
    release_at, due_at = _in_utc(release_at), _in_utc(due_at)
    with platform.db.session() as session:
        assignment = _get(session, actor, assignment_id, staff=True)
        changes: dict[str, Any] = {}
        if title is not None:
            if not title.strip():
                raise InvalidRequestError("the title may not be empty")
            assignment.title = changes["title"] = title.strip()
        if published is not None:
            assignment.published = changes["published"] = published
        if release_at is not None or clear_release:
            assignment.release_at = None if clear_release else release_at
            changes["release_at"] = str(assignment.release_at)
        if due_at is not None or clear_due:
            assignment.due_at = None if clear_due else due_at
            changes["due_at"] = str(assignment.due_at)
        if late_policy is not None:
            assignment.late_policy = changes["late_policy"] = late_policy.model_dump()
        if best_policy is not None:
            assignment.best_policy = changes["best_policy"] = best_policy
        _check_dates(assignment.release_at, assignment.due_at)
        audit.record(session, actor, "assignment.update", f"assignment:{assignment.id}", **changes)
        return assignment_out(session, assignment)


def get_assignment(platform: Platform, actor: Actor, assignment_id: int) -> AssignmentOut:
    with platform.db.reading() as session:
        return assignment_out(session, _get(session, actor, assignment_id))


def list_assignments(platform: Platform, actor: Actor, course_id: int) -> list[AssignmentOut]:
    with platform.db.reading() as session:
        role = require_member(session, actor, course_id)
        rows = session.scalars(
            select(Assignment).where(Assignment.course_id == course_id).order_by(Assignment.id)
        )
        return [
            assignment_out(session, a) for a in rows if role in STAFF or is_visible_to_students(a)
        ]


def is_visible_to_students(assignment: Assignment) -> bool:
    released = assignment.release_at is None or assignment.release_at <= utcnow()
    return assignment.published and released


def package_root(platform: Platform, digest: str) -> Path:
    """The package version ``digest`` unpacked in the platform's package cache (the
    one the workers use): unpacked once, then read from there."""

    def read() -> bytes:
        with platform.db.reading() as session:
            return get_blob(session, digest)

    return packages.unpacked(Path(platform.settings.state_dir) / "packages", digest, read)


def package_spec(platform: Platform, digest: str) -> AssignmentSpec:
    """The manifest of the package version ``digest`` (read outside any session).

    Parsed once per process and version: a version's package never changes (its
    digest is its content), and every submission needs its required files."""
    root = package_root(platform, digest)
    return _parsed_manifest(str(root / MANIFEST))


@functools.lru_cache(maxsize=256)
def _parsed_manifest(path: str) -> AssignmentSpec:
    """The manifest at ``path`` in the package cache (a directory named by the
    package's digest, so the same path always holds the same text)."""
    return parse_manifest(Path(path).read_text(encoding="utf-8"))


def current_digest(assignment: Assignment) -> str | None:
    """The package archive of the assignment's current version (None: no package yet)."""
    version = assignment.current_version
    return version.package_sha256 if version is not None else None


def required_files(platform: Platform, actor: Actor, assignment_id: int) -> list[str]:
    """The files a submission must contain (``[build] required_files``), for the forms."""
    with platform.db.reading() as session:
        digest = current_digest(_get(session, actor, assignment_id))
    if digest is None:
        return []
    return list(package_spec(platform, digest).build.required_files)


def _get(session: Session, actor: Actor, assignment_id: int, *, staff: bool = False) -> Assignment:
    """The assignment if the actor may see it (staff: may change it); NotFound otherwise."""
    if not staff:
        return get_with_role(session, actor, assignment_id)[0]
    assignment = session.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFoundError("no such assignment")
    require_staff(session, actor, assignment.course_id)
    return assignment


def get_with_role(session: Session, actor: Actor, assignment_id: int) -> tuple[Assignment, Role]:
    """``get_for`` (not staff) and the actor's role in the assignment's course, for
    the intake, which needs both: two reads (the assignment, the enrollment). The
    course is not read: an assignment's course exists (a foreign key), so a
    non-member gets the same NotFound as ``access.require_member`` gives."""
    assignment = session.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFoundError("no such assignment")
    role = course_role(session, actor, assignment.course_id)
    if role is None:
        raise NotFoundError("no such course")
    if role is Role.STUDENT and not is_visible_to_students(assignment):
        raise NotFoundError("no such assignment")
    return assignment, role


def get_for(
    session: Session, actor: Actor, assignment_id: int, *, staff: bool = False
) -> Assignment:
    """For other services: the ORM assignment, access checked."""
    return _get(session, actor, assignment_id, staff=staff)


def _in_utc(value: datetime | None) -> datetime | None:
    """A date as given, in UTC; refused without a time zone or out of range in UTC
    (0001-01-01T00:00+14:00 is before the first representable moment)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidRequestError("give dates with a time zone (e.g. 2026-12-01T23:59:00Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidRequestError(f"{value.isoformat()} is out of range") from None


def _check_dates(release_at: datetime | None, due_at: datetime | None) -> None:
    """Dates as ``_in_utc`` made them (or as stored: aware, in UTC) in a sensible order."""
    if release_at is not None and due_at is not None and due_at < release_at:
        raise InvalidRequestError("the due date is before the release date")
