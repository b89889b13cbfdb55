"""Stored file sets: normalised, so the same files give the same bytes and hash."""

from __future__ import annotations

import pytest

from assay.errors import FileNameError, FileSetTooLargeError, SubmissionError
from assay.files.fileset import MAX_FILES, File, FileSet
from assay.storage.filesets import content_hash, pack, unpack


def files(*items: File) -> FileSet:
    return FileSet(items)


def test_pack_is_deterministic_and_round_trips() -> None:
    a = [File("b.py", b"print(2)\n"), File("dir/a.sh", b"#!/bin/sh\n", True)]
    assert pack(files(*a)) == pack(files(*reversed(a)))
    assert unpack(pack(files(*a))) == files(*sorted(a, key=lambda f: f.path))


def test_content_hash_names_paths_contents_and_modes() -> None:
    base = files(File("a.py", b"x"))
    assert content_hash(base) == content_hash(files(File("a.py", b"x")))
    assert content_hash(base) != content_hash(files(File("b.py", b"x")))
    assert content_hash(base) != content_hash(files(File("a.py", b"y")))
    assert content_hash(base) != content_hash(files(File("a.py", b"x", True)))
    # a path/content boundary cannot be shifted to collide
    assert content_hash(files(File("ab", b""))) != content_hash(files(File("a", b"b")))


def test_a_file_set_holds_only_names_the_rule_accepts_once_each() -> None:
    assert File("dir\\a.py", b"").path == "dir/a.py"
    with pytest.raises(FileNameError, match="leaves its folder"):
        File("../a.py", b"")
    with pytest.raises(SubmissionError, match="names the same file"):
        files(File("a/b.py", b"1"), File("a\\b.py", b"2"))
    with pytest.raises(FileSetTooLargeError, match=f"more than {MAX_FILES} files"):
        FileSet(tuple(File(f"{n}.py", b"") for n in range(MAX_FILES + 1)))
