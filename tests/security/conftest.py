"""Every sandbox test of this suite runs in a built-in environment and in a custom one."""

from __future__ import annotations

import pytest

from assay.sandbox.environments import Environment
from environment_params import SUITE_ENVIRONMENTS, suite_environment


@pytest.fixture(params=SUITE_ENVIRONMENTS)
def default_environment(request: pytest.FixtureRequest) -> str | Environment:
    return suite_environment(request)
