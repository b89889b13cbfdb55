"""Workspace archives and the in-container helper, exercised on a local directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assay.sandbox.base import EntryKind, WorkspaceEntry
from assay.sandbox.docker import workspace_helper
from assay.sandbox.docker.workspace import (
    ROOT,
    STUDENT,
    entries_archive,
    helper_source,
    owner_groups,
)


def helper(root: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """The helper exactly as the container runs it: its source through ``python -I -S -c``."""
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", helper_source(), str(root), *args],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=30,
    )


def test_owner_groups_keep_order() -> None:
    entries = [
        WorkspaceEntry("a", EntryKind.FILE),
        WorkspaceEntry("b", EntryKind.FILE),
        WorkspaceEntry("t", EntryKind.DIR, owner_root=True),
        WorkspaceEntry("t/x", EntryKind.FILE, owner_root=True),
        WorkspaceEntry("c", EntryKind.FILE),
    ]
    groups = [(user, [e.path for e in group]) for user, group in owner_groups(entries)]
    assert groups == [(STUDENT, ["a", "b"]), (ROOT, ["t", "t/x"]), (STUDENT, ["c"])]


def test_extract_read_and_list(tmp_path: Path) -> None:
    archive = entries_archive(
        [
            WorkspaceEntry("src", EntryKind.DIR, mode=0o750),
            WorkspaceEntry("src/main.py", EntryKind.FILE, data=b"print(1)\n", mode=0o640),
            WorkspaceEntry("deep/er/run.sh", EntryKind.FILE, data=b"#!/bin/sh\n", mode=0o755),
            WorkspaceEntry("link", EntryKind.SYMLINK, link_target="/etc/passwd"),
        ]
    )
    assert helper(tmp_path, "extract", stdin=archive).returncode == 0
    assert (tmp_path / "src" / "main.py").read_bytes() == b"print(1)\n"
    assert (tmp_path / "src" / "main.py").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "src").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "deep" / "er" / "run.sh").stat().st_mode & 0o777 == 0o755
    assert os.readlink(tmp_path / "link") == "/etc/passwd"

    result = helper(tmp_path, "read", "src/main.py", "100")
    assert (result.returncode, result.stdout) == (0, b"print(1)\n")
    listing = helper(tmp_path, "list", ".")
    assert listing.stdout.split(b"\0") == [b"deep", b"link", b"src", b""]


def test_replaces_a_locked_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"old")
    (tmp_path / "f").chmod(0)
    archive = entries_archive([WorkspaceEntry("f", EntryKind.FILE, data=b"new")])
    assert helper(tmp_path, "extract", stdin=archive).returncode == 0
    assert (tmp_path / "f").read_bytes() == b"new"


def test_never_writes_through_a_symlinked_directory(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    (work / "lib").symlink_to(outside)
    archive = entries_archive([WorkspaceEntry("lib/x.txt", EntryKind.FILE, data=b"x")])
    result = helper(work, "extract", stdin=archive)
    assert result.returncode == workspace_helper.NOT_REGULAR
    assert list(outside.iterdir()) == []


def test_file_replaces_a_symlink_instead_of_following_it(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    work = tmp_path / "work"
    work.mkdir()
    (work / "f").symlink_to(target)
    archive = entries_archive([WorkspaceEntry("f", EntryKind.FILE, data=b"new")])
    assert helper(work, "extract", stdin=archive).returncode == 0
    assert target.read_bytes() == b"keep"
    assert not (work / "f").is_symlink()


@pytest.mark.parametrize(
    ("setup", "path", "code"),
    [
        ("symlink", "link", workspace_helper.NOT_REGULAR),
        ("dirlink", "dlink/f", workspace_helper.NOT_REGULAR),
        ("fifo", "fifo", workspace_helper.NOT_REGULAR),
        ("dir", "d", workspace_helper.NOT_REGULAR),
        ("none", "missing", workspace_helper.MISSING),
        ("big", "big", workspace_helper.TOO_LARGE),
        ("none", ".", workspace_helper.NOT_REGULAR),
    ],
)
def test_read_refusals(tmp_path: Path, setup: str, path: str, code: int) -> None:
    (tmp_path / "real").write_bytes(b"real")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"f")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "dlink").symlink_to(tmp_path / "d")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "big").write_bytes(b"x" * 11)
    result = helper(tmp_path, "read", path, "10")
    assert result.returncode == code, result.stderr
    assert result.stdout == b""


def test_read_exactly_max_bytes(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 10)
    assert helper(tmp_path, "read", "f", "10").stdout == b"x" * 10


def test_list_refuses_a_symlinked_directory(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "dlink").symlink_to(tmp_path / "d")
    assert helper(tmp_path, "list", "dlink").returncode == workspace_helper.NOT_REGULAR
