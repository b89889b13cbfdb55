"""Reading results: submissions, reports, best submission per student, regrades.

Students see their own submissions only, and their reports through
``GradeReport.student_view``: hidden tests keep their verdict and score but lose
their contents; tests shown "after the due date" open once the assignment has
closed (due date + grace + the last accepted late day). Staff see everything of
their courses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from assay.errors import InvalidRequestError, NotFoundError
from assay.grading import scoring
from assay.grading.report import GradeReport
from assay.grading.scoring import BestPolicy, choose_best
from assay.services.actor import Actor
from assay.services.catalog import assignments
from assay.services.identity import audit
from assay.services.identity.access import STAFF, course_role, require_staff
from assay.services.intake.submissions import SubmissionOut, queue_run, submission_out
from assay.services.platform import Platform
from assay.storage.models import (
    Assignment,
    Enrollment,
    GradingRun,
    Lane,
    Role,
    RunReason,
    RunStatus,
    Submission,
    User,
    utcnow,
)

MAX_PAGE = 500
PENDING = (RunStatus.QUEUED, RunStatus.RUNNING)


class ReportOut(BaseModel):
    submission_id: int
    run_id: int
    status: RunStatus
    staff_view: bool  # False: the student view (hidden tests reduced)
    report: GradeReport | None  # None until graded (or when grading failed)
    error: str | None = None  # staff only: why grading failed


class RegradeOut(BaseModel):
    queued: int  # runs queued
    skipped: int  # submissions that already had a run waiting
    run_ids: list[int]


class BestOut(BaseModel):
    """The submission that counts for one student, under the assignment's policy."""

    user_id: int
    username: str
    display_name: str
    policy: BestPolicy
    submissions: int  # how many the student made
    submission_id: int | None = None
    run_id: int | None = None
    submitted_at: datetime | None = None
    tests_passed: int | None = None
    tests_total: int | None = None
    score: float | None = None  # as graded
    max_score: float | None = None
    late_minutes: int = 0
    late_penalty: float = 0.0  # fraction of the score taken off
    counted_score: float | None = None  # score after the late penalty
    tampered: bool | None = None  # staff only


# --- single submissions -------------------------------------------------------------------


def readable_submission(
    session: Session, actor: Actor, submission_id: int
) -> tuple[Submission, bool]:
    """The submission if the actor may read it, and whether they read it as staff."""
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise NotFoundError("no such submission")
    assignment = session.get(Assignment, submission.assignment_id)
    assert assignment is not None  # noqa: S101 - foreign key
    staff = course_role(session, actor, assignment.course_id) in STAFF
    if not staff and submission.user_id != actor.user_id:
        raise NotFoundError("no such submission")
    return submission, staff


def _latest_run(session: Session, submission_id: int) -> GradingRun:
    run = session.scalar(
        select(GradingRun)
        .where(GradingRun.submission_id == submission_id)
        .order_by(GradingRun.id.desc())
        .limit(1)
    )
    if run is None:
        raise NotFoundError("the submission has no grading run")
    return run


def get_submission(platform: Platform, actor: Actor, submission_id: int) -> SubmissionOut:
    """A submission with the state of its latest grading run."""
    with platform.db.reading() as session:
        submission, _staff = readable_submission(session, actor, submission_id)
        return submission_out(submission, _latest_run(session, submission.id))


def get_report(
    platform: Platform, actor: Actor, submission_id: int, run_id: int | None = None
) -> ReportOut:
    """The report of a submission's latest run (or of ``run_id``); students get their view."""
    with platform.db.reading() as session:
        submission, staff = readable_submission(session, actor, submission_id)
        if run_id is None:
            run = _latest_run(session, submission.id)
        else:
            found = session.get(GradingRun, run_id)
            if found is None or found.submission_id != submission.id:
                raise NotFoundError("no such grading run of this submission")
            run = found
        report = GradeReport.model_validate(run.report) if run.report is not None else None
        if report is not None and not staff:
            assignment = session.get(Assignment, submission.assignment_id)
            assert assignment is not None  # noqa: S101 - foreign key
            report = report.student_view(after_due=is_closed(assignment))
        return ReportOut(
            submission_id=submission.id,
            run_id=run.id,
            status=RunStatus(run.status),
            staff_view=staff,
            report=report,
            error=(run.error or None) if staff else None,
        )


def is_closed(assignment: Assignment, at: datetime | None = None) -> bool:
    """Whether no more submissions count: past due + grace + the last late day."""
    policy = assignments.late_policy(assignment)
    return scoring.is_closed(assignment.due_at, policy, at or utcnow())


@dataclass(frozen=True)
class SubmissionFilter:
    assignment_id: int | None = None
    course_id: int | None = None
    user_id: int | None = None
    status: RunStatus | None = None
    limit: int = 100
    offset: int = 0


def list_submissions(
    platform: Platform, actor: Actor, where: SubmissionFilter, *, staff: bool = False
) -> list[SubmissionOut]:
    """Submissions, newest first. ``staff=False``: the actor's own only.

    ``staff=True`` needs an assignment or course the actor is staff of (admins: any,
    or none for all courses).
    """
    if not 1 <= where.limit <= MAX_PAGE or where.offset < 0:
        raise InvalidRequestError(f"limit is 1-{MAX_PAGE}, offset at least 0")
    with platform.db.reading() as session:
        query = _with_latest_run(select(Submission, GradingRun)).join(
            Assignment, Assignment.id == Submission.assignment_id
        )
        if where.assignment_id is not None:
            assignment = assignments.get_for(session, actor, where.assignment_id, staff=staff)
            query = query.where(Submission.assignment_id == assignment.id)
        if where.course_id is not None:
            if staff:
                require_staff(session, actor, where.course_id)
            query = query.where(Assignment.course_id == where.course_id)
        if staff:
            if where.assignment_id is None and where.course_id is None and not actor.is_admin:
                raise InvalidRequestError("give an assignment_id or course_id")
            if where.user_id is not None:
                query = query.where(Submission.user_id == where.user_id)
        else:
            query = query.where(Submission.user_id == actor.user_id)
        if where.status is not None:
            query = query.where(GradingRun.status == where.status)
        query = query.order_by(Submission.id.desc()).limit(where.limit).offset(where.offset)
        return [submission_out(s, r) for s, r in session.execute(query)]


# --- regrades -----------------------------------------------------------------------------


def regrade(platform: Platform, actor: Actor, submission_id: int) -> SubmissionOut:
    """Grade a submission again against the assignment's current version (staff)."""
    with platform.db.session() as session:
        submission, staff = readable_submission(session, actor, submission_id)
        assignment = assignments.get_for(session, actor, submission.assignment_id, staff=True)
        assert staff  # noqa: S101 - get_for(staff=True) checked it
        return queue_regrade(
            platform, session, actor, submission, assignment, action="submission.regrade"
        )


def queue_regrade(
    platform: Platform,
    session: Session,
    actor: Actor,
    submission: Submission,
    assignment: Assignment,
    *,
    action: str,
) -> SubmissionOut:
    """Queue a new run of ``submission`` and audit it as ``action``; callers check access."""
    run = _regrade_run(platform, session, submission, assignment, Lane.INTERACTIVE)
    audit.record(session, actor, action, f"submission:{submission.id}")
    return submission_out(submission, run)


def _regrade_run(
    platform: Platform,
    session: Session,
    submission: Submission,
    assignment: Assignment,
    lane: Lane,
) -> GradingRun:
    """A new run of ``submission`` keyed ``regrade:<id>``, so it never cancels the
    student's own newer submission."""
    return queue_run(
        platform,
        session,
        submission,
        assignment,
        reason=RunReason.REGRADE,
        lane=lane,
        dedupe_key=f"regrade:{submission.id}",
    )


def regrade_all(platform: Platform, actor: Actor, assignment_id: int) -> RegradeOut:
    """Regrade every submission of an assignment in the bulk lane (staff).

    Submissions whose latest run is still waiting or running are skipped; bulk
    runs never delay students' own submissions (see ``assay.queue``).
    """
    with platform.db.session() as session:
        assignment = assignments.get_for(session, actor, assignment_id, staff=True)
        if assignment.current_version_id is None:
            raise InvalidRequestError("the assignment has no package yet")
        rows = session.execute(
            _with_latest_run(select(Submission, GradingRun))
            .where(Submission.assignment_id == assignment.id)
            .order_by(Submission.id)
        ).all()
        run_ids: list[int] = []
        skipped = 0
        for submission, latest_run in rows:
            if latest_run.status in PENDING:
                skipped += 1
                continue
            run_ids.append(_regrade_run(platform, session, submission, assignment, Lane.BULK).id)
        audit.record(
            session,
            actor,
            "assignment.regrade",
            f"assignment:{assignment.id}",
            queued=len(run_ids),
            skipped=skipped,
        )
        return RegradeOut(queued=len(run_ids), skipped=skipped, run_ids=run_ids)


# --- best submission ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Graded:
    """A submission with its latest graded run: a ``scoring.Attempt``."""

    submission: Submission
    run: GradingRun
    penalty: float

    @property
    def order(self) -> int:
        return self.submission.id

    @property
    def tests_passed(self) -> int:
        return self.run.tests_passed or 0

    @property
    def counted_score(self) -> float:
        return scoring.counted_score(self.run.score, self.penalty)


def _with_latest_run(
    query: Select[Submission, GradingRun], status: RunStatus | None = None
) -> Select[Submission, GradingRun]:
    """``query`` joined to each submission's newest run (of ``status``, if given)."""
    newest = select(GradingRun.submission_id, func.max(GradingRun.id).label("run_id"))
    if status is not None:
        newest = newest.where(GradingRun.status == status)
    latest = newest.group_by(GradingRun.submission_id).subquery()
    return query.join(latest, latest.c.submission_id == Submission.id).join(
        GradingRun, GradingRun.id == latest.c.run_id
    )


def _graded_runs(session: Session, assignment: Assignment, user_id: int | None) -> list[_Graded]:
    """Each submission with its latest graded run (a pending regrade keeps the old grade)."""
    query = _with_latest_run(select(Submission, GradingRun), RunStatus.GRADED).where(
        Submission.assignment_id == assignment.id
    )
    if user_id is not None:
        query = query.where(Submission.user_id == user_id)
    policy = assignments.late_policy(assignment)
    return [
        _Graded(s, r, scoring.late_penalty(s.late_minutes, policy))
        for s, r in session.execute(query)
    ]


def _best_out(
    user: User, policy: BestPolicy, count: int, best: _Graded | None, *, staff: bool
) -> BestOut:
    out = BestOut(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        policy=policy,
        submissions=count,
    )
    if best is None:
        return out
    s, r = best.submission, best.run
    return out.model_copy(
        update={
            "submission_id": s.id,
            "run_id": r.id,
            "submitted_at": s.created_at,
            "tests_passed": r.tests_passed,
            "tests_total": r.tests_total,
            "score": r.score,
            "max_score": r.max_score,
            "late_minutes": s.late_minutes,
            "late_penalty": best.penalty,
            "counted_score": best.counted_score,
            "tampered": r.tampered if staff else None,
        }
    )


def _counts(session: Session, assignment_id: int) -> dict[int, int]:
    rows = session.execute(
        select(Submission.user_id, func.count(Submission.id))
        .where(Submission.assignment_id == assignment_id)
        .group_by(Submission.user_id)
    )
    return {user_id: count for user_id, count in rows}


def my_best(platform: Platform, actor: Actor, assignment_id: int) -> BestOut:
    """The actor's own counted submission for an assignment."""
    with platform.db.reading() as session:
        assignment = assignments.get_for(session, actor, assignment_id)
        user = session.get(User, actor.user_id) if actor.user_id is not None else None
        if user is None:
            raise InvalidRequestError("only a user has submissions")
        policy = BestPolicy(assignment.best_policy)
        graded = _graded_runs(session, assignment, user.id)
        staff = course_role(session, actor, assignment.course_id) in STAFF
        count = _counts(session, assignment.id).get(user.id, 0)
        return _best_out(user, policy, count, choose_best(policy, graded), staff=staff)


def best_submissions(platform: Platform, actor: Actor, assignment_id: int) -> list[BestOut]:
    """Every student of the course (and anyone else who submitted), with their counted
    submission under the assignment's policy (staff)."""
    with platform.db.reading() as session:
        assignment = assignments.get_for(session, actor, assignment_id, staff=True)
        return best_rows(session, assignment)


def best_rows(session: Session, assignment: Assignment) -> list[BestOut]:
    policy = BestPolicy(assignment.best_policy)
    by_user: dict[int, list[_Graded]] = {}
    for graded in _graded_runs(session, assignment, None):
        by_user.setdefault(graded.submission.user_id, []).append(graded)
    counts = _counts(session, assignment.id)
    students = set(
        session.scalars(
            select(Enrollment.user_id).where(
                Enrollment.course_id == assignment.course_id, Enrollment.role == Role.STUDENT
            )
        )
    )
    user_ids = students | set(counts)
    users = session.scalars(select(User).where(User.id.in_(user_ids)).order_by(User.username))
    return [
        _best_out(
            u, policy, counts.get(u.id, 0), choose_best(policy, by_user.get(u.id, [])), staff=True
        )
        for u in users
    ]
