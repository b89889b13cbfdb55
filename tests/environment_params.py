"""The environments the contract and security suites run every sandbox test in: the
built-in python3 and a course's own (``tests/fixtures/environments/custom``, its own
tree on bookworm, built once per machine and then taken from the store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.sandbox.environments import Environment
from assay.sandbox.envs.spec import load_spec

CUSTOM_SPEC = Path(__file__).resolve().parent / "fixtures" / "environments" / "custom"


def custom_environment() -> Environment:
    return Environment.from_source(load_spec(CUSTOM_SPEC))


SUITE_ENVIRONMENTS = [
    pytest.param("python3", id="python3"),
    pytest.param("custom", id="custom-env"),
]


def suite_environment(request: pytest.FixtureRequest) -> str | Environment:
    """The ``default_environment`` of a suite parametrised with ``SUITE_ENVIRONMENTS``."""
    return custom_environment() if request.param == "custom" else str(request.param)
