"""Contract: a session's lifecycle — closing kills everything and removes it."""

from __future__ import annotations

import pytest

from assay.errors import SandboxClosedError
from assay.sandbox import Sandbox
from helpers import HostGuard, SandboxFactory, assert_exited_ok


def test_close_leaves_nothing_behind(open_sandbox: SandboxFactory, host: HostGuard) -> None:
    box = open_sandbox()
    assert_exited_ok(box.run(["sh", "-c", "echo x > f"]))
    host.assert_no_sandbox_processes()
    host.close_and_assert_gone(box)


def test_close_is_idempotent_and_run_after_close_fails(open_sandbox: SandboxFactory) -> None:
    box = open_sandbox()
    box.close()
    box.close()
    with pytest.raises(SandboxClosedError):
        box.run(["true"])
    with pytest.raises(SandboxClosedError):
        box.read_file("f")


def test_context_manager_opens_and_closes(backend_name: str, host: HostGuard) -> None:
    with Sandbox("python3", backend=backend_name) as box:
        host.sandbox_opened()
        assert_exited_ok(box.run(["true"]))
    with pytest.raises(SandboxClosedError):
        box.run(["true"])
    host.close_and_assert_gone()


def test_sessions_do_not_share_workspaces(open_sandbox: SandboxFactory) -> None:
    first, second = open_sandbox(), open_sandbox()
    assert_exited_ok(first.run(["sh", "-c", "echo secret > answer.txt"]))
    assert second.list_files() == []
    result = second.run(["sh", "-c", "ls -A /work; cat /work/answer.txt"])
    assert b"secret" not in result.stdout
    assert result.exit_code != 0
