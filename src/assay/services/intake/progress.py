"""Progress events of grading runs: recorded by workers, read by the live-progress API.

Every stage of a run is one ``RunEvent`` row numbered ``seq`` 0, 1, 2, ... per run:
``queued`` (written by ``submissions.queue_run``), ``started``, ``cloning``,
``building``, ``testing`` (``current`` of ``total``), then one terminal stage:
``done``, ``error`` or ``cancelled``. Readers only need the database, so the
server streaming them and the worker writing them may be different processes.

On PostgreSQL, ``record_events`` also sends ``NOTIFY assay_run_events`` with
``<run id>:<seq>`` (the run's newest seq) in the same transaction: PostgreSQL
delivers it when, and only if, the events commit, to every API server listening
(``assay.web.api.events.RunWatch``), which wakes the streams of that run at once
instead of polling. SQLite has no such thing: there the streams poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import String, bindparam, cast, func, insert, select, text
from sqlalchemy.orm import Session

from assay.errors import NotFoundError
from assay.grading.stages import Stage
from assay.services.actor import Actor
from assay.services.identity.access import STAFF, course_role
from assay.services.platform import Platform
from assay.storage.models import (
    Assignment,
    GradingRun,
    RunEvent,
    RunStatus,
    Submission,
    utcnow,
)

# After one of these no further event is recorded for the run: a stream may end.
TERMINAL_STAGES = frozenset({Stage.DONE, Stage.ERROR, Stage.CANCELLED})
TERMINAL_STATUSES = frozenset({RunStatus.GRADED, RunStatus.ERROR, RunStatus.CANCELLED})

MAX_DETAIL_CHARS = 500  # the column's width
NOTIFY_CHANNEL = "assay_run_events"  # payload: "<run id>:<newest seq>"
_NOTIFY = text(
    "SELECT pg_notify(:channel, payload) FROM unnest(CAST(:payloads AS text[])) AS payload"
)


class EventOut(BaseModel):
    """One stage of a grading run, as the API shows it."""

    run_id: int
    seq: int
    stage: str
    detail: str
    current: int | None
    total: int | None
    at: datetime

    @property
    def terminal(self) -> bool:
        return self.stage in TERMINAL_STAGES


class RunProgress(BaseModel):
    """Where a run is: its status and its newest event."""

    run_id: int
    submission_id: int
    status: RunStatus
    last_seq: int
    stage: str
    finished: bool


def record_event(  # noqa: PLR0917 - mirrors grading.context.Progress.stage
    session: Session,
    run_id: int,
    stage: Stage,
    detail: str = "",
    current: int | None = None,
    total: int | None = None,
) -> int:
    """Append a stage to the run's events in ``session``'s transaction; returns its seq.

    Safe with concurrent writers: the run's row is locked (``FOR UPDATE`` on
    PostgreSQL; SQLite transactions here start with ``BEGIN IMMEDIATE`` and so are
    already serialised) before the next seq is read, so two writers never pick
    the same number. Commit promptly: the lock is held until the transaction ends.
    """
    return record_events(session, [NewEvent(run_id, stage, detail, current, total)])[0]


def record_event_on(session: Session, worker_id: str, event: NewEvent) -> int | None:
    """``record_event`` if the run is still running on ``worker_id``; None (nothing
    recorded) if not: a run handed back or taken over by another worker shows none
    of this attempt's later stages. The run's row stays locked until the transaction
    ends, so a hand-back cannot slip in before the event is recorded.

    Two statements (a worker records a stage of every run it grades, several per
    run): the conditional lock, then the insert that reads the next seq and, on
    PostgreSQL, sends the notification."""
    if not _lock_run(session, event.run_id, running_on=worker_id):
        return None
    return _append(session, event)


# Built once (Core tables, bound parameters): a worker records several stages per run,
# and building a statement costs more Python than sending it.
_RUNS = GradingRun.metadata.tables[GradingRun.__tablename__]
_EVENTS = RunEvent.metadata.tables[RunEvent.__tablename__]
_LOCK_RUN = select(_RUNS.c.id).where(_RUNS.c.id == bindparam("run")).with_for_update()
_LOCK_RUN_ON = _LOCK_RUN.where(
    _RUNS.c.worker_id == bindparam("worker"), _RUNS.c.status == RunStatus.RUNNING
)
_NEXT_SEQ = select(func.coalesce(func.max(_EVENTS.c.seq), -1) + 1).where(
    _EVENTS.c.run_id == bindparam("run")
)
_APPEND = insert(_EVENTS).values(
    run_id=bindparam("run"),
    seq=_NEXT_SEQ.scalar_subquery(),
    stage=bindparam("new_stage"),
    detail=bindparam("new_detail"),
    current=bindparam("new_current"),
    total=bindparam("new_total"),
    created_at=bindparam("new_at"),
)
_APPEND_SQL = _APPEND.returning(_EVENTS.c.seq)
_APPEND_PG = _APPEND.returning(  # the notification goes out when (if) the insert commits
    _EVENTS.c.seq,
    func.pg_notify(
        NOTIFY_CHANNEL, cast(_EVENTS.c.run_id, String) + ":" + cast(_EVENTS.c.seq, String)
    ),
)


_LOCK_RUNS = (
    select(_RUNS.c.id)
    .where(_RUNS.c.id.in_(bindparam("runs", expanding=True)))
    .order_by(_RUNS.c.id)
    .with_for_update()
)
_NEWEST_SEQS = (
    select(_EVENTS.c.run_id, func.max(_EVENTS.c.seq))
    .where(_EVENTS.c.run_id.in_(bindparam("runs", expanding=True)))
    .group_by(_EVENTS.c.run_id)
)
_INSERT_EVENTS = insert(_EVENTS)


def _lock_run(session: Session, run_id: int, *, running_on: str | None = None) -> bool:
    """Lock the run's row (with ``running_on``: only if it runs on that worker)."""
    if running_on is None:
        return session.scalar(_LOCK_RUN, {"run": run_id}) is not None
    return session.scalar(_LOCK_RUN_ON, {"run": run_id, "worker": running_on}) is not None


def _append(session: Session, event: NewEvent) -> int:
    """Insert one event of a run locked by this transaction, numbered after the run's
    newest in the same statement (a statement after the lock's: on PostgreSQL it
    sees what the lock's previous holder committed), and on PostgreSQL notify the
    new seq at commit (``RETURNING pg_notify``); returns the seq."""
    values = {
        "run": event.run_id,
        "new_stage": event.stage,
        "new_detail": event.detail[:MAX_DETAIL_CHARS],
        "new_current": event.current,
        "new_total": event.total,
        "new_at": utcnow(),
    }
    postgres = session.get_bind().dialect.name == "postgresql"
    row = session.execute(_APPEND_PG if postgres else _APPEND_SQL, values).one()
    return int(row[0])


@dataclass(frozen=True)
class NewEvent:
    run_id: int
    stage: Stage
    detail: str = ""
    current: int | None = None
    total: int | None = None


def record_events(session: Session, events: Sequence[NewEvent]) -> list[int]:
    """``record_event`` for several events (of one or many runs) in three statements:
    the runs locked in id order (no deadlock between two such writers), their newest
    seqs read at once, the events inserted at once (and on PostgreSQL one more, the
    notifications); a single event takes ``record_event``'s two. Returns each event's
    seq."""
    if len(events) == 1:
        (event,) = events
        if not _lock_run(session, event.run_id):
            raise NotFoundError(f"no grading run {event.run_id}")
        return [_append(session, event)]
    run_ids = sorted({event.run_id for event in events})
    locked = set(session.scalars(_LOCK_RUNS, {"runs": run_ids}))
    missing = [run_id for run_id in run_ids if run_id not in locked]
    if missing:
        raise NotFoundError(f"no grading run {missing[0]}")
    newest: dict[int, int] = {
        int(run_id): int(seq) for run_id, seq in session.execute(_NEWEST_SEQS, {"runs": run_ids})
    }
    seqs: list[int] = []
    rows = []
    for event in events:
        last = newest.get(event.run_id)
        seq = 0 if last is None else last + 1
        newest[event.run_id] = seq
        seqs.append(seq)
        rows.append(
            {
                "run_id": event.run_id,
                "seq": seq,
                "stage": event.stage,
                "detail": event.detail[:MAX_DETAIL_CHARS],
                "current": event.current,
                "total": event.total,
                "created_at": utcnow(),
            }
        )
    session.execute(_INSERT_EVENTS, rows)
    notify_events(session, newest)
    return seqs


def notify_events(session: Session, newest: dict[int, int]) -> None:
    """On PostgreSQL, tell listening servers each run's newest seq when ``session``
    commits (nothing is sent if it rolls back). One statement for all the runs."""
    if not newest or session.get_bind().dialect.name != "postgresql":
        return
    payloads = [f"{run_id}:{seq}" for run_id, seq in sorted(newest.items())]
    session.execute(_NOTIFY, {"channel": NOTIFY_CHANNEL, "payloads": payloads})


class EventPage(BaseModel):
    """The run's events after a point, and whether more can come (``finished``)."""

    run_id: int
    status: RunStatus
    finished: bool
    events: list[EventOut]

    @property
    def last_seq(self) -> int | None:
        return self.events[-1].seq if self.events else None


def event_page(platform: Platform, actor: Actor, run_id: int, after_seq: int = -1) -> EventPage:
    """``list_events`` plus the run's status: what a poll or a stream step needs.

    The status is read before the events, so when it says the run is over, every
    event recorded with that status is in the page. The run, its owner and course
    come in one query (the access check needs no second one for the run's owner).
    """
    with platform.db.reading() as session:
        status, _submission_id = require_run_reader(session, actor, run_id)
        return _page(session, run_id, status, after_seq)


def submission_event_page(
    platform: Platform, actor: Actor, submission_id: int, after_seq: int = -1
) -> EventPage:
    """``event_page`` of the submission's newest run the actor may read, in one read:
    the submission's owner and course and its newest run come in one query, so a
    live-progress stream's first page costs the owner two queries (staff three)."""
    with platform.db.reading() as session:
        row = session.connection().execute(_NEWEST_RUN, {"submission_id": submission_id}).first()
        if row is None:
            raise NotFoundError("no such submission")
        owner_id, course_id, run_id, status = row
        _require_reader(session, actor, owner_id, course_id)
        if run_id is None:
            raise NotFoundError("the submission has no grading run")
        return _page(session, int(run_id), RunStatus(status), after_seq)


# A run's status and submission, and the submission's owner and course (for the
# access check).
_RUN_READER = (
    select(GradingRun.status, GradingRun.submission_id, Submission.user_id, Assignment.course_id)
    .join(Submission, Submission.id == GradingRun.submission_id)
    .join(Assignment, Assignment.id == Submission.assignment_id)
    .where(GradingRun.id == bindparam("run_id"))
)
# A submission's owner and course, and its newest run (id and status; None: no run).
_NEWEST_RUN = (
    select(Submission.user_id, Assignment.course_id, GradingRun.id, GradingRun.status)
    .join(Assignment, Assignment.id == Submission.assignment_id)
    .outerjoin(GradingRun, GradingRun.submission_id == Submission.id)
    .where(Submission.id == bindparam("submission_id"))
    .order_by(GradingRun.id.desc())
    .limit(1)
)


def _page(session: Session, run_id: int, status: RunStatus, after_seq: int) -> EventPage:
    """The page of a run whose status was just read (and its reader checked)."""
    events = events_after(session, run_id, after_seq)
    finished = status in TERMINAL_STATUSES or any(e.terminal for e in events)
    if not finished and not events:
        finished = _has_terminal_event(session, run_id)
    return EventPage(run_id=run_id, status=status, finished=finished, events=events)


def _has_terminal_event(session: Session, run_id: int) -> bool:
    found = session.scalar(
        select(RunEvent.id)
        .where(RunEvent.run_id == run_id, RunEvent.stage.in_(TERMINAL_STAGES))
        .limit(1)
    )
    return found is not None


def newest_seqs(platform: Platform, run_ids: list[int]) -> dict[int, tuple[int, bool]]:
    """For each run: (its newest seq, whether it is over), in one query.

    No access check and nothing but numbers: it tells a process's open streams
    which of them have something new (they then read it access-checked), so one
    poll serves every stream.
    """
    if not run_ids:
        return {}
    with platform.db.reading() as session:
        rows = session.execute(
            select(GradingRun.id, GradingRun.status, func.max(RunEvent.seq))
            .outerjoin(RunEvent, RunEvent.run_id == GradingRun.id)
            .where(GradingRun.id.in_(run_ids))
            .group_by(GradingRun.id, GradingRun.status)
        )
        return {
            run_id: (-1 if seq is None else int(seq), RunStatus(status) in TERMINAL_STATUSES)
            for run_id, status, seq in rows
        }


def list_events(
    platform: Platform, actor: Actor, run_id: int, after_seq: int = -1
) -> list[EventOut]:
    """The run's events with ``seq > after_seq``, oldest first.

    Visible to the submission's owner and the course's staff; anyone else gets
    NotFound, so run ids do not leak.
    """
    with platform.db.reading() as session:
        require_run_reader(session, actor, run_id)
        return events_after(session, run_id, after_seq)


def events_after(session: Session, run_id: int, after_seq: int = -1) -> list[EventOut]:
    """No access check: callers have done it (``require_run_reader``). Columns on the
    session's connection, not ``RunEvent`` objects through the ORM: a page is read
    often (every stream, every step) and its rows are only copied out."""
    rows = session.connection().execute(_EVENTS_AFTER, {"run_id": run_id, "after_seq": after_seq})
    return [
        EventOut(
            run_id=run_id, seq=seq, stage=stage, detail=detail, current=current, total=total,
            at=at,
        )
        for seq, stage, detail, current, total, at in rows
    ]  # fmt: skip


_EVENTS_AFTER = (
    select(
        RunEvent.seq,
        RunEvent.stage,
        RunEvent.detail,
        RunEvent.current,
        RunEvent.total,
        RunEvent.created_at,
    )
    .where(RunEvent.run_id == bindparam("run_id"), RunEvent.seq > bindparam("after_seq"))
    .order_by(RunEvent.seq)
)


def require_run_reader(session: Session, actor: Actor, run_id: int) -> tuple[RunStatus, int]:
    """The run's status and submission id, if the actor owns its submission or is staff
    of its course (one query, two for staff)."""
    row = session.connection().execute(_RUN_READER, {"run_id": run_id}).first()
    if row is None:
        raise NotFoundError("no such grading run")
    status, submission_id, owner_id, course_id = row
    _require_reader(session, actor, owner_id, course_id)
    return RunStatus(status), submission_id


def run_progress(platform: Platform, actor: Actor, run_id: int) -> RunProgress:
    """The run's status and newest stage (access-checked like ``list_events``)."""
    with platform.db.reading() as session:
        status, submission_id = require_run_reader(session, actor, run_id)
        last = session.scalar(
            select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.seq.desc())
        )
        return RunProgress(
            run_id=run_id,
            submission_id=submission_id,
            status=status,
            last_seq=-1 if last is None else last.seq,
            stage="" if last is None else last.stage,
            finished=status in TERMINAL_STATUSES
            or (last is not None and last.stage in TERMINAL_STAGES),
        )


def _require_reader(session: Session, actor: Actor, owner_id: int, course_id: int) -> None:
    """The submission's owner, or staff of its course; anyone else gets NotFound."""
    if actor.user_id is not None and owner_id == actor.user_id:
        return
    if course_role(session, actor, course_id) not in STAFF:
        raise NotFoundError("no such submission")
