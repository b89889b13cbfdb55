"""The queue job behind both code-execution APIs: run one stored execution.

It picks the API's runner (picobytes' in ``execute``, Judge0's in ``judge0``,
which builds on ``execute``), so neither of those modules imports the other
both ways.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assay.queue import ClaimedJob
from assay.services.execution import execute, judge0
from assay.services.platform import Platform
from assay.storage.models import Execution, RunStatus, utcnow

Runner = Callable[[Platform, dict[str, Any]], dict[str, Any]]


def runner_of(api: str) -> Runner:
    """The API's runner, looked up when a job runs (so a replaced runner is the one used)."""
    runners: dict[str, Runner] = {
        execute.PICOBYTES: execute.run_picobytes,
        execute.JUDGE0: judge0.run_judge0,
    }
    return runners[api]


def run_execution_job(platform: Platform, job: ClaimedJob, worker_id: str) -> None:
    """Run one queued execution and record its result with the job's completion.

    Raises on infrastructure failures (the pool retries, then calls
    ``fail_execution_job``); the student's code failing is a result, never an error.
    """
    with platform.db.session() as session:
        execution = session.get(Execution, job.target_id)
        if execution is None:
            platform.queue.finish(session, job.id, worker_id, error="execution not found")
            return
        if execution.status in (RunStatus.GRADED, RunStatus.ERROR, RunStatus.CANCELLED):
            platform.queue.finish(session, job.id, worker_id)  # already recorded
            return
        execution.status = RunStatus.RUNNING
        api, request = execution.api, dict(execution.request)
    result = runner_of(api)(platform, request)
    with platform.db.session() as session:
        if not platform.queue.finish(session, job.id, worker_id):
            session.rollback()  # no longer ours: another worker records it
            return
        execution = session.get(Execution, job.target_id)
        if execution is not None and execution.status not in (RunStatus.GRADED, RunStatus.ERROR):
            execution.result = result
            execution.status = RunStatus.GRADED
            execution.finished_at = utcnow()
    execute.notify_finished()
