from __future__ import annotations

import os
from pathlib import Path

import pytest

from assay.errors import WorkspacePathError
from assay.sandbox.base import EntryKind
from assay.sandbox.hostfiles import entries_from_host, normalise_workspace_path
from assay.sandbox.output import BoundedBuffer


def test_bounded_buffer_keeps_only_the_limit() -> None:
    buf = BoundedBuffer(10)
    assert not buf.feed(b"12345")
    assert not buf.feed(b"67890")
    assert buf.feed(b"x")
    assert buf.feed(b"y" * 1000)
    assert buf.getvalue() == b"1234567890"
    assert buf.truncated


@pytest.mark.parametrize(("path", "expected"), [(".", "."), ("a/./b", "a/b"), ("a//b/", "a/b")])
def test_normalise_workspace_path(path: str, expected: str) -> None:
    assert normalise_workspace_path(path) == expected


@pytest.mark.parametrize("path", ["/etc/passwd", "../x", "a/../../b", "a\0b"])
def test_normalise_workspace_path_refuses_escapes(path: str) -> None:
    with pytest.raises(WorkspacePathError):
        normalise_workspace_path(path)


def test_entries_copy_links_as_links_and_skip_fifos(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "main.py").write_text("print(1)")
    (src / "run.sh").write_text("#!/bin/sh")
    (src / "run.sh").chmod(0o755)
    (src / "pkg" / "mod.py").write_text("x = 1")
    secret = tmp_path / "secret"
    secret.write_text("host secret")
    (src / "link").symlink_to(secret)
    os.mkfifo(src / "fifo")
    entries = {e.path: e for e in entries_from_host(src, "sub")}
    assert set(entries) == {
        "sub",
        "sub/main.py",
        "sub/run.sh",
        "sub/pkg",
        "sub/pkg/mod.py",
        "sub/link",
    }
    assert entries["sub/link"].kind is EntryKind.SYMLINK
    assert entries["sub/link"].link_target == str(secret)
    assert entries["sub/link"].data == b""  # never followed
    assert entries["sub/run.sh"].mode == 0o755
    assert entries["sub/main.py"].data == b"print(1)"


def test_single_file_and_read_only(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("hi")
    (entry,) = entries_from_host(f, ".", read_only=True, owner_root=True)
    assert entry.path == "a.txt"
    assert entry.mode == 0o444
    assert entry.owner_root


def test_a_symlink_given_directly_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("secret")
    (tmp_path / "l").symlink_to(tmp_path / "target")
    (entry,) = entries_from_host(tmp_path / "l")
    assert entry.kind is EntryKind.SYMLINK


def test_read_only_directory_destination_is_read_only_too(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")
    entries = {e.path: e for e in entries_from_host(tmp_path / "d", "dest", read_only=True)}
    assert entries["dest"].mode == 0o555
    assert entries["dest/f"].mode == 0o444
