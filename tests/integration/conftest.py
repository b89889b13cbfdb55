"""Fixtures shared by the integration tests."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator

import pytest

from worker_helpers import stop


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The test appends the processes it starts; each is killed (SIGKILL to its
    process group) after the test if still running."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        stop(process, signal.SIGKILL, wait_s=10)
