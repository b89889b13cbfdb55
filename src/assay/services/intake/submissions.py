"""Submitting: files stored, a grading run queued, all in one transaction."""

from __future__ import annotations

import base64
import binascii
import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from pydantic import BaseModel
from sqlalchemy import update
from sqlalchemy.orm import Session

from assay.errors import (
    FileNameError,
    FileSetTooLargeError,
    InvalidRequestError,
    PayloadTooLargeError,
    SubmissionError,
)
from assay.files.fileset import File, FileSet
from assay.files.names import check_name, shown
from assay.grading import scoring
from assay.grading.archive import ArchiveLimits, is_archive
from assay.grading.stages import Stage
from assay.grading.submission import load_submission
from assay.services.actor import Actor
from assay.services.catalog import assignments
from assay.services.identity import audit
from assay.services.identity.access import STAFF, submission_owner
from assay.services.intake import progress
from assay.services.platform import Platform
from assay.storage import filesets
from assay.storage.blobs import put_blob_hashed
from assay.storage.models import (
    Assignment,
    GradingRun,
    JobKind,
    Lane,
    Role,
    RunEvent,
    RunReason,
    RunStatus,
    Submission,
    utcnow,
)

MAX_SUBMISSION_BYTES = 16 * 1024 * 1024
MAX_SUBMISSION_FILES = 500
ARCHIVE_LIMITS = ArchiveLimits(
    max_total_bytes=MAX_SUBMISSION_BYTES, max_entries=MAX_SUBMISSION_FILES * 2
)


class SubmissionOut(BaseModel):
    id: int
    assignment_id: int
    user_id: int
    created_at: datetime
    content_sha256: str
    source: str
    git_commit: str | None
    late_minutes: int
    run_id: int
    status: RunStatus
    score: float | None
    max_score: float | None
    tests_passed: int | None = None
    tests_total: int | None = None


@dataclass(frozen=True)
class Admission:
    """A submission that may be stored: what ``admission`` checked and found (the
    assignment, the actor's role in its course, the owner) and the files as they will
    be stored and graded. ``submit_admitted`` stores it without reading any of that
    again."""

    assignment: Assignment
    role: Role | None
    owner: int
    files: FileSet


def submit(
    platform: Platform,
    actor: Actor,
    assignment_id: int,
    files: FileSet,
    *,
    source: str = "upload",
    user_id: int | None = None,
    git_remote: str | None = None,
    git_commit: str | None = None,
    first_events: Sequence[tuple[Stage, str]] = (),
) -> SubmissionOut:
    """Store the files and queue their grading; returns once both are committed.

    ``user_id``: submit on behalf of a member of the assignment's course (its staff, and
    the git webhook as the system; see ``access.submission_owner``).
    ``first_events``: (stage, detail) of work done before the submission existed (the
    git fetch's "cloning"), recorded right after "queued" in the same transaction, so
    no worker can log "started" before them.
    A newer submission of the same student and assignment cancels their older one
    that is still waiting in the queue.
    """
    return submit_admitted(
        platform,
        actor,
        admission(platform, actor, assignment_id, files, user_id=user_id),
        source=source,
        git_remote=git_remote,
        git_commit=git_commit,
        first_events=first_events,
    )


def submit_admitted(
    platform: Platform,
    actor: Actor,
    admitted: Admission,
    *,
    source: str = "upload",
    git_remote: str | None = None,
    git_commit: str | None = None,
    first_events: Sequence[tuple[Stage, str]] = (),
) -> SubmissionOut:
    """``submit`` of what ``admission`` admitted (the routes check before they charge
    the rate limit, then store what they checked). The deadline is checked again, at
    the time the submission is stored."""
    assignment, files = admitted.assignment, admitted.files
    packed = filesets.pack(files)
    packed_sha256 = hashlib.sha256(packed).hexdigest()
    content_sha256 = filesets.content_hash(files)
    now = utcnow()
    late = late_minutes(assignment, now)
    _check_deadline(assignment, admitted.role, late)
    with platform.db.session() as session:
        submission = Submission(
            assignment_id=assignment.id,
            user_id=admitted.owner,
            files_sha256=put_blob_hashed(session, packed_sha256, packed),
            content_sha256=content_sha256,
            source=source,
            git_remote=git_remote,
            git_commit=git_commit,
            late_minutes=late,
            created_at=now,
        )
        session.add(submission)
        session.flush()
        run = queue_run(
            platform,
            session,
            submission,
            assignment,
            reason=RunReason.GIT if git_commit else RunReason.SUBMIT,
            first_events=first_events,
        )
        audit.record(session, actor, "submission.create", f"submission:{submission.id}", run=run.id)
        return submission_out(submission, run)


def admission(
    platform: Platform,
    actor: Actor,
    assignment_id: int,
    files: FileSet,
    *,
    user_id: int | None = None,
) -> Admission:
    """What ``submit`` checks before it stores anything (count and size, access,
    ``user_id``, deadline, required files), or a refusal (the routes call it before
    they charge the rate limit). A single top-level folder holding the required files
    is unwrapped (a zip of one's work folder). The work that needs no write lock: the
    checks only read."""
    _check_files(files)
    assignment, role, owner, digest = _admission(platform, actor, assignment_id, user_id)
    return Admission(assignment, role, owner, _admitted(platform, digest, files))


def _admission(
    platform: Platform, actor: Actor, assignment_id: int, user_id: int | None
) -> tuple[Assignment, Role | None, int, str]:
    """The assignment, the actor's role in its course, the submission's owner and the
    package version's digest, once the actor may submit there now (students: not past
    the late window)."""
    with platform.db.reading() as session:
        assignment, role = assignments.get_with_role(session, actor, assignment_id)
        owner = submission_owner(session, actor, role, assignment.course_id, user_id)
        digest = assignments.current_digest(assignment)
    if digest is None:
        raise InvalidRequestError("the assignment has no package yet")
    _check_deadline(assignment, role, late_minutes(assignment, utcnow()))
    return assignment, role, owner, digest


def _check_deadline(assignment: Assignment, role: Role | None, late: int) -> None:
    """Students may not submit past the late window; staff may."""
    if role not in STAFF and not accepts_late(assignment, late):
        raise InvalidRequestError("the deadline has passed; submissions are closed")


def _admitted(platform: Platform, digest: str, files: FileSet) -> FileSet:
    required = assignments.package_spec(platform, digest).build.required_files
    files = unwrapped(files, required)
    problems = missing_required(files, required)
    if problems:
        raise InvalidRequestError("; ".join(problems))
    return files


def missing_required(files: FileSet, required: Sequence[str]) -> list[str]:
    """What is wrong with the required files, one sentence each: a file missing, or
    sent under a name that differs from the required one (grading would find nothing
    and score 0: refused before it is stored, with both names)."""
    present = [f.path for f in files]
    problems = []
    for name in required:
        if name in present:
            continue
        folded = name.casefold()
        base = PurePosixPath(name).name.casefold()
        same = [p for p in present if p.casefold() == folded]
        elsewhere = [p for p in present if PurePosixPath(p).name.casefold() == base]
        if same:
            problems.append(
                f"{shown(same[0])} differs from the required file {shown(name)} only in case "
                f"(names are case-sensitive): rename it to {shown(name)}"
            )
        elif elsewhere:
            problems.append(
                f"the required file {shown(name)} is missing; {shown(elsewhere[0])} was sent: "
                f"name it {shown(name)}"
            )
        else:
            problems.append(f"the required file {shown(name)} is missing")
    return problems


def unwrapped(files: FileSet, required: Sequence[str]) -> FileSet:
    """``files`` without their one top-level folder, when every file is in it and the
    required files are there but not at the top; ``files`` unchanged otherwise (with no
    required files nothing tells a wrapper from a folder the package expects)."""
    present = {f.path for f in files}
    if not required or all(name in present for name in required):
        return files
    tops = {f.path.split("/", 1)[0] for f in files}
    if len(tops) != 1 or any("/" not in f.path for f in files):
        return files
    prefix = f"{tops.pop()}/"
    if not all(prefix + name in present for name in required):
        return files
    return FileSet(tuple(File(f.path[len(prefix) :], f.data, f.executable) for f in files))


def queue_run(
    platform: Platform,
    session: Session,
    submission: Submission,
    assignment: Assignment,
    *,
    reason: RunReason,
    lane: Lane = Lane.INTERACTIVE,
    dedupe_key: str | None = None,
    first_events: Sequence[tuple[Stage, str]] = (),
) -> GradingRun:
    """A new grading run of ``submission`` against the current version, queued.

    Interactive runs are keyed by assignment and student, so a resubmission cancels
    that student's older queued run; ``dedupe_key`` overrides the key (regrades use
    ``regrade:<submission id>`` so they never cancel a student's own submission).
    ``first_events`` follow "queued" (seq 1, 2, ...), as in :func:`submit`.
    """
    assert assignment.current_version_id is not None  # noqa: S101 - checked by callers
    run = GradingRun(
        submission_id=submission.id,
        version_id=assignment.current_version_id,
        reason=reason,
        status=RunStatus.QUEUED,
    )
    session.add(run)
    session.flush()
    session.add(RunEvent(run_id=run.id, seq=0, stage=Stage.QUEUED, detail=reason))
    for number, (stage, detail) in enumerate(first_events, start=1):
        session.add(
            RunEvent(
                run_id=run.id, seq=number, stage=stage, detail=detail[: progress.MAX_DETAIL_CHARS]
            )
        )
    dedupe = dedupe_key
    if dedupe is None and lane is Lane.INTERACTIVE:
        dedupe = f"{assignment.id}:{submission.user_id}"
    _job, cancelled = platform.queue.enqueue(
        session,
        JobKind.GRADE,
        run.id,
        lane=lane,
        course_id=assignment.course_id,
        dedupe_key=dedupe,
    )
    if cancelled:
        session.execute(
            update(GradingRun)
            .where(GradingRun.id.in_(cancelled), GradingRun.status == RunStatus.QUEUED)
            .values(status=RunStatus.CANCELLED, finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        for run_id in cancelled:
            progress.record_event(
                session, run_id, Stage.CANCELLED, f"superseded by submission {submission.id}"
            )
    return run


def submission_out(submission: Submission, run: GradingRun) -> SubmissionOut:
    return SubmissionOut(
        id=submission.id,
        assignment_id=submission.assignment_id,
        user_id=submission.user_id,
        created_at=submission.created_at,
        content_sha256=submission.content_sha256,
        source=submission.source,
        git_commit=submission.git_commit,
        late_minutes=submission.late_minutes,
        run_id=run.id,
        status=RunStatus(run.status),
        score=run.score,
        max_score=run.max_score,
        tests_passed=run.tests_passed,
        tests_total=run.tests_total,
    )


def late_minutes(assignment: Assignment, at: datetime) -> int:
    """Minutes after the due date plus grace (0 = on time): ``scoring.late_minutes``."""
    return scoring.late_minutes(assignment.due_at, at, assignments.late_policy(assignment))


def accepts_late(assignment: Assignment, late: int) -> bool:
    return scoring.accepts_late(late, assignments.late_policy(assignment))


def _check_files(files: FileSet) -> None:
    """Count and size, as 4xx refusals (a FileSet's names were checked when it was built)."""
    if not files.files:
        raise InvalidRequestError("the submission has no files")
    if len(files.files) > MAX_SUBMISSION_FILES or files.total_bytes > MAX_SUBMISSION_BYTES:
        raise PayloadTooLargeError(_too_large(len(files.files)))


def _too_large(count: int) -> str:
    if count > MAX_SUBMISSION_FILES:
        return f"a submission may have at most {MAX_SUBMISSION_FILES} files"
    return f"a submission may be at most {MAX_SUBMISSION_BYTES} bytes"


def _check_name(name: str) -> str:
    try:
        return check_name(name)
    except FileNameError as exc:
        raise InvalidRequestError(exc.message) from exc


def files_from_mapping(files: dict[str, bytes | str]) -> FileSet:
    """Files given as path -> content (JSON submissions); unsafe paths refused."""
    try:
        return FileSet.from_mapping(files)
    except FileSetTooLargeError as exc:  # past every file set's ceiling is past ours
        raise PayloadTooLargeError(_too_large(len(files))) from exc
    except SubmissionError as exc:
        raise InvalidRequestError(exc.message) from exc


def files_from_json(files: dict[str, str], *, base64_encoded: bool = False) -> FileSet:
    """Files of a JSON submission: path -> text, or path -> base64 when ``base64_encoded``."""
    if not base64_encoded:
        return files_from_mapping(dict(files))
    decoded: dict[str, bytes | str] = {}
    for path, text in files.items():
        try:
            decoded[path] = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestError(f"{path!r}: not valid base64") from None
    return files_from_mapping(decoded)


def files_from_uploads(uploads: list[tuple[str, bytes]]) -> FileSet:
    """Files of a multipart upload: several files, or one zip/tar archive to extract.

    An archive is extracted safely (no links, no paths leaving it, sizes counted
    while decompressing) within the submission limits; ``.git`` is dropped.
    """
    if not uploads:
        raise InvalidRequestError("upload at least one file (form field 'files')")
    if not all(name for name, _data in uploads):
        raise InvalidRequestError("every uploaded file needs a file name")
    if len(uploads) == 1:
        name, data = uploads[0]
        if len(data) > MAX_SUBMISSION_BYTES:
            raise PayloadTooLargeError(f"a submission may be at most {MAX_SUBMISSION_BYTES} bytes")
        with tempfile.TemporaryDirectory(prefix="assay-upload-") as tmp:
            path = Path(tmp) / PurePosixPath(_check_name(name)).name
            path.write_bytes(data)
            if is_archive(path):
                try:
                    return load_submission(path, ARCHIVE_LIMITS)
                except SubmissionError as exc:
                    raise InvalidRequestError(f"archive refused: {exc.message}") from exc
    mapping: dict[str, bytes | str] = {}
    for name, data in uploads:
        if name in mapping:
            raise InvalidRequestError(f"{name!r} uploaded twice")
        mapping[name] = data
    return files_from_mapping(mapping)
