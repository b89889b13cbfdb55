"""schemathesis against the live OpenAPI schema: no request it generates gets a 5xx.

The whole schema of the running server is exercised (every router, not only the
API core), authenticated as a student and as an instructor, on SQLite and on
PostgreSQL (where integer ranges and text types differ). Rate limits are raised
so the generated traffic is not simply refused.

The code-execution routes are included: ``/api/v1/execute`` and the Judge0
subset, which ``create_app`` mounts at ``/judge0`` but still publishes in the same
schema (``/api/v1/openapi.json`` lists ``/judge0/...`` paths; only ``ops``, the
health and metrics routes, is left out of it). A worker pool runs in the test's
server so executions finish; those operations get fewer examples, each one may
compile and run code in a sandbox.

schemathesis' own pytest plugin (``from_fixture``) does not run under this
pytest, so the test drives its Python API: each operation's Hypothesis strategy
(``operation.as_strategy()``) under ``hypothesis.given``. Shrinking is off: a
failure is reported as generated, with its curl command.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core.result import Err
from sqlalchemy import select

from api_helpers import Api, seeded_api
from assay.storage.models import Execution, RunStatus
from assay.worker.pool import WorkerPool
from helpers import require_backend
from platform_helpers import DATABASE_KINDS

EXAMPLES_PER_OPERATION = 15
# Operations that run code in a sandbox (through the queue and a worker): fewer examples.
EXECUTION_PATHS = ("/api/v1/execute", "/judge0/submissions")
EXAMPLES_PER_EXECUTION = 5
REVOKE_TOKEN = "DELETE /api/v1/auth/tokens/{token_id}"


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
    schema = schemathesis.openapi.from_url(live.url + "/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {live.tokens[who]}"}
    found: list[str] = []
    answered: set[str] = set()  # operations that answered 2xx at least once
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            found.append(f"an operation of the schema is invalid: {result.err()}")
        else:
            operations.append(result.ok())
    assert len(operations) > 20
    # revoking a token may hit the caller's own: every later request would be a 401
    operations.sort(key=lambda operation: operation.label == REVOKE_TOKEN)
    paths = {operation.full_path for operation in operations}
    assert {"/api/v1/execute", "/judge0/submissions", "/judge0/languages"} <= paths

    for operation in operations:
        executes = operation.full_path.startswith(EXECUTION_PATHS)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_EXECUTION if executes else EXAMPLES_PER_OPERATION,
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
            assert response.status_code < 500, (
                f"{case.operation.label}: {response.status_code} {response.text[:300]}\n"
                f"  {case.as_curl_command()}"
            )

        try:
            exercise()
        except AssertionError as failure:
            found.append(str(failure))
    # the code really ran (in the workers' sandboxes), not only validation errors
    executed = {"POST /api/v1/execute", "POST /judge0/submissions"}
    assert executed <= answered, executed - answered
    assert REVOKE_TOKEN in {operation.label for operation in operations}
    # a request the API accepted must not fail in the worker (status error = our failure)
    with live.platform.db.session() as session:
        failed = session.scalars(
            select(Execution.request).where(Execution.status == RunStatus.ERROR)
        ).all()
    found.extend(f"an accepted execution failed in the worker: {request}" for request in failed)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("who", ["alice", "teacher"])
def test_no_server_errors(live: Api, who: str) -> None:
    errors = server_errors(live, who)
    assert not errors, "\n".join(errors)
