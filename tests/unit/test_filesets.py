"""Stored file sets: normalised, so the same files give the same bytes and hash."""

from __future__ import annotations

from assay.storage.filesets import StoredFile, content_hash, pack, unpack


def test_pack_is_deterministic_and_round_trips() -> None:
    a = [StoredFile("b.py", b"print(2)\n"), StoredFile("dir/a.sh", b"#!/bin/sh\n", True)]
    b = list(reversed(a))
    assert pack(a) == pack(b)
    assert sorted(unpack(pack(a)), key=lambda f: f.path) == sorted(a, key=lambda f: f.path)


def test_content_hash_names_paths_contents_and_modes() -> None:
    base = [StoredFile("a.py", b"x")]
    assert content_hash(base) == content_hash([StoredFile("a.py", b"x")])
    assert content_hash(base) != content_hash([StoredFile("b.py", b"x")])
    assert content_hash(base) != content_hash([StoredFile("a.py", b"y")])
    assert content_hash(base) != content_hash([StoredFile("a.py", b"x", True)])
    # a path/content boundary cannot be shifted to collide
    assert content_hash([StoredFile("ab", b"")]) != content_hash([StoredFile("a", b"b")])
