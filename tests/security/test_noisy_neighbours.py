"""Threats 1 and 2 for others: bombs in one sandbox do not slow quick runs in others."""

from __future__ import annotations

import threading
import time

import pytest

from assay.sandbox import RunResult, Sandbox, Termination
from helpers import (
    MIB,
    QUICK_LIMITS,
    HostGuard,
    SandboxFactory,
    assert_exited_ok,
    assert_termination,
    describe,
    py,
    timed,
)

BOMB_LIMITS = QUICK_LIMITS.replace(pids=32, memory_bytes=128 * MIB, wall_time_s=5, cpu_time_s=60)
QUICK_RUNS = 6

FORK_BOMB = """
    import os
    while True:
        try:
            os.fork()
        except OSError:
            pass
"""

MEMORY_BOMB = """
    import os, time
    chunks = []
    while True:  # grows for about a second, then the cgroup must kill it
        chunks.append(b"\\x01" * (8 << 20))
        time.sleep(0.05)
"""


@pytest.mark.slow
def test_quick_runs_beside_bombs(open_sandbox: SandboxFactory, host: HostGuard) -> None:
    fork_box = open_sandbox(limits=BOMB_LIMITS)
    memory_box = open_sandbox(limits=BOMB_LIMITS)
    quick_boxes = [open_sandbox() for _ in range(QUICK_RUNS)]
    bombs: dict[str, RunResult] = {}

    def bomb(name: str, box: Sandbox, code: str) -> None:
        bombs[name] = py(box, code)

    threads = [
        threading.Thread(target=bomb, args=("fork", fork_box, FORK_BOMB)),
        threading.Thread(target=bomb, args=("memory", memory_box, MEMORY_BOMB)),
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)  # let the bombs get going
        quick: list[tuple[RunResult, float]] = []
        for n, box in enumerate(quick_boxes):
            quick.append(timed(lambda box=box, n=n: py(box, f"print({n} * {n})")))
        still_bombing = threads[0].is_alive()
    finally:
        for thread in threads:
            thread.join(timeout=60)

    assert still_bombing, "the fork bomb ended before the quick runs did"
    for n, (result, elapsed) in enumerate(quick):
        assert_exited_ok(result)
        assert result.stdout == f"{n * n}\n".encode(), describe(result)
        assert elapsed < 2.0, f"quick run {n} took {elapsed:.1f}s beside the bombs"
    assert set(bombs) == {"fork", "memory"}, "a bomb's run never returned"
    assert_termination(bombs["fork"], Termination.WALL_TIME_LIMIT)
    assert_termination(bombs["memory"], Termination.MEMORY_LIMIT)
    host.check(fork_box, memory_box, *quick_boxes)
