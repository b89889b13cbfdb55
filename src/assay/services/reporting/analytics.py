"""Analytics of one assignment for its course staff (Anubis 2.6.3): when students
submit around the deadline, which tests cause the most trouble, and how long
students take from their first submission to full marks.

Only students count: submissions by course staff (trying the assignment out)
are left out of every number. The statistics are computed here from plain
rows (``SubmissionRow``) so they can be checked without a database; ``for_assignment``
loads those rows, access-checked (staff of the course only).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.grading.outcome import TestOutcome, TestStatus
from assay.grading.report import GradeReport
from assay.services.actor import Actor
from assay.services.catalog import assignments
from assay.services.identity.access import STAFF
from assay.services.platform import Platform
from assay.services.reporting.results import best_rows
from assay.storage.models import (
    Assignment,
    Course,
    Enrollment,
    GradingRun,
    Role,
    RunStatus,
    Submission,
    utcnow,
)

EPSILON = 1e-6
AUTO_HOURLY_SPAN = timedelta(hours=72)  # auto: per hour when every submission is this close
WINDOW = {  # how many buckets before / after the anchor a timeline shows at most
    "hour": (7 * 24, 3 * 24),
    "day": (90, 30),
}
# time to full marks: (label, upper bound in hours); the first try and "not yet" come apart
TIME_BINS: tuple[tuple[str, float], ...] = (
    ("under 1 h", 1),
    ("1\N{EN DASH}6 h", 6),
    ("6\N{EN DASH}24 h", 24),
    ("1\N{EN DASH}3 days", 72),
    ("3+ days", math.inf),
)
FIRST_TRY = "first try"
NOT_YET = "not yet"


class Unit(StrEnum):
    AUTO = "auto"
    HOUR = "hour"
    DAY = "day"


class Headline(BaseModel):
    enrolled: int  # students enrolled in the course
    submitted: int  # students with at least one submission
    submissions: int  # all students' submissions
    graded: int  # students whose counted submission is graded
    median_best_score: float | None  # of the counted submissions (before late penalties)
    max_score: float
    full_marks: int  # students whose counted submission has full marks
    full_marks_share: float | None  # of the students who submitted


class TimeBucket(BaseModel):
    offset: int  # buckets from the anchor: -1 is the last one before the due date
    start: datetime
    label: str
    on_time: int
    late: int
    students: int  # distinct students who submitted in the bucket


class Timeline(BaseModel):
    unit: Unit  # hour or day (never auto)
    anchor: datetime | None  # the due date, or the first submission's day without one
    anchored_on_due: bool
    buckets: list[TimeBucket]
    earlier: int  # submissions before the first bucket shown
    later: int  # submissions after the last bucket shown


class TestPassRate(BaseModel):
    name: str
    group: str
    visibility: str
    passed: int
    students: int  # students whose latest graded report has this test
    pass_rate: float  # passed / students
    mean_score: float
    max_score: float


class TimeBin(BaseModel):
    label: str
    students: int


class TimeToFull(BaseModel):
    students: int  # students who submitted
    reached: int  # of them, how many got full marks at some point
    first_try: int  # ... with their first submission
    never: int  # submitted but not (yet) at full marks
    median_hours: float | None  # from the first submission to the first full marks
    median_submissions: float | None  # submissions up to and including that one
    bins: list[TimeBin]  # the distribution, "not yet" last


class AnalyticsOut(BaseModel):
    assignment_id: int
    course_id: int
    course_code: str
    course_name: str
    title: str
    due_at: datetime | None
    max_score: float
    generated_at: datetime
    headline: Headline
    timeline: Timeline
    tests: list[TestPassRate]  # worst first
    time_to_full: TimeToFull


@dataclass(frozen=True)
class SubmissionRow:
    """A student's submission with its latest graded run (None while not graded)."""

    submission_id: int
    user_id: int
    at: datetime
    late: bool
    run_id: int | None = None
    score: float | None = None
    max_score: float | None = None

    @property
    def full_marks(self) -> bool:
        return (
            self.score is not None
            and self.max_score is not None
            and self.max_score > 0
            and self.score >= self.max_score - EPSILON
        )


# --- the statistics -----------------------------------------------------------------------


def choose_unit(rows: Sequence[SubmissionRow], anchor: datetime | None, unit: Unit) -> Unit:
    """``auto``: per hour when every submission is within 72 hours of the due date."""
    if unit is not Unit.AUTO:
        return unit
    if anchor is None or not rows:
        return Unit.DAY
    furthest = max(abs(row.at - anchor) for row in rows)
    return Unit.HOUR if furthest <= AUTO_HOURLY_SPAN else Unit.DAY


def _label(offset: int, unit: Unit, start: datetime, on_due: bool) -> str:
    if not on_due:
        return start.strftime("%b %d") if unit is Unit.DAY else start.strftime("%b %d %H:00")
    sign = "\N{MINUS SIGN}" if offset < 0 else "+"  # a real minus sign, for people
    return f"{sign}{abs(offset)}{'h' if unit is Unit.HOUR else 'd'}"


def timeline(rows: Sequence[SubmissionRow], due_at: datetime | None, unit: Unit) -> Timeline:
    """Submissions per hour or day relative to the due date (bucket -1 ends at it).

    Without a due date the buckets are calendar days (UTC) from the first submission.
    Every bucket between the first and last shown is present (zeros included), and
    with a due date the buckets on both sides of it always are, so the moment shows.
    """
    chosen: Unit
    if due_at is None:
        first = min((row.at for row in rows), default=None)
        anchor = first.replace(hour=0, minute=0, second=0, microsecond=0) if first else None
        chosen = Unit.DAY if unit is Unit.AUTO else unit
    else:
        anchor, chosen = due_at, choose_unit(rows, due_at, unit)
    if anchor is None:
        return Timeline(
            unit=chosen, anchor=None, anchored_on_due=False, buckets=[], earlier=0, later=0
        )
    size = timedelta(hours=1) if chosen is Unit.HOUR else timedelta(days=1)
    offsets = [math.floor((row.at - anchor) / size) for row in rows]
    on_due = due_at is not None
    before, after = WINDOW[chosen.value]
    low = max(min([*offsets, -1] if on_due else offsets or [0]), -before)
    high = min(max([*offsets, 0] if on_due else offsets or [0]), after)
    if not rows:
        low, high = (-1, 0) if on_due else (0, 0)
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    people: dict[int, set[int]] = defaultdict(set)
    earlier = later = 0
    for row, offset in zip(rows, offsets, strict=True):
        if offset < low:
            earlier += 1
        elif offset > high:
            later += 1
        else:
            counts[offset]["late" if row.late else "on_time"] += 1
            people[offset].add(row.user_id)
    buckets = [
        TimeBucket(
            offset=offset,
            start=anchor + offset * size,
            label=_label(offset, chosen, anchor + offset * size, on_due),
            on_time=counts[offset]["on_time"],
            late=counts[offset]["late"],
            students=len(people[offset]),
        )
        for offset in range(low, high + 1)
    ]
    return Timeline(
        unit=chosen,
        anchor=anchor,
        anchored_on_due=on_due,
        buckets=buckets,
        earlier=earlier,
        later=later,
    )


def latest_graded(rows: Iterable[SubmissionRow]) -> dict[int, SubmissionRow]:
    """Each student's newest submission that has a graded run."""
    latest: dict[int, SubmissionRow] = {}
    for row in rows:
        if row.run_id is None:
            continue
        known = latest.get(row.user_id)
        if known is None or row.submission_id > known.submission_id:
            latest[row.user_id] = row
    return latest


def pass_rates(reports: Iterable[GradeReport]) -> list[TestPassRate]:
    """Per test, the share of students passing it (one report per student), worst first.

    Tests are told apart by group and name; a test missing from some reports (the
    package changed between versions) counts only the students whose report has it.
    Ties go to the test with the lower mean score, then by name.
    """
    found: dict[tuple[str, str], list[TestOutcome]] = defaultdict(list)
    for report in reports:
        for test in report.tests:
            found[(test.group, test.name)].append(test)
    rates = []
    for (group, name), results in found.items():
        passed = sum(1 for test in results if test.status is TestStatus.PASSED)
        rates.append(
            TestPassRate(
                name=name,
                group=group,
                visibility=results[-1].visibility.value,
                passed=passed,
                students=len(results),
                pass_rate=round(passed / len(results), 4),
                mean_score=round(statistics.fmean(test.score for test in results), 4),
                max_score=max(test.max_score for test in results),
            )
        )
    return sorted(rates, key=lambda r: (r.pass_rate, r.mean_score, r.group, r.name))


def time_to_full(rows: Sequence[SubmissionRow]) -> TimeToFull:
    """From each student's first submission to their first one with full marks."""
    by_user: dict[int, list[SubmissionRow]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.at, r.submission_id)):
        by_user[row.user_id].append(row)
    hours: list[float] = []
    tries: list[int] = []
    bins: Counter[str] = Counter()
    for history in by_user.values():
        index = next((i for i, row in enumerate(history) if row.full_marks), None)
        if index is None:
            bins[NOT_YET] += 1
            continue
        took = (history[index].at - history[0].at).total_seconds() / 3600
        hours.append(took)
        tries.append(index + 1)
        if index == 0:
            bins[FIRST_TRY] += 1
        else:
            bins[next(label for label, upper in TIME_BINS if took < upper)] += 1
    labels = [FIRST_TRY, *(label for label, _ in TIME_BINS), NOT_YET]
    return TimeToFull(
        students=len(by_user),
        reached=len(hours),
        first_try=bins[FIRST_TRY],
        never=bins[NOT_YET],
        median_hours=round(statistics.median(hours), 2) if hours else None,
        median_submissions=statistics.median(tries) if tries else None,
        bins=[TimeBin(label=label, students=bins[label]) for label in labels],
    )


# --- loading ------------------------------------------------------------------------------


def for_assignment(
    platform: Platform, actor: Actor, assignment_id: int, unit: Unit = Unit.AUTO
) -> AnalyticsOut:
    """Every analytic of an assignment (course staff; others get NotFound / refused)."""
    with platform.db.reading() as session:
        assignment = assignments.get_for(session, actor, assignment_id, staff=True)
        course = session.get(Course, assignment.course_id)
        assert course is not None  # noqa: S101 - foreign key
        staff_ids, enrolled = _members(session, assignment.course_id)
        rows = [row for row in _rows(session, assignment) if row.user_id not in staff_ids]
        latest = latest_graded(rows)
        reports = _reports(session, [row.run_id for row in latest.values() if row.run_id])
        version = assignment.current_version
        max_score = version.max_score if version is not None else 0.0
        return AnalyticsOut(
            assignment_id=assignment.id,
            course_id=course.id,
            course_code=course.code,
            course_name=course.name,
            title=assignment.title,
            due_at=assignment.due_at,
            max_score=max_score,
            generated_at=utcnow(),
            headline=_headline(
                session,
                assignment,
                rows,
                staff_ids=staff_ids,
                enrolled=enrolled,
                max_score=max_score,
            ),
            timeline=timeline(rows, assignment.due_at, unit),
            tests=pass_rates(reports),
            time_to_full=time_to_full(rows),
        )


def _members(session: Session, course_id: int) -> tuple[set[int], int]:
    """The course's staff (left out of every number) and how many students it has."""
    roles = session.execute(
        select(Enrollment.user_id, Enrollment.role).where(Enrollment.course_id == course_id)
    ).all()
    staff = {user_id for user_id, role in roles if Role(role) in STAFF}
    return staff, sum(1 for _, role in roles if Role(role) is Role.STUDENT)


def _rows(session: Session, assignment: Assignment) -> list[SubmissionRow]:
    """Every submission of the assignment with its latest graded run, oldest first."""
    graded = (
        select(GradingRun.submission_id, func.max(GradingRun.id).label("run_id"))
        .where(GradingRun.status == RunStatus.GRADED)
        .group_by(GradingRun.submission_id)
        .subquery()
    )
    query = (
        select(
            Submission.id,
            Submission.user_id,
            Submission.created_at,
            Submission.late_minutes,
            GradingRun.id,
            GradingRun.score,
            GradingRun.max_score,
        )
        .outerjoin(graded, graded.c.submission_id == Submission.id)
        .outerjoin(GradingRun, GradingRun.id == graded.c.run_id)
        .where(Submission.assignment_id == assignment.id)
        .order_by(Submission.id)
    )
    return [
        SubmissionRow(sid, uid, at, late > 0, run_id, score, top)
        for sid, uid, at, late, run_id, score, top in session.execute(query)
    ]


def _reports(session: Session, run_ids: list[int]) -> list[GradeReport]:
    if not run_ids:
        return []
    found = session.scalars(select(GradingRun.report).where(GradingRun.id.in_(run_ids)))
    return [GradeReport.model_validate(report) for report in found if report is not None]


def _headline(
    session: Session,
    assignment: Assignment,
    rows: Sequence[SubmissionRow],
    *,
    staff_ids: set[int],
    enrolled: int,
    max_score: float,
) -> Headline:
    best = [b for b in best_rows(session, assignment) if b.user_id not in staff_ids]
    scores = [b.score for b in best if b.score is not None]
    full = sum(
        1 for b in best if b.score is not None and b.max_score and b.score >= b.max_score - EPSILON
    )
    submitted = len({row.user_id for row in rows})
    return Headline(
        enrolled=enrolled,
        submitted=submitted,
        submissions=len(rows),
        graded=len(scores),
        median_best_score=round(statistics.median(scores), 4) if scores else None,
        max_score=max_score,
        full_marks=full,
        full_marks_share=round(full / submitted, 4) if submitted else None,
    )
