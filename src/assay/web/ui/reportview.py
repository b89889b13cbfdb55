"""What the submission page shows: a report arranged for reading, and the student's re-queue.

The report itself (``results.get_report``) is already reduced for students; this
module adds what a reader needs next to it, computed on the server so the page
stays plain HTML: a line diff of expected against actual output (with the
changed characters marked), the input of each test the reader may see (read
from the graded package version, never for hidden tests in the student view),
the submitted files split into lines so diagnostics can link to them, and the
run's progress events so far. Everything here is data; the templates escape it.
"""

from __future__ import annotations

import difflib
import io
import tarfile
import zipfile
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel

from assay.errors import InvalidRequestError, PackageError
from assay.grading import scoring
from assay.grading.interaction import Direction, parse_interaction
from assay.grading.outcome import TestOutcome
from assay.grading.package import MANIFEST, parse_manifest
from assay.grading.spec import Visibility
from assay.services.actor import Actor
from assay.services.catalog import assignments
from assay.services.intake import progress
from assay.services.intake.progress import EventOut
from assay.services.intake.submissions import SubmissionOut, submission_out
from assay.services.platform import Platform
from assay.services.reporting import results
from assay.services.reporting.results import ReportOut
from assay.storage import filesets
from assay.storage.blobs import get_blob
from assay.storage.models import (
    Assignment,
    AssignmentVersion,
    Course,
    GradingRun,
    RunStatus,
    User,
)

MAX_DIFF_LINES = 400  # per side; longer outputs are cut (the report is bounded too)
MAX_INPUT_CHARS = 4000
MAX_FILE_BYTES = 256 * 1024  # larger submitted files are listed, not shown
MAX_FILES_SHOWN = 50
PENDING = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})


class DiffSegment(BaseModel):
    text: str
    changed: bool = False


class DiffLine(BaseModel):
    """One row of a diff: in both outputs (same), only expected, or only actual."""

    kind: Literal["same", "expected", "actual"]
    segments: list[DiffSegment]
    expected_no: int | None = None
    actual_no: int | None = None


class DialogueLine(BaseModel):
    """One line of an interactive test's conversation: who sent it, and what."""

    sender: Literal["judge", "program", "pass"]
    text: str


class TestInput(BaseModel):
    __test__ = False  # not a pytest test class

    stdin: str | None = None
    args: list[str] = []
    files: list[str] = []  # names of input files put in the workspace
    truncated: bool = False
    interaction: list[DialogueLine] = []  # an interactive test's sample interaction


class TestView(BaseModel):
    __test__ = False

    report: TestOutcome
    shown: bool  # the reader may see its contents (False: pass/fail only)
    input: TestInput | None = None
    diff: list[DiffLine] = []
    diff_truncated: bool = False
    conversation: list[DialogueLine] = []  # interactive: what was said with the judge


class SourceFile(BaseModel):
    path: str
    size_bytes: int
    lines: list[str] | None  # None: binary or too large to show
    anchor: str  # HTML id prefix of its lines: f"{anchor}-L{n}"
    marks: dict[int, str] = {}  # line -> "error" | "warning" | "note" (diagnostics, findings)


class RunSummary(BaseModel):
    id: int
    reason: str
    status: RunStatus
    score: float | None
    max_score: float | None
    created_at: datetime


class SubmissionPage(BaseModel):
    submission: SubmissionOut
    staff: bool
    own: bool
    owner_username: str
    owner_name: str
    assignment_id: int
    assignment_title: str
    course_id: int
    course_code: str
    due_at: datetime | None
    late_penalty: float  # the fraction of the score a late submission loses (0: none)
    graded_version: int  # the package version of the run shown
    current_version: int | None  # the assignment's package version now
    report: ReportOut
    tests: list[TestView]
    files: list[SourceFile]
    anchors: dict[str, str]  # submitted path -> its anchor, for diagnostics' links
    events: list[EventOut]
    runs: list[RunSummary]

    @property
    def pending(self) -> bool:
        return self.report.status in PENDING

    @property
    def counted_score(self) -> float | None:
        """The score after the late penalty (None: not graded)."""
        if self.submission.score is None:
            return None
        return scoring.counted_score(self.submission.score, self.late_penalty)


# --- diffs --------------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _segments(line: str, other: str) -> list[DiffSegment]:
    """``line`` split into runs that are the same as in ``other`` or changed."""
    matcher = difflib.SequenceMatcher(None, line, other, autojunk=False)
    out: list[DiffSegment] = []
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if i1 == i2:
            continue
        out.append(DiffSegment(text=line[i1:i2], changed=tag != "equal"))
    return out or [DiffSegment(text="", changed=True)]


def line_diff(expected: str, actual: str) -> tuple[list[DiffLine], bool]:
    """Expected against actual output, line by line; and whether either was cut short.

    Paired changed lines (a replace of equal length) mark the differing characters,
    so "passed 2" against "passed 1" points at the digit.
    """
    want, got = _lines(expected), _lines(actual)
    truncated = len(want) > MAX_DIFF_LINES or len(got) > MAX_DIFF_LINES
    want, got = want[:MAX_DIFF_LINES], got[:MAX_DIFF_LINES]
    rows: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(None, want, got, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend(
                DiffLine(
                    kind="same",
                    segments=[DiffSegment(text=want[i])],
                    expected_no=i + 1,
                    actual_no=j1 + (i - i1) + 1,
                )
                for i in range(i1, i2)
            )
            continue
        paired = tag == "replace" and (i2 - i1) == (j2 - j1)
        for i in range(i1, i2):
            other = got[j1 + i - i1] if paired else ""
            segments = _segments(want[i], other) if paired else [DiffSegment(text=want[i])]
            rows.append(DiffLine(kind="expected", segments=segments, expected_no=i + 1))
        for j in range(j1, j2):
            other = want[i1 + j - j1] if paired else ""
            segments = _segments(got[j], other) if paired else [DiffSegment(text=got[j])]
            rows.append(DiffLine(kind="actual", segments=segments, actual_no=j + 1))
    return rows, truncated


# --- test inputs from the package ---------------------------------------------------------


def _package_files(data: bytes, wanted: set[str]) -> dict[str, bytes]:
    """The members of a package archive (tar or zip) whose path ends with a wanted name.

    Paths are returned relative to the directory holding ``assignment.toml`` (an
    archive may wrap the package in one directory).
    """
    found: dict[str, bytes] = {}
    buffer = io.BytesIO(data)
    if zipfile.is_zipfile(buffer):
        with zipfile.ZipFile(buffer) as archive:
            for name in archive.namelist():
                if any(name == w or name.endswith("/" + w) for w in wanted):
                    found[name] = archive.read(name)
        return found
    buffer.seek(0)
    with tarfile.open(fileobj=buffer, mode="r:*") as archive:
        for member in archive:
            name = member.name.removeprefix("./")
            if member.isfile() and any(name == w or name.endswith("/" + w) for w in wanted):
                handle = archive.extractfile(member)
                if handle is not None:
                    found[name] = handle.read()
    return found


def _strip_root(found: dict[str, bytes]) -> dict[str, bytes]:
    manifests = sorted((n for n in found if n.split("/")[-1] == MANIFEST), key=len)
    if not manifests:
        return {}
    root = manifests[0][: -len(MANIFEST)]
    return {n[len(root) :]: d for n, d in found.items() if n.startswith(root)}


_SENDERS: dict[Direction, Literal["judge", "program", "pass"]] = {
    Direction.TO_SUBMISSION: "judge",
    Direction.FROM_SUBMISSION: "program",
    Direction.SEPARATOR: "pass",
}


def dialogue_lines(text: str) -> list[DialogueLine]:
    """An interactive test's conversation (``<`` judge, ``>`` program) as rows to show."""
    return [
        DialogueLine(sender=_SENDERS[line.direction], text=line.text)
        for line in parse_interaction(text)[:MAX_DIFF_LINES]
    ]


@lru_cache(maxsize=32)
def _inputs_of_package(digest: str, data: bytes) -> dict[str, TestInput]:
    """Test name -> what goes in (stdin, arguments, input files) for io-style tests."""
    del digest  # the cache key; the bytes are the same for the same digest
    manifest = _strip_root(_package_files(data, {MANIFEST})).get(MANIFEST)
    if manifest is None:
        return {}
    try:
        spec = parse_manifest(manifest.decode("utf-8", errors="replace"))
    except PackageError:
        return {}
    stdin_files = {
        str(t.options[key])
        for t in spec.tests
        for key in ("stdin_file", "sample_interaction")
        if isinstance(t.options.get(key), str)
    }
    stored = _strip_root(_package_files(data, {MANIFEST, *stdin_files})) if stdin_files else {}
    out: dict[str, TestInput] = {}
    for test in spec.tests:
        options = test.options
        stdin = options.get("stdin")
        if not isinstance(stdin, str) and isinstance(options.get("stdin_file"), str):
            raw = stored.get(str(options["stdin_file"]))
            stdin = raw.decode("utf-8", errors="replace") if raw is not None else None
        args = options.get("args")
        files = options.get("input_files")
        sample = options.get("sample_interaction")
        if test.kind == "interactive" and isinstance(sample, str) and sample in stored:
            shown = stored[sample][: MAX_INPUT_CHARS * 4].decode("utf-8", errors="replace")
            out[test.name] = TestInput(interaction=dialogue_lines(shown))
            continue
        if not isinstance(stdin, str) and not args and not files:
            continue
        text = stdin if isinstance(stdin, str) else None
        out[test.name] = TestInput(
            stdin=None if text is None else text[:MAX_INPUT_CHARS],
            args=[str(a) for a in args] if isinstance(args, list) else [],
            files=sorted(str(k) for k in files) if isinstance(files, dict) else [],
            truncated=text is not None and len(text) > MAX_INPUT_CHARS,
        )
    return out


# --- the page -----------------------------------------------------------------------------


_RANK = {"note": 0, "warning": 1, "error": 2}


def _marks(report: ReportOut) -> dict[str, dict[int, str]]:
    """File -> line -> the worst severity pointing there (build, static checks, valgrind)."""
    marks: dict[str, dict[int, str]] = {}

    def mark(file: str | None, line: int | None, severity: str) -> None:
        if file is None or line is None:
            return
        lines = marks.setdefault(file, {})
        if _RANK.get(severity, 0) >= _RANK.get(lines.get(line, "note"), 0):
            lines[line] = severity

    if report.report is not None:
        for d in report.report.build.diagnostics:
            mark(d.file, d.line, d.severity)
        for f in report.report.static.findings if report.report.static else []:
            mark(f.file, f.line, "error")
        for test in report.report.tests:
            for finding in test.findings:
                mark(finding.file, finding.line, "warning")
    return marks


def _source_files(data: bytes, report: ReportOut) -> tuple[list[SourceFile], dict[str, str]]:
    files: list[SourceFile] = []
    anchors: dict[str, str] = {}
    marks = _marks(report)
    for number, stored in enumerate(filesets.unpack(data).files[:MAX_FILES_SHOWN], start=1):
        lines: list[str] | None = None
        if len(stored.data) <= MAX_FILE_BYTES and b"\0" not in stored.data:
            lines = stored.data.decode("utf-8", errors="replace").splitlines()
        anchor = f"f{number}"
        anchors[stored.path] = anchor
        files.append(
            SourceFile(
                path=stored.path,
                size_bytes=len(stored.data),
                lines=lines,
                anchor=anchor,
                marks=marks.get(stored.path, {}),
            )
        )
    return files, anchors


def _test_views(
    report: ReportOut, inputs: dict[str, TestInput], *, after_due: bool
) -> list[TestView]:
    """Each test with its diff and input; hidden ones (for students) pass/fail only.

    ``shown`` follows ``GradeReport.student_view``: the report has already lost
    what a student may not see, and the input (not in the report) obeys the same rule.
    """
    if report.report is None:
        return []
    views: list[TestView] = []
    for test in report.report.tests:
        shown = (
            report.staff_view
            or test.visibility is Visibility.VISIBLE
            or (test.visibility is Visibility.AFTER_DUE and after_due)
        )
        diff: list[DiffLine] = []
        truncated = False
        if shown and test.expected is not None and test.actual is not None:
            diff, truncated = line_diff(test.expected, test.actual)
        interactive = shown and test.kind == "interactive"
        views.append(
            TestView(
                report=test,
                shown=shown,
                input=inputs.get(test.name) if shown else None,
                diff=diff,
                diff_truncated=truncated,
                conversation=dialogue_lines(test.output) if interactive else [],
            )
        )
    return views


def submission_page(platform: Platform, actor: Actor, submission_id: int) -> SubmissionPage:
    """Everything the submission page shows, for this reader (student or staff view)."""
    report = results.get_report(platform, actor, submission_id)
    events = progress.list_events(platform, actor, report.run_id)
    with platform.db.reading() as session:
        submission, staff = results.readable_submission(session, actor, submission_id)
        assignment = session.get(Assignment, submission.assignment_id)
        run = session.get(GradingRun, report.run_id)
        assert assignment is not None and run is not None  # noqa: S101 - foreign keys
        course = session.get(Course, assignment.course_id)
        owner = session.get(User, submission.user_id)
        version = session.get(AssignmentVersion, run.version_id)
        assert course is not None and owner is not None and version is not None  # noqa: S101
        inputs = _inputs_of_package(
            version.package_sha256, get_blob(session, version.package_sha256)
        )
        files, anchors = _source_files(get_blob(session, submission.files_sha256), report)
        runs = [
            RunSummary(
                id=r.id,
                reason=r.reason,
                status=RunStatus(r.status),
                score=r.score,
                max_score=r.max_score,
                created_at=r.created_at,
            )
            for r in sorted(submission.runs, key=lambda r: r.id, reverse=True)
        ]
        return SubmissionPage(
            submission=submission_out(submission, run),
            staff=staff,
            own=submission.user_id == actor.user_id,
            owner_username=owner.username,
            owner_name=owner.display_name or owner.username,
            assignment_id=assignment.id,
            assignment_title=assignment.title,
            course_id=course.id,
            course_code=course.code,
            due_at=assignment.due_at,
            late_penalty=scoring.late_penalty(
                submission.late_minutes, assignments.late_policy(assignment)
            ),
            graded_version=version.number,
            current_version=(
                assignment.current_version.number if assignment.current_version else None
            ),
            report=report,
            tests=_test_views(report, inputs, after_due=results.is_closed(assignment)),
            files=files,
            anchors=anchors,
            events=events,
            runs=runs,
        )


def request_regrade(
    platform: Platform,
    actor: Actor,
    submission_id: int,
    *,
    charge: Callable[[], None] = lambda: None,
) -> SubmissionOut:
    """Grade a submission again: staff regrade it; its owner may re-queue it once it is done.

    A student's re-queue grades the same files against the assignment's current
    package (e.g. after staff fixed a test); ``charge`` is called first (the web
    layer's submission rate limit; it raises RateLimitedError when spent). A
    student's run that is still waiting or running is not queued twice.
    """
    with platform.db.session() as session:
        submission, staff = results.readable_submission(session, actor, submission_id)
        if not staff:
            assignment = assignments.get_for(session, actor, submission.assignment_id)
            latest = max(submission.runs, key=lambda r: r.id)
            if RunStatus(latest.status) in PENDING:
                raise InvalidRequestError("this submission is already waiting to be graded")
            if assignment.current_version_id is None:
                raise InvalidRequestError("the assignment has no package yet")
            charge()
            return results.queue_regrade(
                platform, session, actor, submission, assignment, action="submission.requeue"
            )
    return results.regrade(platform, actor, submission_id)
