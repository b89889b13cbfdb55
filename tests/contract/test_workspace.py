"""Contract: the session's workspace — files in and out, persistence, refusals, reset."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.errors import WorkspacePathError
from assay.sandbox import Sandbox
from assay.sandbox.base import EntryKind, WorkspaceEntry
from helpers import WORKSPACE, assert_exited_ok, describe


def test_write_file_then_run_reads_it(sandbox: Sandbox) -> None:
    sandbox.write_file("main.py", b"print(6 * 7)\n")
    result = sandbox.run(["python3", "main.py"])
    assert_exited_ok(result)
    assert result.stdout == b"42\n"


def test_read_file_returns_what_the_program_wrote(sandbox: Sandbox) -> None:
    result = sandbox.run(["sh", "-c", "printf 'out\\000put\\377' > out.bin"])
    assert_exited_ok(result)
    assert sandbox.read_file("out.bin") == b"out\x00put\xff"


def test_workspace_persists_across_runs(sandbox: Sandbox) -> None:
    assert_exited_ok(sandbox.run(["sh", "-c", "mkdir -p build && echo 1 > build/step"]))
    assert_exited_ok(sandbox.run(["sh", "-c", "echo 2 >> build/step"]))
    result = sandbox.run(["cat", "build/step"])
    assert_exited_ok(result)
    assert result.stdout == b"1\n2\n"
    assert sandbox.read_file("build/step") == b"1\n2\n"


def test_write_file_mode_makes_an_executable(sandbox: Sandbox) -> None:
    sandbox.write_file("run.sh", b"#!/bin/sh\necho hi from script\n", mode=0o755)
    result = sandbox.run(["./run.sh"])
    assert_exited_ok(result)
    assert result.stdout == b"hi from script\n"


def test_write_file_replaces_a_file_the_program_locked(sandbox: Sandbox) -> None:
    assert_exited_ok(sandbox.run(["sh", "-c", "echo old > f && chmod 0 f"]))
    sandbox.write_file("f", b"new\n")
    assert sandbox.read_file("f") == b"new\n"
    result = sandbox.run(["cat", "f"])
    assert_exited_ok(result)
    assert result.stdout == b"new\n"


def test_add_files_copies_a_host_directory(sandbox: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"A")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_bytes(b"B")
    tool = tmp_path / "tool.sh"
    tool.write_bytes(b"#!/bin/sh\necho tool\n")
    tool.chmod(0o755)
    sandbox.add_files(tmp_path)
    assert sorted(sandbox.list_files()) == ["a.txt", "sub", "tool.sh"]
    assert sandbox.list_files("sub") == ["b.txt"]
    result = sandbox.run(["sh", "-c", "cat a.txt sub/b.txt && ./tool.sh"])
    assert_exited_ok(result)
    assert result.stdout == b"ABtool\n"


def test_add_files_to_a_destination(sandbox: Sandbox, tmp_path: Path) -> None:
    source = tmp_path / "data.txt"
    source.write_bytes(b"data")
    sandbox.add_files(source, dest="lib/deps")
    assert sandbox.read_file("lib/deps/data.txt") == b"data"
    result = sandbox.run(["cat", f"{WORKSPACE}/lib/deps/data.txt"])
    assert_exited_ok(result)
    assert result.stdout == b"data"


def test_read_only_root_owned_files_cannot_be_changed(sandbox: Sandbox, tmp_path: Path) -> None:
    harness = tmp_path / "harness.py"
    harness.write_bytes(b"print('harness')\n")
    sandbox.add_files(harness, owner_root=True, read_only=True)
    for attempt in ("echo x >> harness.py", "chmod 666 harness.py", "truncate -s 0 harness.py"):
        result = sandbox.run(["sh", "-c", attempt])
        assert result.exit_code not in (0, None), f"{attempt}: {describe(result)}"
    assert sandbox.read_file("harness.py") == b"print('harness')\n"
    result = sandbox.run(["python3", "harness.py"])
    assert_exited_ok(result)
    assert result.stdout == b"harness\n"


def test_list_files(sandbox: Sandbox) -> None:
    sandbox.add_entries(
        [
            WorkspaceEntry("d", EntryKind.DIR, mode=0o755),
            WorkspaceEntry("d/x", EntryKind.FILE, data=b"x"),
            WorkspaceEntry("top", EntryKind.FILE, data=b"t"),
        ]
    )
    assert_exited_ok(sandbox.run(["sh", "-c", "touch made-inside && ln -s top link"]))
    assert sorted(sandbox.list_files()) == ["d", "link", "made-inside", "top"]
    assert sandbox.list_files("d") == ["x"]


def test_directory_entries_are_traversable_by_default(sandbox: Sandbox) -> None:
    # WorkspaceEntry's default mode (0o644) is a file's; a directory made with it must
    # still be usable by the sandbox user, the same on every backend.
    sandbox.add_entries(
        [WorkspaceEntry("d", EntryKind.DIR), WorkspaceEntry("d/f", EntryKind.FILE, data=b"inside")]
    )
    result = sandbox.run(["cat", "d/f"])
    assert_exited_ok(result)
    assert result.stdout == b"inside"


# -- refusals --------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["/etc/passwd", "real.txt", "/work/real.txt"])
def test_read_file_refuses_a_symlink(sandbox: Sandbox, target: str) -> None:
    assert_exited_ok(sandbox.run(["sh", "-c", f"echo real > real.txt && ln -s {target} link"]))
    with pytest.raises(WorkspacePathError):
        sandbox.read_file("link")


def test_read_file_refuses_a_path_through_a_symlinked_directory(sandbox: Sandbox) -> None:
    assert_exited_ok(sandbox.run(["sh", "-c", "mkdir d && echo x > d/f && ln -s d dlink"]))
    with pytest.raises(WorkspacePathError):
        sandbox.read_file("dlink/f")


@pytest.mark.timeout(30)
def test_read_file_refuses_a_fifo_without_hanging(sandbox: Sandbox) -> None:
    assert_exited_ok(sandbox.run(["mkfifo", "fifo"]))
    with pytest.raises(WorkspacePathError):
        sandbox.read_file("fifo")


def test_read_file_refuses_a_directory(sandbox: Sandbox) -> None:
    assert_exited_ok(sandbox.run(["mkdir", "d"]))
    with pytest.raises(WorkspacePathError):
        sandbox.read_file("d")


def test_read_file_refuses_a_missing_file(sandbox: Sandbox) -> None:
    with pytest.raises(WorkspacePathError):
        sandbox.read_file("nope.txt")


def test_read_file_refuses_a_file_over_max_bytes(sandbox: Sandbox) -> None:
    assert_exited_ok(sandbox.run(["sh", "-c", "head -c 5000 /dev/zero > big"]))
    assert len(sandbox.read_file("big", max_bytes=5000)) == 5000
    with pytest.raises(WorkspacePathError):
        sandbox.read_file("big", max_bytes=4999)


@pytest.mark.parametrize("path", ["../etc/passwd", "/etc/passwd", "a/../../x"])
def test_paths_must_stay_inside(sandbox: Sandbox, path: str) -> None:
    with pytest.raises(WorkspacePathError):
        sandbox.read_file(path)
    with pytest.raises(WorkspacePathError):
        sandbox.write_file(path, b"x")


# -- reset -----------------------------------------------------------------------------
def test_reset_empties_the_workspace(sandbox: Sandbox) -> None:
    sandbox.write_file("given.txt", b"x")
    script = (
        "mkdir -p a/b/c && echo x > a/b/c/f && mkdir locked && touch locked/f "
        "&& chmod 0 locked && ln -s /etc link && mkfifo fifo && chmod 0 given.txt"
    )
    assert_exited_ok(sandbox.run(["sh", "-c", script]))
    sandbox.reset()
    assert sandbox.list_files() == []
    result = sandbox.run(["sh", "-c", "ls -A; pwd; touch new && ls"])
    assert_exited_ok(result)
    assert result.stdout == f"{WORKSPACE}\nnew\n".encode()
