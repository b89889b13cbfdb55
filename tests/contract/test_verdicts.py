"""Contract: how runs end (termination verdicts) and what they measure."""

from __future__ import annotations

import signal

import pytest

from assay.sandbox import OutputPolicy, Sandbox, Termination
from helpers import (
    GRACE_S,
    KIB,
    MIB,
    QUICK_LIMITS,
    assert_exited_ok,
    assert_termination,
    describe,
    py,
    timed,
)

BUSY_THREADS = """
    import hashlib, threading
    data = b"x" * (1 << 20)
    def spin():
        while True:
            hashlib.sha256(data).digest()  # releases the GIL: real parallel CPU use
    for _ in range(4):
        threading.Thread(target=spin, daemon=True).start()
    threading.Event().wait()
"""

BUSY_PROCESSES = """
    import os
    for _ in range(3):
        if os.fork() == 0:
            break
    while True:
        pass
"""


def test_exited(sandbox: Sandbox) -> None:
    result = sandbox.run(["sh", "-c", "exit 7"])
    assert_termination(result, Termination.EXITED)
    assert result.exit_code == 7
    assert not result.ok
    assert not result.timed_out


def test_signaled(sandbox: Sandbox) -> None:
    result = py(sandbox, "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    assert_termination(result, Termination.SIGNALED)
    assert result.signal == signal.SIGSEGV
    assert result.exit_code is None
    assert result.signal_name == "SIGSEGV"


def test_cpu_time_limit(sandbox: Sandbox) -> None:
    limits = QUICK_LIMITS.replace(cpu_time_s=1, wall_time_s=10)
    result, elapsed = timed(lambda: py(sandbox, "while True: pass", limits=limits))
    assert_termination(result, Termination.CPU_TIME_LIMIT)
    assert result.timed_out
    assert 0.9 <= result.cpu_time_s <= 2.0, describe(result)
    assert elapsed < 1 + GRACE_S, f"verdict after {elapsed:.1f}s"


@pytest.mark.parametrize("program", [BUSY_THREADS, BUSY_PROCESSES], ids=["threads", "processes"])
def test_cpu_time_limit_sums_threads_and_processes(sandbox: Sandbox, program: str) -> None:
    limits = QUICK_LIMITS.replace(cpu_time_s=2, wall_time_s=20)
    result, elapsed = timed(lambda: py(sandbox, program, limits=limits))
    assert_termination(result, Termination.CPU_TIME_LIMIT)
    # Summed over all threads and processes: never 4 x 2 s of CPU.
    assert 1.8 <= result.cpu_time_s <= 3.5, describe(result)
    assert elapsed < 8, f"verdict after {elapsed:.1f}s: {describe(result)}"


def test_wall_time_limit(sandbox: Sandbox) -> None:
    limits = QUICK_LIMITS.replace(wall_time_s=2)
    result, elapsed = timed(lambda: sandbox.run(["sleep", "30"], limits=limits))
    assert_termination(result, Termination.WALL_TIME_LIMIT)
    assert result.timed_out
    assert 1.9 <= result.wall_time_s < 2 + GRACE_S, describe(result)
    assert result.cpu_time_s < 0.5, describe(result)
    assert elapsed < 2 + GRACE_S, f"verdict after {elapsed:.1f}s"


def test_memory_limit(sandbox: Sandbox) -> None:
    limits = QUICK_LIMITS.replace(memory_bytes=64 * MIB)
    result, elapsed = timed(
        lambda: py(sandbox, "x = b'\\x01' * (256 << 20); print('survived')", limits=limits)
    )
    assert_termination(result, Termination.MEMORY_LIMIT)
    assert b"survived" not in result.stdout
    assert elapsed < 5 + GRACE_S


def test_output_limit_kills(sandbox: Sandbox) -> None:
    limits = QUICK_LIMITS.replace(output_bytes=64 * KIB, wall_time_s=10)
    result, elapsed = timed(lambda: sandbox.run(["yes"], limits=limits))
    assert_termination(result, Termination.OUTPUT_LIMIT)
    assert len(result.stdout) <= 64 * KIB
    assert result.stdout == b"y\n" * (len(result.stdout) // 2) + b"y"[: len(result.stdout) % 2]
    assert elapsed < 1 + GRACE_S, f"killed after {elapsed:.1f}s"


def test_output_limit_truncates_and_keeps_running(sandbox: Sandbox) -> None:
    limits = QUICK_LIMITS.replace(output_bytes=64 * KIB)
    code = """
        import sys
        sys.stdout.buffer.write(bytes(i % 251 for i in range(300 * 1024)))
        sys.stdout.flush()
        sys.stderr.write("finished")
    """
    result = py(sandbox, code, limits=limits, output_policy=OutputPolicy.TRUNCATE)
    assert_exited_ok(result)
    assert result.stdout == bytes(i % 251 for i in range(64 * KIB))
    assert result.stdout_truncated
    assert result.stderr == b"finished"
    assert not result.stderr_truncated


def test_peak_memory(sandbox: Sandbox) -> None:
    code = """
        import time
        x = b'\\x01' * (100 << 20)
        time.sleep(0.3)
        print(len(x) >> 20)
    """
    result = py(sandbox, code)
    assert_exited_ok(result)
    assert result.stdout == b"100\n"
    assert 100 * MIB <= result.peak_memory_bytes <= 300 * MIB, describe(result)


def test_cpu_and_wall_time_of_a_busy_program(sandbox: Sandbox) -> None:
    code = """
        import time
        end = time.process_time() + 0.5
        while time.process_time() < end:
            pass
    """
    result = py(sandbox, code)
    assert_exited_ok(result)
    assert 0.45 <= result.cpu_time_s <= 2.0, describe(result)
    assert result.wall_time_s >= 0.45, describe(result)
    assert result.wall_time_s < 5, describe(result)


def test_cpu_and_wall_time_of_a_sleeping_program(sandbox: Sandbox) -> None:
    result = sandbox.run(["sleep", "1"])
    assert_exited_ok(result)
    assert 0.95 <= result.wall_time_s < 1 + GRACE_S, describe(result)
    assert result.cpu_time_s < 0.5, describe(result)
