"""Sandbox owners: who made a sandbox, and how a worker's id names its process's."""

from __future__ import annotations

import os
import socket
import warnings

import pytest

from assay.sandbox.owner import SandboxOwner, this_process
from assay.services.intake import workers


def test_an_owner_is_written_and_read_back() -> None:
    owner = SandboxOwner("grader-3", 4242, "0a1b2c3d")
    assert str(owner) == "grader-3:4242:0a1b2c3d"
    assert SandboxOwner.parse(str(owner)) == owner
    assert SandboxOwner.parse("grader-3:4242") == SandboxOwner("grader-3", 4242)  # older labels
    assert str(SandboxOwner("grader-3", 4242)) == "grader-3:4242"


@pytest.mark.parametrize("text", ["", "grader", "grader:x", ":12:ab", "g:12:", "g:12:ab:cd"])
def test_what_names_no_owner(text: str) -> None:
    assert SandboxOwner.parse(text) is None


def test_this_process_is_one_owner_and_a_forked_child_another() -> None:
    mine = this_process()
    assert (mine.host, mine.pid) == (socket.gethostname(), os.getpid()) and mine.token
    assert this_process() is mine and mine.on_this_host
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads running
        child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.write(write, str(this_process()).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        theirs = SandboxOwner.parse(pipe.read().decode())
    os.waitpid(child, 0)
    assert theirs is not None and theirs.pid == child and theirs.token != mine.token


def test_a_worker_id_names_the_owner_of_its_process_sandboxes() -> None:
    first, second = workers.new_worker_id(), workers.new_worker_id()
    assert first != second
    assert workers.sandbox_owner(first) == workers.sandbox_owner(second) == this_process()
    assert workers.sandbox_owner("grader-3:4242:0a1b2c3d") == SandboxOwner("grader-3", 4242)
    assert workers.sandbox_owner("dead-1") is None
