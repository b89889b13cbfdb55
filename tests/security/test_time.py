"""Threats 7-9: CPU loops, sleeping, blocking, stopping, ignoring signals."""

from __future__ import annotations

import textwrap

import pytest

from assay.sandbox import Termination
from helpers import (
    GRACE_S,
    QUICK_LIMITS,
    HostGuard,
    SandboxFactory,
    assert_exited_ok,
    assert_termination,
    describe,
    py,
    timed,
)

CPU_LIMITS = QUICK_LIMITS.replace(cpu_time_s=1, wall_time_s=10)
WALL_LIMITS = QUICK_LIMITS.replace(cpu_time_s=10, wall_time_s=2)

IGNORE_SIGXCPU_AND_SPIN = """
    import signal
    for sig in (signal.SIGXCPU, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        pass
"""

IGNORE_SIGTERM_AND_SLEEP = """
    import signal, time
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        time.sleep(0.1)
"""

OWN_PIPE_READ = """
    import os
    r, w = os.pipe()
    os.read(r, 1)  # nobody ever writes: blocks forever
"""


@pytest.mark.parametrize(
    "program", ["while True: pass", IGNORE_SIGXCPU_AND_SPIN], ids=["plain", "ignoring-sigxcpu"]
)
def test_cpu_loop(open_sandbox: SandboxFactory, host: HostGuard, program: str) -> None:
    box = open_sandbox(limits=CPU_LIMITS)
    result, elapsed = timed(lambda: py(box, program))
    assert_termination(result, Termination.CPU_TIME_LIMIT)
    assert result.cpu_time_s >= 0.9, describe(result)
    assert elapsed < 1 + GRACE_S, f"verdict after {elapsed:.1f}s"
    host.check(box)


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        ["sleep", "60"],
        ["python3", "-c", textwrap.dedent(IGNORE_SIGTERM_AND_SLEEP)],
        ["sh", "-c", "kill -STOP 0; echo resumed"],
        ["python3", "-c", textwrap.dedent(OWN_PIPE_READ)],
        ["sh", "-c", "mkfifo f && cat f"],
    ],
    ids=["sleep", "ignoring-sigterm", "stop-own-group", "blocking-pipe-read", "blocking-fifo"],
)
def test_wall_time_limit(open_sandbox: SandboxFactory, host: HostGuard, argv: list[str]) -> None:
    box = open_sandbox(limits=WALL_LIMITS)
    result, elapsed = timed(lambda: box.run(argv))
    assert_termination(result, Termination.WALL_TIME_LIMIT)
    assert b"resumed" not in result.stdout
    assert result.wall_time_s >= 1.9, describe(result)
    assert elapsed < 2 + GRACE_S, f"verdict after {elapsed:.1f}s"
    host.check(box)


def test_stdin_is_closed_after_its_data(open_sandbox: SandboxFactory, host: HostGuard) -> None:
    box = open_sandbox(limits=WALL_LIMITS)
    for stdin in (None, b"", b"some input\n"):
        result, elapsed = timed(lambda stdin=stdin: box.run(["cat"], stdin=stdin))
        assert_exited_ok(result)
        assert result.stdout == (stdin or b"")
        assert elapsed < 2, f"cat waited {elapsed:.1f}s for stdin={stdin!r}"
    host.check(box)
