"""Fixtures shared by the test suites: sandbox backends and a host guard."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from assay.config import Settings
from assay.sandbox import Limits, Sandbox
from assay.sandbox.environments import Environment
from helpers import BACKEND_NAMES, HostGuard, SandboxFactory, require_backend

# The suites check that closing a session leaves no container behind; the
# Docker pool's idle containers would blur that, so it is off here and tested
# on its own (tests/integration/test_docker_backend.py).
os.environ.setdefault("ASSAY_DOCKER_POOL_SIZE", "0")
# Environments' trees are built once per machine: a test that gives a process a state
# directory of its own (ASSAY_STATE_DIR) still uses the machine's store of trees.
os.environ.setdefault("ASSAY_ENVIRONMENTS_DIR", str(Settings().resolved_environments_dir))


@pytest.fixture(
    params=[pytest.param(name, marks=getattr(pytest.mark, name)) for name in BACKEND_NAMES]
)
def backend_name(request: pytest.FixtureRequest) -> str:
    """Each sandbox backend in turn; skipped visibly (or failed, in CI) if unavailable."""
    name: str = request.param
    require_backend(name)
    return name


@pytest.fixture
def host(backend_name: str, tmp_path_factory: pytest.TempPathFactory) -> HostGuard:
    """The host as it was before the test, for checking it afterwards."""
    return HostGuard(backend_name, tmp_path_factory.mktemp("host"))


@pytest.fixture
def default_environment() -> str | Environment:
    """The environment ``open_sandbox`` opens when a test names none (the contract and
    security suites override it: each of their tests runs in a built-in and a custom one)."""
    return "python3"


@pytest.fixture
def open_sandbox(
    backend_name: str, host: HostGuard, default_environment: str | Environment
) -> Iterator[SandboxFactory]:
    """Open sandboxes of the backend under test; all are closed after the test."""
    boxes: list[Sandbox] = []

    def factory(
        environment: str | Environment | None = None,
        *,
        limits: Limits | None = None,
        network: bool = False,
    ) -> Sandbox:
        environment = default_environment if environment is None else environment
        require_backend(backend_name, environment)
        box = Sandbox(environment, backend=backend_name, limits=limits, network=network)
        boxes.append(box.open())
        host.sandbox_opened()
        return box

    yield factory
    for box in boxes:
        box.close()


@pytest.fixture
def sandbox(open_sandbox: SandboxFactory) -> Sandbox:
    """An open sandbox of the backend under test, in the default environment."""
    return open_sandbox()
