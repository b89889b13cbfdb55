"""schemathesis against the live OpenAPI schema: no request it generates gets a 5xx.

The whole schema of the running server is exercised (every router, not only the
API core) with schemathesis' "not a server error" check, as each role in turn: a
student of the course, its instructor, and the site admin (in that order, the
least destructive first; each run takes a fresh token, since an admin may revoke
any), on SQLite and on PostgreSQL (where integer ranges and text types differ).
Each operation gets valid (positive) and invalid (negative) cases; revoking tokens
and other DELETEs come last. Rate limits are raised so the generated traffic is
not simply refused.

The code-execution routes are included: ``/api/v1/execute`` and the Judge0
subset, which ``create_app`` mounts at ``/judge0`` but still publishes in the same
schema (``/api/v1/openapi.json`` lists ``/judge0/...`` paths; only ``ops``, the
health and metrics routes, is left out of it). A worker pool runs in the test's
server so executions finish; those operations get fewer examples, each one may
compile and run code in a sandbox.

Bounded and repeatable: a fixed number of cases per operation, derandomized (the
same cases every run), no shrinking; 1.5 to 2 minutes for the six runs on two
cores. schemathesis' own pytest plugin (``from_fixture``) does not run under this
pytest, so the test drives its Python API: each operation's Hypothesis strategy
(``operation.as_strategy()``) under ``hypothesis.given``. A failure is reported as
generated, with its curl command.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from sqlalchemy import func, select

from api_helpers import Api, seeded_api
from assay.services import Actor
from assay.services.identity import accounts
from assay.storage.models import Execution, RunStatus
from assay.worker.pool import WorkerPool
from helpers import require_backend
from platform_helpers import DATABASE_KINDS

# Cases per operation and generation mode (valid, invalid); code runs get fewer.
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 6}
EXECUTION_EXAMPLES = {GenerationMode.POSITIVE: 4, GenerationMode.NEGATIVE: 3}
# Operations that run code in a sandbox (through the queue and a worker).
EXECUTION_PATHS = ("/api/v1/execute", "/judge0/submissions")
REVOKE_TOKEN = "DELETE /api/v1/auth/tokens/{token_id}"
ROLES = ("alice", "teacher", "admin")  # student, instructor of cs101, site admin


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    require_backend("native", "c")
    tmp: Path = tmp_path_factory.mktemp(f"schemathesis-{request.param}")
    with (
        seeded_api(
            request.param,
            tmp,
            rate_limit_per_minute=1_000_000,
            submit_rate_limit_per_minute=1_000_000,
        ) as api,
        WorkerPool(api.platform, slots=4),
    ):
        yield api


def server_errors(live: Api, who: str) -> list[str]:
    user_id = live.user_ids[who]
    token = accounts.create_token_for(live.platform, Actor.system(), user_id, "schemathesis").token
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_url(live.url + "/api/v1/openapi.json")
    found: list[str] = []
    answered: set[str] = set()  # operations that answered 2xx at least once
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            found.append(f"an operation of the schema is invalid: {result.err()}")
        else:
            operations.append(result.ok())
    assert len(operations) > 20
    # revoking a token may hit the caller's own (every later request would be a 401),
    # and a DELETE may take the caller out of the course: those come last
    operations.sort(key=lambda op: (op.label == REVOKE_TOKEN, op.method.upper() == "DELETE"))
    paths = {operation.full_path for operation in operations}
    assert {"/api/v1/execute", "/judge0/submissions", "/judge0/languages"} <= paths
    with live.platform.db.session() as session:
        executions_before = session.scalar(select(func.max(Execution.id))) or 0

    for operation, mode in itertools.product(operations, EXAMPLES):
        executes = operation.full_path.startswith(EXECUTION_PATHS)
        examples = (EXECUTION_EXAMPLES if executes else EXAMPLES)[mode]

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # report, do not spend minutes shrinking
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: schemathesis.Case[Any]) -> None:
            response = case.call(base_url=live.url, headers=headers, timeout=180)
            if response.status_code < 300:
                answered.add(case.operation.label)
            case.validate_response(response, checks=[not_a_server_error], headers=headers)

        try:
            exercise()
        except FailureGroup as failure:
            found.append(f"{operation.label} ({mode.value}): {failure.message}")
        except Unsatisfiable:
            # no invalid case exists (an operation without parameters or body)
            assert mode is GenerationMode.NEGATIVE, operation.label
    # the code really ran (in the workers' sandboxes), not only validation errors
    executed = {"POST /api/v1/execute", "POST /judge0/submissions"}
    assert executed <= answered, executed - answered
    assert REVOKE_TOKEN in {operation.label for operation in operations}
    # a request the API accepted must not fail in the worker (status error = our failure)
    with live.platform.db.session() as session:
        failed = session.scalars(
            select(Execution.request).where(
                Execution.id > executions_before, Execution.status == RunStatus.ERROR
            )
        ).all()
    found.extend(f"an accepted execution failed in the worker: {request}" for request in failed)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("who", ROLES)
def test_no_server_errors(live: Api, who: str) -> None:
    errors = server_errors(live, who)
    assert not errors, "\n".join(errors)
