"""How the database queue picks and takes jobs, with statements whose cost does not
grow with the queue's depth.

The order (``jobs.py``): within a lane, the course with the fewest running jobs
first, then the oldest job. A single statement that joins every queued job to its
course's running count and sorts them all costs time in proportion to the queue: on
PostgreSQL 0.8 ms with 100 jobs queued, 6.7 ms with 8,000, and a worker claiming 8
slots paid it up to 16 times, during an exam peak when the queue is deepest. So a
claim is planned in a few index lookups instead, each independent of the depth:

1. the running jobs per course (at most the cluster's slots);
2. the courses that have jobs queued in the lane: a skip scan over the
   ``ix_jobs_queue`` index (one lookup per course, not per job);
3. each such course's oldest ``room`` queued jobs that no other transaction holds
   (a range of the same index, ``FOR UPDATE SKIP LOCKED``: workers planning at the
   same moment do not wait for each other, each passes over the rows another holds);
4. the fairness order applied to those few candidates here (``plan``);
5. one ``UPDATE`` of the planned jobs by id. The candidates not picked are let go
   when the claiming transaction ends.

Why not ``UPDATE ... WHERE id IN (SELECT ... LIMIT k FOR UPDATE SKIP LOCKED)`` in one
statement: PostgreSQL may run such a subquery more than once within the update, and
then takes more than k jobs (the contract test caught a claim of 1 taking 2). On
SQLite the claiming transaction holds the write lock from its start, so nothing
moves between the reads and the update; the update still takes only jobs still
queued, and returns the ones it took.
"""

from __future__ import annotations

import functools
import heapq
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    CTE,
    ColumnElement,
    CompoundSelect,
    ScalarSelect,
    Select,
    bindparam,
    exists,
    func,
    literal,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased

from assay.queue.base import ClaimedJob
from assay.storage.models import Job, JobKind, JobStatus, Lane

CourseKey = int | None  # jobs without a course (code execution) form a group of their own


@dataclass(frozen=True)
class Candidate:
    id: int
    course_id: CourseKey
    created_at: datetime


def waiting(session: Session, cap: int) -> dict[Lane, int]:
    """Jobs queued per lane, each counted only up to ``cap`` (lanes without any left
    out): what a claim of ``cap`` jobs needs to know, at the cost of ``cap`` index
    entries, not of the whole queue."""
    row = session.execute(_WAITING, {"cap": cap}).one()
    return {lane: int(count) for lane, count in zip(_LANES, row, strict=True) if count}


def running_by_course(session: Session) -> Counter[CourseKey]:
    """How many jobs run now, per course (all lanes, as the fairness order counts)."""
    rows = session.execute(_RUNNING_BY_COURSE).all()
    return Counter({row[0]: int(row[1]) for row in rows})


def candidates(session: Session, lane: Lane, room: int) -> list[Candidate]:
    """The oldest ``room`` queued jobs of each course with jobs queued in ``lane``,
    locked for this transaction (rows others hold are passed over).

    On PostgreSQL one statement (a lateral join over the courses' skip scan); on
    SQLite, where a statement is a function call, not a round trip, one per course."""
    params = {"in_lane": lane, "room": room}
    if session.get_bind().dialect.name == "postgresql":
        both = session.execute(_candidates_in_one(), params).all()
        return [Candidate(row[0], row[1], row[2]) for row in both]
    found: list[Candidate] = []
    for (course_id,) in session.execute(_courses_queued(), params).all():
        rows = session.execute(_oldest(course_id is None), {**params, "in_course": course_id})
        found += [Candidate(row[0], course_id, row[1]) for row in rows]
    return found


def plan(found: list[Candidate], running: Counter[CourseKey], room: int) -> list[Candidate]:
    """Up to ``room`` of ``found`` in the fairness order: each pick from the course with
    the fewest running jobs (counting the picks before it), then the oldest job.

    The same order as claiming one job at a time with the whole queue sorted, computed
    over each course's oldest ``room`` jobs, which are all such claims could reach.
    """
    by_course: dict[CourseKey, list[Candidate]] = {}
    for candidate in sorted(found, key=lambda c: (c.created_at, c.id)):
        by_course.setdefault(candidate.course_id, []).append(candidate)
    busy = Counter(running)
    heads = [
        (busy[course], jobs[0].created_at, jobs[0].id, course) for course, jobs in by_course.items()
    ]
    heapq.heapify(heads)
    taken = {course: 0 for course in by_course}
    picked: list[Candidate] = []
    while heads and len(picked) < room:
        _, _, _, course = heapq.heappop(heads)
        jobs = by_course[course]
        picked.append(jobs[taken[course]])
        taken[course] += 1
        busy[course] += 1
        if taken[course] < len(jobs):
            following = jobs[taken[course]]
            heapq.heappush(heads, (busy[course], following.created_at, following.id, course))
    return picked


def take(session: Session, picked: list[Candidate], values: dict[str, object]) -> list[ClaimedJob]:
    """Claim the ``picked`` jobs still queued, in the order picked."""
    if not picked:
        return []
    rows = session.execute(_CLAIM, {"picked": [c.id for c in picked], **values}).all()
    claimed = {
        row[0]: ClaimedJob(
            id=row[0],
            kind=JobKind(row[1]),
            lane=Lane(row[2]),
            target_id=row[3],
            attempt=row[4],
            max_attempts=row[5],
        )
        for row in rows
    }
    return [claimed[c.id] for c in picked if c.id in claimed]


# --- the statements (built once each: a burst claims hundreds of times a second) -----------

_LANES = tuple(Lane)


def _queued_up_to_cap(lane: Lane) -> ScalarSelect[int]:
    first = (
        select(Job.id)
        .where(Job.status == JobStatus.QUEUED, Job.lane == lane)
        .limit(bindparam("cap", type_=Job.attempts.type))
        .subquery()
    )
    return select(func.count()).select_from(first).scalar_subquery()


_WAITING = select(*(_queued_up_to_cap(lane) for lane in _LANES))

_RUNNING_BY_COURSE = (
    select(Job.course_id, func.count(Job.id))
    .where(Job.status == JobStatus.RUNNING)
    .group_by(Job.course_id)
)


def _queued_in_lane(job: type[Job]) -> list[ColumnElement[bool]]:
    return [job.status == JobStatus.QUEUED, job.lane == bindparam("in_lane", type_=Job.lane.type)]


def _course_steps() -> CTE:
    """The distinct course ids with jobs queued in a lane (and a final NULL), by a skip
    scan: each step finds the next course id above the last through the index, so
    the cost is one index lookup per course, whatever the number of jobs queued."""
    inner = aliased(Job)
    first = select(func.min(Job.course_id).label("course_id")).where(*_queued_in_lane(Job))
    steps = first.cte("queued_courses", recursive=True)
    following = (
        select(func.min(inner.course_id))
        .where(*_queued_in_lane(inner), inner.course_id > steps.c.course_id)
        .scalar_subquery()
    )
    return steps.union_all(select(following).where(steps.c.course_id.is_not(None)))


@functools.cache
def _courses_queued() -> CompoundSelect[int | None]:
    """The courses with jobs queued in a lane; None for jobs without a course."""
    steps = _course_steps()
    with_course = select(steps.c.course_id).where(steps.c.course_id.is_not(None))
    without_course = select(literal(None, Job.course_id.type)).where(
        exists().where(*_queued_in_lane(Job), Job.course_id.is_(None))
    )
    return union_all(with_course, without_course)


@functools.cache
def _candidates_in_one() -> CompoundSelect[int, int | None, datetime]:
    """PostgreSQL: each course's oldest ``room`` queued jobs in one statement."""
    steps = _course_steps()
    inner = aliased(Job)
    per_course = (
        select(inner.id, inner.course_id, inner.created_at)
        .where(*_queued_in_lane(inner), inner.course_id == steps.c.course_id)
        .order_by(inner.created_at, inner.id)
        .limit(bindparam("room", type_=Job.attempts.type))
        .with_for_update(skip_locked=True)
        .lateral("oldest")
    )
    with_course = (
        select(per_course.c.id, per_course.c.course_id, per_course.c.created_at)
        .select_from(steps)
        .join(per_course, true())
        .where(steps.c.course_id.is_not(None))
    )
    lone = (
        select(Job.id, Job.course_id, Job.created_at)
        .where(*_queued_in_lane(Job), Job.course_id.is_(None))
        # course_id first, though all NULL here: PostgreSQL then reads the index in
        # order (an IS NULL condition does not fix the column for its ordering)
        .order_by(Job.course_id, Job.created_at, Job.id)
        .limit(bindparam("room", type_=Job.attempts.type))
        .with_for_update(skip_locked=True)
        .subquery("lone")
    )
    without_course = select(lone.c.id, lone.c.course_id, lone.c.created_at)
    return union_all(with_course, without_course)


def _in_course(job: type[Job], without_course: bool) -> ColumnElement[bool]:
    if without_course:
        return job.course_id.is_(None)
    return job.course_id == bindparam("in_course", type_=Job.course_id.type)


@functools.cache
def _oldest(without_course: bool) -> Select[int, datetime]:
    return (
        select(Job.id, Job.created_at)
        .where(*_queued_in_lane(Job), _in_course(Job, without_course))
        .order_by(Job.course_id, Job.created_at, Job.id)  # the index's order (see below)
        .limit(bindparam("room", type_=Job.attempts.type))
        .with_for_update(skip_locked=True)
    )


_CLAIM = (
    update(Job)
    .where(Job.id.in_(bindparam("picked", expanding=True)), Job.status == JobStatus.QUEUED)
    .values(
        status=JobStatus.RUNNING,
        worker_id=bindparam("claimer", type_=Job.worker_id.type),
        attempts=Job.attempts + 1,
        started_at=bindparam("claimed_at", type_=Job.started_at.type),
        lease_expires_at=bindparam("lease_until", type_=Job.lease_expires_at.type),
    )
    .returning(Job.id, Job.kind, Job.lane, Job.target_id, Job.attempts, Job.max_attempts)
    .execution_options(synchronize_session=False)
)
