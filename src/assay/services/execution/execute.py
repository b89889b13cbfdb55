"""picobytes' ``/execute`` API over the execution core: a request in, a result out.

``execute`` checks the request, stores and queues it (``core.submit``), waits for
it up to the request's ``timeout`` plus a margin, and answers the result or the
token to poll. The request's schema and its run are in ``picobytes``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from assay.services.actor import Actor
from assay.services.execution import core
from assay.services.execution.core import Api
from assay.services.execution.picobytes import ExecuteRequest, ExecuteResult
from assay.services.platform import Platform
from assay.storage.models import RunStatus

WAIT_MARGIN_S = 15.0  # beyond the request's own time budget: queueing, setup, compiling


class ExecuteOut(ExecuteResult):
    """The picobytes result plus Assay's handle on the execution."""

    token: str
    status: RunStatus


class ExecutePending(BaseModel):
    """Returned (202) when the result is not ready within the wait bound: poll the token."""

    token: str
    status: RunStatus


def execute(
    platform: Platform, actor: Actor, request: ExecuteRequest
) -> ExecuteOut | ExecutePending:
    """Queue a picobytes execution and wait for its result (bounded)."""
    request.test_lines()  # refuse malformed tests before anything is stored
    [token] = core.submit(platform, actor, Api.PICOBYTES, [request.model_dump(mode="json")])
    core.wait_for(platform, [token], request.timeout + WAIT_MARGIN_S)
    return get_execution(platform, actor, token)


def get_execution(platform: Platform, actor: Actor, token: str) -> ExecuteOut | ExecutePending:
    """One of the actor's executions: its result, or its status while it is not finished."""
    execution = core.read(platform, actor, token, Api.PICOBYTES)
    result = execution.result
    if execution.error_text is not None:
        result = _error_result(execution.error_text)
    if result is None:
        return ExecutePending(token=token, status=execution.status)
    return ExecuteOut(token=token, status=execution.status, **result)


def _error_result(error: str) -> dict[str, Any]:
    return ExecuteResult(
        build=False,
        compile=False,
        run=False,
        output=f"the execution failed on our side, not because of the code: {error}"[:2000],
        compilation_time=0.0,
        run_time=0.0,
        valgrind="",
        formatted_response=[],
        failed_tests=[],
    ).model_dump(mode="json")
