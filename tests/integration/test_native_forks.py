"""The native backend across ``fork`` and with a wedged launcher: never a hang.

A process that used a sandbox and then forks (``multiprocessing``'s fork start
method) must give its children working sandboxes of their own, and leave its
own alone. A launcher that takes a run and then neither joins its cgroup nor
exits must fail the run within a bound. Each scenario runs where a hang is
caught by a timeout, so a regression fails instead of stalling the suite.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from assay.config import get_settings
from assay.errors import SandboxClosedError, SandboxError
from assay.sandbox import Limits, Sandbox
from assay.sandbox.native import backend as native_backend
from assay.sandbox.native.backend import BwrapBackend
from helpers import MIB, assert_exited_ok, require_backend

pytestmark = [
    pytest.mark.native,
    # Forking a process with threads is what this file is about.
    pytest.mark.filterwarnings("ignore:.*use of fork.. may lead to deadlocks:DeprecationWarning"),
]

CHILD_TIMEOUT_S = 60.0  # a hang is caught here; a working child needs about a second
CHILD_RUN_S = 15.0  # what a child's first sandbox may take: set-up and one run
WEDGED_BOUND_S = 20.0  # the wall limit, the launcher's exit bound (5 s), and slack


def _in_child(inherited: Sandbox, answers: Connection) -> None:
    """Runs in the forked child: the parent's sandbox is closed here, a new one works."""
    try:
        inherited.run(["true"])
        closed = "the inherited sandbox ran"
    except SandboxClosedError as exc:
        closed = str(exc)
    started = time.monotonic()
    with Sandbox("python3", backend="native") as box:
        result = box.run(["sh", "-c", "echo child; cat before-fork.txt"])
    answers.send((closed, result.exit_code, result.stdout, time.monotonic() - started))


def test_a_forked_child_gets_working_sandboxes_and_leaves_the_parents_alone() -> None:
    require_backend("native")
    with Sandbox("python3", backend="native") as parent_box:
        parent_box.write_file("before-fork.txt", b"parent's file\n")
        assert_exited_ok(parent_box.run(["echo", "parent"]))  # launchers parked, threads up
        context = multiprocessing.get_context("fork")
        ours, theirs = context.Pipe(duplex=False)
        child = context.Process(target=_in_child, args=(parent_box, theirs))
        child.start()
        child.join(CHILD_TIMEOUT_S)
        if child.is_alive():
            child.kill()
            child.join()
            pytest.fail(f"the forked child's sandbox hung for {CHILD_TIMEOUT_S:.0f} s")
        assert child.exitcode == 0
        assert ours.poll(1), "the child sent no answer"
        closed, exit_code, stdout, elapsed = ours.recv()
        assert "opened before the process forked" in closed
        # A fresh workspace in the child: the parent's file is not in it.
        assert (exit_code, stdout) == (1, b"child\n")
        assert elapsed < CHILD_RUN_S, f"the child's sandbox took {elapsed:.1f} s"
        # The parent's sandbox, slots and workspace are untouched.
        after = parent_box.run(["cat", "before-fork.txt"])
        assert_exited_ok(after)
        assert after.stdout == b"parent's file\n"


CHILD_EXITS = """
import os, sys
from assay.sandbox import Sandbox

with Sandbox("python3", backend="native") as box:
    box.write_file("kept.txt", b"kept")
    assert box.run(["true"]).exit_code == 0
    pid = os.fork()
    if pid == 0:
        sys.exit(0)  # a normal exit: atexit handlers and finalizers run in the child
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
    result = box.run(["cat", "kept.txt"])
    assert (result.exit_code, result.stdout) == (0, b"kept"), result
print("parent ok")
"""


def test_a_child_that_exits_normally_tears_down_nothing_of_its_parent() -> None:
    """The child's exit runs the atexit handlers and finalizers it inherited: they
    must not unmount the parent's workspace nor destroy its parked slots."""
    require_backend("native")
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD_EXITS)],
        capture_output=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    assert proc.stdout == b"parent ok\n"


# -- a wedged launcher -----------------------------------------------------------
WEDGED = """#!/bin/sh
# Takes the slot's socket and stderr, never joins the cgroup, never runs anything.
echo $$ > {pid_file}
exec /bin/sleep 600
"""


@pytest.fixture
def wedged_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BwrapBackend]:
    require_backend("native")
    launcher, pid_file = tmp_path / "wedged-launcher", tmp_path / "wedged.pid"
    launcher.write_text(WEDGED.format(pid_file=pid_file))
    launcher.chmod(0o755)
    monkeypatch.setattr(native_backend, "build_launcher", lambda bin_dir: launcher)
    backend = BwrapBackend(get_settings().model_copy(update={"native_ready_slots": 0}))
    yield backend
    if pid_file.exists():  # a hung run is released by its launcher's end
        subprocess.run(["kill", "-9", pid_file.read_text().strip()], check=False)
    backend.shutdown()


def test_a_wedged_launcher_fails_the_run_within_a_bound(wedged_backend: BwrapBackend) -> None:
    limits = Limits(cpu_time_s=1, wall_time_s=1, memory_bytes=64 * MIB)
    box = Sandbox("python3", backend=wedged_backend, limits=limits).open()
    outcome: list[BaseException | object] = []

    def run() -> None:
        try:
            outcome.append(box.run(["echo", "never"]))
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            outcome.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(WEDGED_BOUND_S)
    elapsed = time.monotonic() - started
    assert not thread.is_alive(), f"the run still waits for its launcher after {elapsed:.0f} s"
    assert len(outcome) == 1
    error = outcome[0]
    assert isinstance(error, SandboxError), error
    assert "launcher" in str(error) and "did not exit" in str(error)
    box.close()
