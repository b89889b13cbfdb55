"""Threat 21: the clock and the host name cannot be changed from inside."""

from __future__ import annotations

import socket
import time

import pytest

from helpers import HostGuard, SandboxFactory, assert_exited_ok, describe


@pytest.mark.parametrize("as_root", [False, True], ids=["user", "root"])
def test_clock_cannot_be_set(open_sandbox: SandboxFactory, host: HostGuard, as_root: bool) -> None:
    box = open_sandbox()
    before = time.time()
    result = box.run(["date", "-s", "2001-01-01 00:00:00"], as_root=as_root)
    assert result.exit_code not in (0, None), describe(result)
    assert abs(time.time() - before) < 5, "the host clock moved"
    inside = box.run(["date", "+%s"])
    assert_exited_ok(inside)
    assert abs(int(inside.stdout) - time.time()) < 5, "the sandbox clock moved"
    host.check(box)


@pytest.mark.parametrize("as_root", [False, True], ids=["user", "root"])
def test_hostname_change_fails_and_never_reaches_the_host(
    open_sandbox: SandboxFactory, host: HostGuard, as_root: bool
) -> None:
    before = socket.gethostname()
    box = open_sandbox()
    result = box.run(
        ["sh", "-c", "hostname assay-evil-name; cat /proc/sys/kernel/hostname"], as_root=as_root
    )
    assert b"assay-evil-name" not in result.stdout, describe(result)
    assert socket.gethostname() == before
    result = box.run(
        ["python3", "-c", "import socket; print(socket.gethostname())"], as_root=as_root
    )
    assert_exited_ok(result)
    assert result.stdout.strip() != b"assay-evil-name"
    host.check(box)
