"""Finding the directory that keeps the sandbox user from the state directory
(``assay.sandbox.native.statedir``): read from permission bits, no root needed."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.sandbox.native.statedir import blocking_directory, unreachable_error

UID = GID = 64000


@pytest.fixture
def base() -> Iterator[Path]:
    """A directory every user can search (pytest's own tmp_path sits below a 0700 one)."""
    path = Path(tempfile.mkdtemp(prefix="assay-statedir-", dir="/tmp"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path)


def test_a_directory_others_may_search_all_the_way_down_is_reachable(base: Path) -> None:
    state = base / "a" / "state"
    state.mkdir(parents=True)
    (base / "a").chmod(0o711)
    assert blocking_directory(state, UID, GID) is None
    assert unreachable_error(state, UID, GID) is None


def test_the_first_unsearchable_ancestor_is_named_with_the_fix(base: Path) -> None:
    closed = base / "closed"
    state = closed / "inner" / "state"
    state.mkdir(parents=True)
    closed.chmod(0o700)
    assert blocking_directory(state, UID, GID) == closed
    error = unreachable_error(state, UID, GID)
    assert error is not None
    assert str(closed) in error.message and str(state) in error.message
    assert error.fix is not None and f"chmod o+x {closed}" in error.fix


def test_pytests_own_temporary_directory_is_found_unreachable(tmp_path: Path) -> None:
    if os.stat(tmp_path.parent.parent).st_mode & 0o001:
        pytest.skip("this pytest's base temporary directory is searchable by others")
    assert blocking_directory(tmp_path / "state", UID, GID) is not None


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_owner_and_group_bits_count_for_their_own_user(base: Path) -> None:
    state = base / "state"
    state.mkdir()
    os.chown(state, UID, 0)
    state.chmod(0o700)
    assert blocking_directory(state / "x", UID, GID) is None
    os.chown(state, 0, GID)
    state.chmod(0o710)
    assert blocking_directory(state / "x", UID, GID) is None
    state.chmod(0o701)  # others' bit, but the group's applies to the sandbox user
    assert blocking_directory(state / "x", UID, GID) == state


def test_a_directory_not_made_yet_is_not_blocking(base: Path) -> None:
    assert blocking_directory(base / "not" / "yet", UID, GID) is None


def test_the_state_directory_itself_may_be_closed_the_backend_opens_it(base: Path) -> None:
    state = base / "state"
    state.mkdir(mode=0o700)  # e.g. made by mkdtemp; the backend chmods it 0711 at start
    assert unreachable_error(state, UID, GID) is None
