"""picobytes-style code execution: ``POST /execute`` and polling a result by its token."""

from __future__ import annotations

from fastapi import APIRouter, Response

from assay.services.execution import execute
from assay.services.execution.execute import ExecuteOut, ExecutePending
from assay.services.execution.picobytes import ExecuteRequest
from assay.web.deps import ActorDep, PlatformDep

router = APIRouter(tags=["code execution"])


@router.post(
    "/execute",
    response_model=ExecuteOut | ExecutePending,
    responses={202: {"model": ExecutePending, "description": "Not finished yet: poll the token."}},
)
def run_code(
    body: ExecuteRequest, platform: PlatformDep, actor: ActorDep, response: Response
) -> ExecuteOut | ExecutePending:
    """Compile and test code (picobytes' schema). Waits for the result up to the request's
    ``timeout`` plus a margin; otherwise answers 202 with the token to poll."""
    result = execute.execute(platform, actor, body)
    if isinstance(result, ExecutePending):
        response.status_code = 202
    return result


@router.get(
    "/execute/{token}",
    response_model=ExecuteOut | ExecutePending,
    responses={202: {"model": ExecutePending, "description": "Not finished yet."}},
)
def get_result(
    token: str, platform: PlatformDep, actor: ActorDep, response: Response
) -> ExecuteOut | ExecutePending:
    """The result of one of your executions."""
    result = execute.get_execution(platform, actor, token)
    if isinstance(result, ExecutePending):
        response.status_code = 202
    return result
