"""Runs in a session's prepared namespaces (native/prepared.py): what each run
keeps of its own, and what no run can reach.

A session's runs after the first usually skip bubblewrap: a parked launcher
(host root) enters the session's namespaces and makes each run's pid, mount,
ipc and cgroup namespaces. These tests make sure a session runs that way
(``prepared_box``), then check that runs of one session cannot see each other,
cannot reach the launcher that started them, keep their limits per run, and
that a launcher killed mid-run gives an error (never a verdict) and the
session's next run works.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.errors import SandboxError
from assay.sandbox import Sandbox, Termination
from assay.sandbox.spec import MIB
from helpers import (
    NATIVE_HOST_UID,
    QUICK_LIMITS,
    assert_exited_ok,
    assert_termination,
    describe,
    native_sandbox_processes,
    py,
    require_backend,
    wait_until,
)

pytestmark = pytest.mark.native
LIMITS = QUICK_LIMITS.replace(pids=32, wall_time_s=5, cpu_time_s=5, memory_bytes=128 * MIB)
LAUNCHER = b"assay-launch"  # pid 1 of a prepared run is the launcher's fork


def _is_prepared(box: Sandbox) -> bool:
    result = box.run(["cat", "/proc/1/cmdline"])
    assert_exited_ok(result)
    return LAUNCHER in result.stdout


@pytest.fixture
def prepared_box() -> Iterator[Sandbox]:
    """A native session whose runs go in prepared namespaces (the backend's pool
    makes them in the background: a run without ready ones uses a bubblewrap)."""
    require_backend("native")
    with Sandbox("python3", backend="native", limits=LIMITS) as box:
        deadline = time.monotonic() + 30
        while not _is_prepared(box):
            assert time.monotonic() < deadline, "no prepared namespaces within 30 s"
            time.sleep(0.1)
        yield box


def test_concurrent_runs_of_a_session_do_not_see_each_other(prepared_box: Sandbox) -> None:
    marker = "assay-prepared-marker-a"
    started = threading.Event()
    results = {}

    def sleeper() -> None:
        started.set()
        results["a"] = prepared_box.run(["python3", "-c", "import time; time.sleep(3)", marker])

    thread = threading.Thread(target=sleeper)
    thread.start()
    started.wait()
    time.sleep(0.5)  # the sleeper is running
    seen = py(
        prepared_box,
        """
        import os
        for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                print(pid, repr(f.read()))
        """,
    )
    thread.join()
    assert_exited_ok(seen)
    assert marker.encode() not in seen.stdout, seen.stdout
    pids = [int(line.split()[0]) for line in seen.stdout.decode().splitlines()]
    assert pids[0] == 1 and max(pids) < 10, seen.stdout  # only its own init and itself
    assert_exited_ok(results["a"])


def test_nothing_of_a_run_is_left_for_the_next(prepared_box: Sandbox) -> None:
    """/tmp, /dev/shm, System V IPC and processes are each run's own; /dev is read-only."""
    segments = "echo segments $(ipcs -m | grep -c '^0x')"
    first = prepared_box.run(
        [
            "sh",
            "-c",
            "echo x > /tmp/left && echo y > /dev/shm/left && ipcmk -M 4096 > /dev/null"
            f" && (setsid sleep 30 &) && ls /tmp /dev/shm && {segments};"
            " touch /dev/left || echo dev-read-only",
        ]
    )
    assert_exited_ok(first)
    assert b"left" in first.stdout and b"segments 1" in first.stdout, first.stdout
    assert b"dev-read-only" in first.stdout
    second = prepared_box.run(["sh", "-c", f"ls -A /tmp /dev/shm /dev; {segments}; ps -e -o comm="])
    assert_exited_ok(second)
    assert b"left" not in second.stdout, second.stdout
    assert b"segments 0" in second.stdout, second.stdout
    assert b"sleep" not in second.stdout, second.stdout


def test_the_launcher_is_out_of_the_runs_reach(prepared_box: Sandbox) -> None:
    """Inside: every process is the student's, pid 1 ignores signals from inside
    and its memory and exe are closed (not dumpable). Outside: the launcher is host
    root, in the host's pid namespace, while the run is in one of its own."""
    inside = prepared_box.run(
        [
            "sh",
            "-c",
            "grep -h '^Uid' /proc/[0-9]*/status | sort -u; kill -KILL 1; kill -KILL -1;"
            " cat /proc/1/environ > /dev/null && echo environ-readable;"
            " ls -l /proc/1/exe > /dev/null 2>&1 && readlink /proc/1/exe && echo exe-readable;"
            " echo still-here",
        ]
    )
    assert inside.termination is Termination.EXITED, describe(inside)
    uids = {line.split()[1] for line in inside.stdout.decode().splitlines() if "Uid" in line}
    assert uids == {"1000"}, inside.stdout
    assert b"environ-readable" not in inside.stdout
    assert b"exe-readable" not in inside.stdout

    seen: dict[str, list[tuple[str, int, str]]] = {}

    def look() -> None:
        time.sleep(0.5)
        seen["procs"] = _job_processes()

    thread = threading.Thread(target=look)
    thread.start()
    run = prepared_box.run(["sleep", "2"])
    thread.join()
    assert_exited_ok(run)
    procs = seen["procs"]
    own_pidns = os.readlink("/proc/self/ns/pid")
    launchers = [p for p in procs if p[1] == 0]
    students = [p for p in procs if p[1] == NATIVE_HOST_UID]
    assert launchers and students, procs
    assert all(pidns == own_pidns for _, _, pidns in launchers), procs
    assert all(pidns != own_pidns for _, _, pidns in students), procs


def _job_processes() -> list[tuple[str, int, str]]:
    """(pid, host uid, pid namespace) of the processes in this process's job cgroups."""
    found = []
    me = str(os.getpid())
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cgroups = Path(f"/proc/{entry.name}/cgroup").read_text()
            status = Path(f"/proc/{entry.name}/status").read_text()
            pidns = os.readlink(f"/proc/{entry.name}/ns/pid")
        except OSError:
            continue
        if f"/job-{me}-" not in cgroups:
            continue
        uid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid"))
        found.append((entry.name, uid, pidns))
    return found


def test_a_launcher_killed_mid_run_fails_that_run_and_not_the_next(prepared_box: Sandbox) -> None:
    killed: list[str] = []

    def kill_launcher() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not killed:
            for pid, uid, _ in _job_processes():
                if uid == 0:
                    os.kill(int(pid), signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.05)

    thread = threading.Thread(target=kill_launcher)
    thread.start()
    started = time.monotonic()
    with pytest.raises(SandboxError):
        prepared_box.run(["sleep", "4"])
    elapsed = time.monotonic() - started
    thread.join()
    assert killed
    assert elapsed < 4, f"the run outlived its killed launcher ({elapsed:.1f} s)"
    # (a session's namespaces may be in the making in the background: a bubblewrap
    # of the sandbox user for a few milliseconds)
    left = wait_until(native_sandbox_processes, 2.0)
    assert not left, left
    after = prepared_box.run(["sh", "-c", "echo fine; exit 3"])
    assert (after.termination, after.exit_code, after.stdout) == (
        Termination.EXITED,
        3,
        b"fine\n",
    ), describe(after)
    assert _is_prepared(prepared_box)


def test_limits_are_per_run(prepared_box: Sandbox) -> None:
    bomb = py(
        prepared_box,
        """
        import os, time
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(0.01)
        """,
    )
    # stopped by a limit (CPU or wall, whichever it reaches first), not by its neighbours
    assert bomb.termination in {Termination.CPU_TIME_LIMIT, Termination.WALL_TIME_LIMIT}
    hog = py(prepared_box, "x = bytearray(1 << 30)")
    assert_termination(hog, Termination.MEMORY_LIMIT)
    count = py(
        prepared_box,
        """
        import os, time
        children = 0
        try:
            while True:
                if os.fork() == 0:
                    time.sleep(5)
                    os._exit(0)
                children += 1
        except OSError:
            print(children)
        """,
    )
    assert_exited_ok(count)
    assert int(count.stdout) == LIMITS.pids - 1, count.stdout  # the program is one of them
    small = py(prepared_box, "x = bytearray(64 << 20); print(len(x))")
    assert_exited_ok(small)
    assert small.peak_memory_bytes < LIMITS.memory_bytes


def test_a_prepared_run_has_no_privilege_left(prepared_box: Sandbox) -> None:
    fields = "^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs|Seccomp):"
    result = prepared_box.run(["grep", "-E", fields, "/proc/self/status"])
    assert_exited_ok(result)
    status: dict[str, list[str]] = {}
    for line in result.stdout.decode().splitlines():
        key, _, value = line.partition(":")
        status[key] = value.split()
    assert status["Uid"] == ["1000"] * 4 and status["Gid"] == ["1000"] * 4, status
    assert status["Groups"] in (["1000"], []), status
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[cap][0], 16) == 0, (cap, status[cap])
    assert status["NoNewPrivs"] == ["1"] and status["Seccomp"] == ["2"], status
