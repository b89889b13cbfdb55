"""What a student works with: a course's assignments with their own standing, the
starter files of an assignment, and the files of their latest submission.

The pages for students (course page, assignment page) read these; access is checked
like everywhere else (outsiders get NotFound, students never see an unpublished or
unreleased assignment). Starter files come from the assignment's current package
version, unpacked once per package into the same cache the workers use.
"""

from __future__ import annotations

import io
import os
import zipfile
from datetime import datetime
from pathlib import Path, PurePosixPath

from pydantic import BaseModel
from sqlalchemy import select

from assay.errors import NotFoundError
from assay.grading import scoring
from assay.grading.package import MANIFEST, parse_manifest
from assay.grading.submission import SKIPPED_DIRS
from assay.services.actor import Actor
from assay.services.catalog import assignments, courses, packages
from assay.services.catalog.assignments import AssignmentOut
from assay.services.catalog.courses import CourseOut
from assay.services.identity.access import STAFF
from assay.services.intake.submissions import SubmissionOut
from assay.services.platform import Platform
from assay.services.reporting import results
from assay.services.reporting.results import BestOut, SubmissionFilter
from assay.storage import filesets
from assay.storage.blobs import get_blob
from assay.storage.models import AssignmentVersion, RunStatus, Submission, utcnow

HISTORY_ROWS = 50
PENDING = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})
EDITOR_MAX_FILES = 8
EDITOR_MAX_FILE_BYTES = 64 * 1024
"""An assignment is "small" (edited in the browser) when its files stay within these."""


class AssignmentStanding(BaseModel):
    """One assignment of a course as the actor stands with it."""

    assignment: AssignmentOut
    best: BestOut | None  # None for someone who cannot submit (no user)
    latest: SubmissionOut | None  # the actor's newest submission
    closed: bool  # past due + grace + late days: no more submissions count
    closes_at: datetime | None


class CourseOverview(BaseModel):
    course: CourseOut
    staff: bool
    assignments: list[AssignmentStanding]


class StarterFile(BaseModel):
    path: str
    size: int


class EditorFile(BaseModel):
    """A text file small enough to edit in the browser."""

    path: str
    text: str


def course_overview(platform: Platform, actor: Actor, course_id: int) -> CourseOverview:
    """The course with its assignments (those the actor may see), open ones first by due
    date, each with the actor's counted submission and newest submission."""
    course = courses.get_course(platform, actor, course_id)
    staff = course.role in STAFF
    standings: list[AssignmentStanding] = []
    for assignment in assignments.list_assignments(platform, actor, course_id):
        best = results.my_best(platform, actor, assignment.id) if actor.user_id else None
        latest = None
        if actor.user_id and best is not None and best.submissions:
            newest = results.list_submissions(
                platform, actor, SubmissionFilter(assignment_id=assignment.id, limit=1)
            )
            latest = newest[0] if newest else None
        standings.append(
            AssignmentStanding(
                assignment=assignment,
                best=best,
                latest=latest,
                closed=is_closed(assignment),
                closes_at=closes_at(assignment),
            )
        )
    standings.sort(key=_order)
    return CourseOverview(course=course, staff=staff, assignments=standings)


def closes_at(assignment: AssignmentOut) -> datetime | None:
    """When submissions stop counting: due + grace + the last late day (None: never)."""
    return scoring.closes_at(assignment.due_at, assignment.late_policy)


def is_closed(assignment: AssignmentOut, at: datetime | None = None) -> bool:
    """The rule of ``results.is_closed``, on the public model."""
    return scoring.is_closed(assignment.due_at, assignment.late_policy, at or utcnow())


def _order(standing: AssignmentStanding) -> tuple[int, float, int]:
    due = standing.assignment.due_at
    stamp = due.timestamp() if due is not None else float("inf")
    return (
        1 if standing.closed else 0,
        stamp if not standing.closed else -stamp,
        standing.assignment.id,
    )


# --- starter files -------------------------------------------------------------------------


def _starter_dir(platform: Platform, actor: Actor, assignment_id: int) -> Path | None:
    """The starter directory of the assignment's current package, or None without one."""
    with platform.db.reading() as session:
        assignment = assignments.get_for(session, actor, assignment_id)
        version = session.get(AssignmentVersion, assignment.current_version_id or 0)
        if version is None:
            return None
        digest = version.package_sha256
    cache = Path(platform.settings.state_dir) / "packages"

    def read() -> bytes:
        with platform.db.reading() as session:
            return get_blob(session, digest)

    root = packages.unpacked(cache, digest, read)
    spec = parse_manifest((root / MANIFEST).read_text(encoding="utf-8"))
    top = root.resolve()
    starter = (root / spec.paths.starter).resolve()
    solution = (root / spec.paths.solution).resolve()
    # a starter that is the package itself, or holds the solution, would hand students
    # the hidden tests or the answer: such a package offers no starter files
    if starter == top or not starter.is_relative_to(top) or solution.is_relative_to(starter):
        return None
    return starter if starter.is_dir() else None


def _walk(starter: Path) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(starter):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if full.is_symlink() or not full.is_file():
                continue
            found.append((full.relative_to(starter).as_posix(), full))
    return found


def starter_files(platform: Platform, actor: Actor, assignment_id: int) -> list[StarterFile]:
    """The files handed to students (the package's ``starter/``), sorted by path."""
    starter = _starter_dir(platform, actor, assignment_id)
    if starter is None:
        return []
    return [StarterFile(path=rel, size=full.stat().st_size) for rel, full in _walk(starter)]


def starter_file(platform: Platform, actor: Actor, assignment_id: int, path: str) -> bytes:
    """One starter file's bytes; only a path the listing names is served."""
    starter = _starter_dir(platform, actor, assignment_id)
    wanted = PurePosixPath(path).as_posix()
    for rel, full in _walk(starter) if starter is not None else []:
        if rel == wanted:
            return full.read_bytes()
    raise NotFoundError("no such starter file")


def starter_zip(platform: Platform, actor: Actor, assignment_id: int) -> bytes:
    """Every starter file in one zip archive (NotFound when there are none)."""
    starter = _starter_dir(platform, actor, assignment_id)
    listed = _walk(starter) if starter is not None else []
    if not listed:
        raise NotFoundError("this assignment has no starter files")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel, full in listed:
            archive.write(full, rel)
    return buffer.getvalue()


# --- the in-browser editor -----------------------------------------------------------------


def editable(files: list[tuple[str, bytes]]) -> list[EditorFile] | None:
    """The files as text when the set is small enough for the editor, else None."""
    if not files or len(files) > EDITOR_MAX_FILES:
        return None
    out: list[EditorFile] = []
    for path, data in files:
        if len(data) > EDITOR_MAX_FILE_BYTES or b"\0" in data:
            return None
        try:
            out.append(EditorFile(path=path, text=data.decode("utf-8")))
        except UnicodeDecodeError:
            return None
    return out


def latest_for_editor(
    platform: Platform, actor: Actor, assignment_id: int
) -> list[EditorFile] | None:
    """The files of the actor's own newest submission, when small enough to edit."""
    with platform.db.reading() as session:
        assignments.get_for(session, actor, assignment_id)
        if actor.user_id is None:
            return None
        submission = session.scalar(
            select(Submission)
            .where(Submission.assignment_id == assignment_id, Submission.user_id == actor.user_id)
            .order_by(Submission.id.desc())
            .limit(1)
        )
        if submission is None:
            return None
        packed = get_blob(session, submission.files_sha256)
    return editable([(f.path, f.data) for f in filesets.unpack(packed)])


# --- the assignment page -------------------------------------------------------------------


class HistoryView(BaseModel):
    """The actor's submissions to one assignment and the one that counts."""

    best: BestOut | None
    history: list[SubmissionOut]  # newest first, at most HISTORY_ROWS
    more_history: bool

    @property
    def pending(self) -> bool:
        """Whether a submission is still waiting or being graded (the page polls then)."""
        return any(s.status in PENDING for s in self.history)


def history_view(platform: Platform, actor: Actor, assignment_id: int) -> HistoryView:
    best = results.my_best(platform, actor, assignment_id) if actor.user_id else None
    rows = results.list_submissions(
        platform,
        actor,
        SubmissionFilter(assignment_id=assignment_id, limit=HISTORY_ROWS + 1),
    )
    return HistoryView(
        best=best, history=rows[:HISTORY_ROWS], more_history=len(rows) > HISTORY_ROWS
    )


class AssignmentView(BaseModel):
    """Everything the assignment page shows, read with the actor's rights."""

    assignment: AssignmentOut
    course: CourseOut
    staff: bool
    closed: bool
    closes_at: datetime | None
    can_submit: bool  # staff always; students until the assignment closes
    mine: HistoryView
    starter: list[StarterFile]
    required_files: list[str]  # a submission must contain these ([build] required_files)
    editor: list[EditorFile] | None  # None: too big or binary for the browser editor
    editor_from: str  # "latest" (their newest submission), "starter" or ""


def assignment_view(
    platform: Platform, actor: Actor, assignment_id: int, *, from_starter: bool = False
) -> AssignmentView:
    """The assignment page's data; ``from_starter`` fills the editor with the starter
    files even when the student has submitted before."""
    assignment = assignments.get_assignment(platform, actor, assignment_id)
    course = courses.get_course(platform, actor, assignment.course_id)
    staff = course.role in STAFF
    closed = is_closed(assignment)
    mine = history_view(platform, actor, assignment_id)
    starter_root = _starter_dir(platform, actor, assignment_id)
    listed = _walk(starter_root) if starter_root is not None else []
    editor, editor_from = None, ""
    if mine.history and not from_starter:
        editor, editor_from = latest_for_editor(platform, actor, assignment_id), "latest"
    if editor is None and listed and len(listed) <= EDITOR_MAX_FILES:
        editor, editor_from = editable([(r, f.read_bytes()) for r, f in listed]), "starter"
    return AssignmentView(
        assignment=assignment,
        course=course,
        staff=staff,
        closed=closed,
        closes_at=closes_at(assignment),
        can_submit=staff or not closed,
        mine=mine,
        starter=[StarterFile(path=r, size=f.stat().st_size) for r, f in listed],
        required_files=assignments.required_files(platform, actor, assignment_id),
        editor=editor,
        editor_from=editor_from if editor is not None else "",
    )
