"""The one execution core under both code-execution APIs (picobytes' and Judge0's).

An API hands the core a validated request as JSON and gets back tokens and
``ExecutionView``s; everything about an execution's life is here, once:

- **create**: a request is stored as an ``Execution`` and its ``JobKind.EXECUTE``
  job queued in the interactive lane, in ONE transaction (``submit``, or
  ``create_execution`` inside the caller's).
- **own**: only the user who made an execution, or an administrator, reads it;
  anyone else, and any other API, gets ``NotFoundError`` (``read``) or nothing
  (``read_many``), never a sign that it exists.
- **wait**: ``wait_for`` returns when the executions are finished or after a bound
  the API chooses; a worker of this process wakes it at once, others are polled.
- **run**: ``run_execution_job`` is the job handler: it runs the API's runner
  (``picobytes.run``, ``judge0_run.run``) and commits the result together with the
  job's completion, so a job that is no longer this worker's records nothing.
- **fail**: ``mark_execution_failed`` is the fail handler. The error (an exception
  with its traceback and host paths) goes only to the log, under a reference; the
  APIs show only ``internal error, reference <id>`` (``ExecutionView.error_text``).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.errors import NotFoundError
from assay.queue import ClaimedJob
from assay.services.actor import Actor
from assay.services.execution import judge0_run, picobytes
from assay.services.platform import Platform
from assay.storage.models import Execution, JobKind, Lane, RunStatus, utcnow

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.25
_DONE = (RunStatus.GRADED, RunStatus.ERROR)


class Api(StrEnum):
    """The API an execution came through (``Execution.api``): it picks the runner."""

    PICOBYTES = "picobytes"
    JUDGE0 = "judge0"


@dataclass(frozen=True)
class ExecutionView:
    """An execution as its owner may see it, read off the row."""

    token: str
    status: RunStatus
    request: dict[str, Any]
    result: dict[str, Any] | None  # the runner's result; None until graded, and on error
    error_text: str | None  # on error (ours): the reference, and nothing internal
    created_at: datetime
    finished_at: datetime | None


# --- create ---------------------------------------------------------------------------


def create_execution(
    session: Session, platform: Platform, actor: Actor, api: Api, request: dict[str, Any]
) -> Execution:
    """Store a request and queue its job (inside the caller's transaction)."""
    execution = Execution(token=str(uuid.uuid4()), api=api, user_id=actor.user_id, request=request)
    session.add(execution)
    session.flush()
    platform.queue.enqueue(session, JobKind.EXECUTE, execution.id, lane=Lane.INTERACTIVE)
    return execution


def submit(platform: Platform, actor: Actor, api: Api, requests: list[dict[str, Any]]) -> list[str]:
    """Store and queue ``requests`` in one transaction; their tokens, in order."""
    with platform.db.session() as session:
        return [
            create_execution(session, platform, actor, api, request).token for request in requests
        ]


# --- own ------------------------------------------------------------------------------


def _visible(execution: Execution | None, actor: Actor, api: Api) -> bool:
    """The ownership rule: the execution's maker, or an administrator, through its API."""
    return (
        execution is not None
        and execution.api == api
        and (execution.user_id == actor.user_id or actor.is_admin)
    )


def read(platform: Platform, actor: Actor, token: str, api: Api) -> ExecutionView:
    """One execution the actor may see; ``NotFoundError`` otherwise."""
    with platform.db.reading() as session:
        execution = session.scalar(select(Execution).where(Execution.token == token))
        if execution is None or not _visible(execution, actor, api):
            raise NotFoundError(f"no execution {token}")
        return _view(execution)


def read_many(
    platform: Platform, actor: Actor, tokens: list[str], api: Api
) -> list[ExecutionView | None]:
    """The executions of ``tokens`` in that order, None for each the actor may not see."""
    with platform.db.reading() as session:
        rows = {
            e.token: e
            for e in session.scalars(select(Execution).where(Execution.token.in_(tokens)))
        }
        return [
            _view(rows[token]) if _visible(rows.get(token), actor, api) else None
            for token in tokens
        ]


def _view(execution: Execution) -> ExecutionView:
    status = RunStatus(execution.status)
    failed = status is RunStatus.ERROR
    return ExecutionView(
        token=execution.token,
        status=status,
        request=dict(execution.request),
        result=None if failed or execution.result is None else dict(execution.result),
        error_text=internal_error_text(execution.result) if failed else None,
        created_at=execution.created_at,
        finished_at=execution.finished_at,
    )


# --- wait -----------------------------------------------------------------------------

_finished = threading.Condition()


def notify_finished() -> None:
    """Wake this process's waiters (an execution was recorded)."""
    with _finished:
        _finished.notify_all()


def wait_for(platform: Platform, tokens: list[str], timeout_s: float) -> None:
    """Return when every execution of ``tokens`` is finished, or after ``timeout_s``.

    Workers in this process wake the waiter at once; others are seen by polling.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        with platform.db.reading() as session:
            pending = session.scalar(
                select(Execution.id)
                .where(
                    Execution.token.in_(tokens),
                    Execution.status.in_([RunStatus.QUEUED, RunStatus.RUNNING]),
                )
                .limit(1)
            )
        left = deadline - time.monotonic()
        if pending is None or left <= 0:
            return
        with _finished:
            _finished.wait(min(POLL_INTERVAL_S, left))


# --- run (on a worker) ----------------------------------------------------------------


def _run(platform: Platform, api: Api, request: dict[str, Any]) -> dict[str, Any]:
    """The API's runner, looked up when the job runs (so a replaced runner is the one used)."""
    match api:
        case Api.PICOBYTES:
            return picobytes.run(platform, request)
        case Api.JUDGE0:
            return judge0_run.run(platform, request)


def run_execution_job(platform: Platform, job: ClaimedJob, worker_id: str) -> None:
    """Run one queued execution and record its result with the job's completion.

    Raises on infrastructure failures (the pool retries, then calls
    ``mark_execution_failed``); the student's code failing is a result, never an error.
    """
    with platform.db.session() as session:
        execution = session.get(Execution, job.target_id)
        if execution is None:
            platform.queue.finish(session, job.id, worker_id, error="execution not found")
            return
        if execution.status in (*_DONE, RunStatus.CANCELLED):
            platform.queue.finish(session, job.id, worker_id)  # already recorded
            return
        execution.status = RunStatus.RUNNING
        api, request = execution.api, dict(execution.request)
    result = _run(platform, Api(api), request)
    with platform.db.session() as session:
        if not platform.queue.finish(session, job.id, worker_id):
            session.rollback()  # no longer ours: another worker records it
            return
        execution = session.get(Execution, job.target_id)
        if execution is not None and execution.status not in _DONE:
            execution.result = result
            execution.status = RunStatus.GRADED
            execution.finished_at = utcnow()
    notify_finished()


# --- fail -----------------------------------------------------------------------------


def mark_execution_failed(session: Session, execution_id: int, error: str) -> None:
    """Record an infrastructure failure for good (inside the caller's transaction): the
    fail handler of EXECUTE jobs, for the pool (out of attempts) and the watchdog.

    ``error`` (an exception and its traceback, with host paths) goes to the log only,
    under a reference; the stored result holds the reference, which is all the APIs
    show (``internal_error_text``).
    """
    execution = session.get(Execution, execution_id)
    if execution is None or execution.status in _DONE:
        return
    reference = uuid.uuid4().hex[:12]
    log.error(
        "execution %s failed on our side, reference %s: %s",
        execution_id,
        reference,
        error,
        extra={"reference": reference, "execution_id": execution_id, "api": execution.api},
    )
    execution.status = RunStatus.ERROR
    execution.finished_at = utcnow()
    execution.result = {"reference": reference}


def internal_error_text(result: dict[str, Any] | None) -> str:
    """What the caller is told about an execution that failed on our side: no internals,
    only the reference under which the log has them."""
    reference = (result or {}).get("reference")
    if not isinstance(reference, str):
        return "internal error"
    return f"internal error, reference {reference}"
