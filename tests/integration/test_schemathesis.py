"""schemathesis against the live OpenAPI schema: no request it generates gets a 5xx.

The whole schema of the running server is exercised (every router, not only the
API core), authenticated as a student and as an instructor, on SQLite and on
PostgreSQL (where integer ranges and text types differ). Rate limits are raised
so the generated traffic is not simply refused.

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

from api_helpers import Api, seeded_api
from platform_helpers import DATABASE_KINDS

EXAMPLES_PER_OPERATION = 15
# Code execution (picobytes /execute, Judge0) waits for a worker to run the code in a
# sandbox; those routes have their own tests (tests/integration/test_execute*.py,
# test_judge0*.py) and are left out here, where no workers run.
SKIPPED_PATHS = ("/api/v1/execute", "/judge0/")


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp: Path = tmp_path_factory.mktemp(f"schemathesis-{request.param}")
    with seeded_api(
        request.param,
        tmp,
        rate_limit_per_minute=1_000_000,
        submit_rate_limit_per_minute=1_000_000,
    ) as api:
        yield api


def server_errors(live: Api, who: str) -> list[str]:
    schema = schemathesis.openapi.from_url(live.url + "/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {live.tokens[who]}"}
    found: list[str] = []
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            found.append(f"an operation of the schema is invalid: {result.err()}")
        elif not result.ok().full_path.startswith(SKIPPED_PATHS):
            operations.append(result.ok())
    assert len(operations) > 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # report, do not spend minutes shrinking
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: schemathesis.Case[Any]) -> None:
            response = case.call(base_url=live.url, headers=headers, timeout=30)
            assert response.status_code < 500, (
                f"{case.operation.label}: {response.status_code} {response.text[:300]}\n"
                f"  {case.as_curl_command()}"
            )

        try:
            exercise()
        except AssertionError as failure:
            found.append(str(failure))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("who", ["alice", "teacher"])
def test_no_server_errors(live: Api, who: str) -> None:
    errors = server_errors(live, who)
    assert not errors, "\n".join(errors)
