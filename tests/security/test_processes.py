"""Threats 1, 9, 10: fork and thread bombs, runaway children, kill -1."""

from __future__ import annotations

import subprocess
import threading

import pytest

from assay.sandbox import RunResult, Termination
from assay.sandbox.native.stall import MAX_STALL_FACTOR
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

PIDS = 32
LIMITS = QUICK_LIMITS.replace(pids=PIDS, wall_time_s=3, cpu_time_s=30)

FORK_BOMB = """
    import os
    while True:
        try:
            os.fork()
        except OSError:
            pass
"""

COUNTED_FORKS = """
    import errno, os, time
    children = 0
    while True:
        try:
            pid = os.fork()
        except OSError as e:
            print(children, errno.errorcode[e.errno], flush=True)
            break
        if pid == 0:
            fd = os.open("/dev/null", os.O_RDWR)
            for n in (0, 1, 2):
                os.dup2(fd, n)
            time.sleep(30)
            os._exit(0)
        children += 1
"""

THREAD_BOMB = """
    import threading, time
    count = 0
    try:
        while True:
            threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
            count += 1
    except RuntimeError as e:
        print(count, e, flush=True)
    import os
    os._exit(0)
"""

DAEMON = """
    import os, sys, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            fd = os.open("/dev/null", os.O_RDWR)
            for n in (0, 1, 2):
                os.dup2(fd, n)
            time.sleep(30)
            os._exit(0)
        os._exit(0)
    os.wait()
    print("parent done", flush=True)
"""

LIST_PROCESSES = """
    import os
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    print(pid, f.read().replace(b"\\0", b" ").decode(errors="replace"))
            except OSError:
                pass
"""


@pytest.mark.slow
def test_fork_bomb(open_sandbox: SandboxFactory, host: HostGuard) -> None:
    box = open_sandbox(limits=LIMITS)
    result, elapsed = timed(lambda: py(box, FORK_BOMB))
    assert_termination(result, Termination.WALL_TIME_LIMIT)
    assert result.wall_time_s < 3 + GRACE_S, describe(result)  # the wall limit stopped it
    # Time its processes waited for a CPU taken by other load on the host is not
    # charged (the native backend's stall clock, at most MAX_STALL_FACTOR times the
    # limit): on a busy host the verdict comes that much later, never unbounded.
    bound_s = 3 * (1 + MAX_STALL_FACTOR) + GRACE_S
    assert elapsed < bound_s, f"verdict after {elapsed:.1f}s: {describe(result)}"
    assert_exited_ok(box.run(["echo", "still usable"]))
    host.check(box)


def test_forks_fail_with_eagain_at_the_pids_limit(
    open_sandbox: SandboxFactory, host: HostGuard
) -> None:
    box = open_sandbox(limits=LIMITS)
    result = py(box, COUNTED_FORKS)
    assert_exited_ok(result)
    count, err = result.stdout.split()
    assert err == b"EAGAIN", describe(result)
    assert 1 <= int(count) < PIDS, describe(result)
    host.check(box)


def test_thread_bomb(open_sandbox: SandboxFactory, host: HostGuard) -> None:
    box = open_sandbox(limits=LIMITS)
    result, elapsed = timed(lambda: py(box, THREAD_BOMB))
    assert_exited_ok(result)
    assert int(result.stdout.split()[0]) < PIDS, describe(result)
    assert elapsed < 3 + GRACE_S
    host.check(box)


def test_daemonised_children_do_not_outlive_the_run(
    open_sandbox: SandboxFactory, host: HostGuard
) -> None:
    box = open_sandbox(limits=LIMITS)
    result, elapsed = timed(lambda: py(box, DAEMON))
    assert_exited_ok(result)
    assert result.stdout == b"parent done\n"
    assert elapsed < 3 + GRACE_S
    host.assert_no_sandbox_processes()
    # the next run must not see the daemon either
    result = py(box, LIST_PROCESSES)
    assert_exited_ok(result)
    assert b"os.setsid()" not in result.stdout, describe(result)
    host.check(box)


@pytest.mark.slow
def test_background_child_holding_stdout_is_killed(
    open_sandbox: SandboxFactory, host: HostGuard
) -> None:
    box = open_sandbox(limits=LIMITS)
    result, elapsed = timed(lambda: box.run(["sh", "-c", "sleep 30 & echo started"]))
    # The main process exited 0; a child still holding stdout may make the backend wait
    # for the wall limit, but never longer, and nothing may survive.
    assert result.termination in (Termination.EXITED, Termination.WALL_TIME_LIMIT), describe(result)
    assert result.stdout == b"started\n"
    assert elapsed < 3 + GRACE_S
    host.check(box)


@pytest.mark.slow
def test_kill_all_inside_hurts_neither_host_nor_neighbours(
    open_sandbox: SandboxFactory, host: HostGuard
) -> None:
    sentinel = subprocess.Popen(["sleep", "60"])
    try:
        victim_box, attacker_box = open_sandbox(limits=LIMITS), open_sandbox(limits=LIMITS)
        victim: list[RunResult] = []
        thread = threading.Thread(
            target=lambda: victim.append(victim_box.run(["sh", "-c", "sleep 2; echo alive"]))
        )
        thread.start()
        try:
            result = attacker_box.run(
                ["sh", "-c", "sleep 0.5; kill -9 -1; kill -KILL -1; echo after"]
            )
        finally:
            thread.join(timeout=30)
        assert result.termination in (Termination.EXITED, Termination.SIGNALED), describe(result)
        assert victim, "the neighbour's run never returned"
        assert_exited_ok(victim[0])
        assert victim[0].stdout == b"alive\n"
        assert sentinel.poll() is None, "a host process was killed"
        host.check(victim_box, attacker_box)
    finally:
        sentinel.kill()
        sentinel.wait()
