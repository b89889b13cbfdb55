"""What course staff read on their pages: courses they teach, a course at a glance,
an assignment's results table (search and sort), and the grading queue.

The numbers come from a few grouped queries, not one query per row, so a course
dashboard stays fast with hundreds of students. Every function checks that the
actor is staff of the course it reads (outsiders get NotFound, students
PermissionDenied, like the other services).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from assay.errors import NotFoundError
from assay.services.actor import Actor
from assay.services.catalog import assignments, courses
from assay.services.catalog.assignments import AssignmentOut
from assay.services.catalog.courses import CourseOut, MemberOut
from assay.services.identity.access import STAFF
from assay.services.platform import Platform
from assay.services.reporting.results import PENDING, BestOut, best_rows
from assay.storage.models import (
    Assignment,
    Enrollment,
    GradingRun,
    Job,
    JobStatus,
    Role,
    Submission,
    User,
    Worker,
    WorkerState,
    utcnow,
)

SortKey = Literal["name", "score", "submissions", "submitted", "late", "tamper"]
SORT_KEYS: tuple[SortKey, ...] = ("name", "score", "submissions", "submitted", "late", "tamper")
RECENT = 8
JOB_LIST = 25


class StaffCourse(BaseModel):
    """A course the actor teaches, with what needs attention."""

    course: CourseOut
    students: int
    assignments: int
    published: int
    pending: int  # grading runs waiting or running


class AssignmentStats(BaseModel):
    assignment: AssignmentOut
    submissions: int
    students_submitted: int
    pending: int


class RecentSubmission(BaseModel):
    submission_id: int
    assignment_id: int
    assignment_title: str
    username: str
    display_name: str
    created_at: datetime
    status: str
    score: float | None
    max_score: float | None


class CourseDashboard(BaseModel):
    course: CourseOut
    students: int
    staff: list[MemberOut]
    assignments: list[AssignmentStats]
    pending: int
    recent: list[RecentSubmission]


# --- courses ------------------------------------------------------------------------------


def staff_courses(platform: Platform, actor: Actor) -> list[StaffCourse]:
    """The courses where the actor is a TA or instructor (administrators: all)."""
    mine = [c for c in courses.list_courses(platform, actor) if c.role in STAFF]
    ids = [c.id for c in mine]
    with platform.db.reading() as session:
        students = _count_by(
            session,
            select(Enrollment.course_id, func.count(Enrollment.id))
            .where(Enrollment.course_id.in_(ids), Enrollment.role == Role.STUDENT)
            .group_by(Enrollment.course_id),
        )
        totals = _count_by(
            session,
            select(Assignment.course_id, func.count(Assignment.id))
            .where(Assignment.course_id.in_(ids))
            .group_by(Assignment.course_id),
        )
        published = _count_by(
            session,
            select(Assignment.course_id, func.count(Assignment.id))
            .where(Assignment.course_id.in_(ids), Assignment.published.is_(True))
            .group_by(Assignment.course_id),
        )
        pending = _count_by(
            session,
            select(Assignment.course_id, func.count(GradingRun.id))
            .join(Submission, Submission.assignment_id == Assignment.id)
            .join(GradingRun, GradingRun.submission_id == Submission.id)
            .where(Assignment.course_id.in_(ids), GradingRun.status.in_(PENDING))
            .group_by(Assignment.course_id),
        )
    return [
        StaffCourse(
            course=c,
            students=students.get(c.id, 0),
            assignments=totals.get(c.id, 0),
            published=published.get(c.id, 0),
            pending=pending.get(c.id, 0),
        )
        for c in mine
    ]


def course_dashboard(platform: Platform, actor: Actor, course_id: int) -> CourseDashboard:
    """A course at a glance: assignments with submission counts, people, recent work."""
    course = courses.get_course(platform, actor, course_id)
    members = courses.list_roster(platform, actor, course_id)  # staff only
    listed = assignments.list_assignments(platform, actor, course_id)
    ids = [a.id for a in listed]
    with platform.db.reading() as session:
        submitted = _count_by(
            session,
            select(Submission.assignment_id, func.count(Submission.id))
            .where(Submission.assignment_id.in_(ids))
            .group_by(Submission.assignment_id),
        )
        students = _count_by(
            session,
            select(Submission.assignment_id, func.count(distinct(Submission.user_id)))
            .where(Submission.assignment_id.in_(ids))
            .group_by(Submission.assignment_id),
        )
        pending = _count_by(
            session,
            select(Submission.assignment_id, func.count(GradingRun.id))
            .join(GradingRun, GradingRun.submission_id == Submission.id)
            .where(Submission.assignment_id.in_(ids), GradingRun.status.in_(PENDING))
            .group_by(Submission.assignment_id),
        )
        recent = _recent(session, ids)
    return CourseDashboard(
        course=course,
        students=sum(1 for m in members if m.role is Role.STUDENT),
        staff=[m for m in members if m.role is not Role.STUDENT],
        assignments=[
            AssignmentStats(
                assignment=a,
                submissions=submitted.get(a.id, 0),
                students_submitted=students.get(a.id, 0),
                pending=pending.get(a.id, 0),
            )
            for a in listed
        ],
        pending=sum(pending.values()),
        recent=recent,
    )


def _recent(session: Session, assignment_ids: list[int]) -> list[RecentSubmission]:
    """The newest submissions with the state of their newest run."""
    newest = (
        select(GradingRun.submission_id, func.max(GradingRun.id).label("run_id"))
        .group_by(GradingRun.submission_id)
        .subquery()
    )
    rows = session.execute(
        select(Submission, GradingRun, User, Assignment)
        .join(newest, newest.c.submission_id == Submission.id)
        .join(GradingRun, GradingRun.id == newest.c.run_id)
        .join(User, User.id == Submission.user_id)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .where(Submission.assignment_id.in_(assignment_ids))
        .order_by(Submission.id.desc())
        .limit(RECENT)
    )
    return [
        RecentSubmission(
            submission_id=s.id,
            assignment_id=a.id,
            assignment_title=a.title,
            username=u.username,
            display_name=u.display_name,
            created_at=s.created_at,
            status=r.status,
            score=r.score,
            max_score=r.max_score,
        )
        for s, r, u, a in rows
    ]


def _count_by(session: Session, query: object) -> dict[int, int]:
    return {int(key): int(count) for key, count in session.execute(query)}  # type: ignore[call-overload]


# --- the results table --------------------------------------------------------------------


class ResultsSummary(BaseModel):
    students: int  # rows before searching
    submitted: int
    full_marks: int
    tampered: int
    late: int
    mean_score: float | None  # of the counted scores of students who submitted


class ResultsTable(BaseModel):
    assignment: AssignmentOut
    rows: list[BestOut]
    summary: ResultsSummary
    query: str
    sort: SortKey
    descending: bool


def results_table(
    platform: Platform,
    actor: Actor,
    assignment_id: int,
    *,
    query: str = "",
    sort: str = "name",
    descending: bool = False,
) -> ResultsTable:
    """One row per student (their counted submission), searched by name and sorted."""
    with platform.db.reading() as session:
        assignment = assignments.get_for(session, actor, assignment_id, staff=True)
        out = assignments.assignment_out(session, assignment)
        rows = best_rows(session, assignment)
    key: SortKey = sort if sort in SORT_KEYS else "name"
    return ResultsTable(
        assignment=out,
        rows=sort_rows(search_rows(rows, query), key, descending=descending),
        summary=summarize(rows),
        query=query.strip(),
        sort=key,
        descending=descending,
    )


def search_rows(rows: Iterable[BestOut], query: str) -> list[BestOut]:
    """Rows whose username or display name contains every word of ``query`` (any case)."""
    words = query.casefold().split()
    return [
        row
        for row in rows
        if all(w in f"{row.username} {row.display_name}".casefold() for w in words)
    ]


def sort_rows(rows: Iterable[BestOut], key: SortKey, *, descending: bool = False) -> list[BestOut]:
    """Sorted by ``key``; rows without a value (no graded submission) always come last."""
    value: Callable[[BestOut], object] = {
        "name": lambda r: (r.display_name or r.username).casefold(),
        "score": lambda r: r.counted_score,
        "submissions": lambda r: r.submissions,
        "submitted": lambda r: r.submitted_at,
        "late": lambda r: r.late_minutes if r.submission_id is not None else None,
        "tamper": lambda r: r.tampered,
    }[key]
    by_name = sorted(rows, key=lambda r: r.username)
    present = [r for r in by_name if value(r) is not None]
    missing = [r for r in by_name if value(r) is None]
    present.sort(key=value, reverse=descending)  # type: ignore[arg-type]
    return present + missing


def summarize(rows: list[BestOut]) -> ResultsSummary:
    graded = [r for r in rows if r.counted_score is not None]
    full = [r for r in graded if r.max_score and (r.score or 0.0) >= r.max_score]
    return ResultsSummary(
        students=len(rows),
        submitted=sum(1 for r in rows if r.submissions > 0),
        full_marks=len(full),
        tampered=sum(1 for r in rows if r.tampered),
        late=sum(1 for r in graded if r.late_minutes > 0),
        mean_score=(
            round(sum(r.counted_score or 0.0 for r in graded) / len(graded), 2) if graded else None
        ),
    )


# --- the grading queue --------------------------------------------------------------------


class LaneDepth(BaseModel):
    lane: str
    queued: int
    oldest_at: datetime | None


class WorkerRow(BaseModel):
    id: str
    hostname: str
    slots: int
    busy: int
    jobs_done: int
    state: str
    alive: bool
    started_at: datetime
    heartbeat_at: datetime


class JobRow(BaseModel):
    id: int
    kind: str
    lane: str
    status: str
    attempts: int
    max_attempts: int
    course_id: int | None
    worker_id: str | None
    created_at: datetime
    started_at: datetime | None
    submission_id: int | None  # grading jobs of the actor's courses
    error: str


class QueueStatus(BaseModel):
    lanes: list[LaneDepth]
    running: int
    failed_last_day: int
    workers: list[WorkerRow]
    slots: int
    busy: int
    jobs: list[JobRow]  # waiting and running, of the actor's courses (admins: all)


def queue_status(platform: Platform, actor: Actor) -> QueueStatus:
    """The queue's depth per lane, the workers by heartbeat and the open jobs.

    Depths and workers are platform-wide (they say how long anyone waits); the
    job list holds the jobs of courses the actor is staff of (admins: every job).
    """
    staff_of = [c.course.id for c in staff_courses(platform, actor)]
    if not staff_of and not actor.is_admin:
        raise NotFoundError("no such page")
    now = utcnow()
    cutoff = now - timedelta(seconds=platform.settings.worker_lease_s)
    with platform.db.reading() as session:
        lanes = [
            LaneDepth(lane=lane, queued=int(count), oldest_at=oldest)
            for lane, count, oldest in session.execute(
                select(Job.lane, func.count(Job.id), func.min(Job.created_at))
                .where(Job.status == JobStatus.QUEUED)
                .group_by(Job.lane)
                .order_by(Job.lane)
            )
        ]
        running = session.scalar(select(func.count(Job.id)).where(Job.status == JobStatus.RUNNING))
        failed = session.scalar(
            select(func.count(Job.id)).where(
                Job.status == JobStatus.FAILED, Job.finished_at >= now - timedelta(days=1)
            )
        )
        workers = [
            _worker_row(w, cutoff)
            for w in session.scalars(
                select(Worker)
                .where((Worker.state == WorkerState.RUNNING) | (Worker.heartbeat_at >= cutoff))
                .order_by(Worker.started_at.desc())
                .limit(100)
            )
        ]
        jobs = _open_jobs(session, actor, staff_of)
    live = [w for w in workers if w.alive]
    return QueueStatus(
        lanes=lanes,
        running=int(running or 0),
        failed_last_day=int(failed or 0),
        workers=workers,
        slots=sum(w.slots for w in live),
        busy=sum(w.busy for w in live),
        jobs=jobs,
    )


def _worker_row(worker: Worker, cutoff: datetime) -> WorkerRow:
    return WorkerRow(
        id=worker.id,
        hostname=worker.hostname,
        slots=worker.slots,
        busy=worker.busy,
        jobs_done=worker.jobs_done,
        state=worker.state,
        alive=worker.state == WorkerState.RUNNING and worker.heartbeat_at >= cutoff,
        started_at=worker.started_at,
        heartbeat_at=worker.heartbeat_at,
    )


def _open_jobs(session: Session, actor: Actor, staff_of: list[int]) -> list[JobRow]:
    query = (
        select(Job, GradingRun.submission_id)
        .outerjoin(GradingRun, (Job.kind == "grade") & (GradingRun.id == Job.target_id))
        .where(Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))
        .order_by(Job.status.desc(), Job.id)  # running first, then the oldest waiting
        .limit(JOB_LIST)
    )
    if not actor.is_admin:
        query = query.where(Job.course_id.in_(staff_of))
    return [
        JobRow(
            id=job.id,
            kind=job.kind,
            lane=job.lane,
            status=job.status,
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            course_id=job.course_id,
            worker_id=job.worker_id,
            created_at=job.created_at,
            started_at=job.started_at,
            submission_id=submission_id,
            error=job.error,
        )
        for job, submission_id in session.execute(query)
    ]
