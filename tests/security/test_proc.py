"""Threat 16: /proc shows only the sandbox's own processes."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from helpers import HostGuard, SandboxFactory, assert_exited_ok, describe, py

LIST = """
    import json, os
    procs = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    procs[pid] = f.read().replace(b"\\0", b" ").decode(errors="replace")
            except OSError as e:
                procs[pid] = f"<{e.strerror}>"
    print(json.dumps({"me": os.getpid(), "procs": procs}))
"""


def _cmdline(pid: int | str) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()


@pytest.mark.parametrize("as_root", [False, True], ids=["user", "root"])
def test_only_own_processes_are_visible(
    open_sandbox: SandboxFactory, host: HostGuard, as_root: bool
) -> None:
    box = open_sandbox()
    result = py(box, LIST, as_root=as_root)
    assert_exited_ok(result)
    seen = json.loads(result.stdout)
    procs: dict[str, str] = seen["procs"]
    assert str(seen["me"]) in procs
    # the program, maybe an init and a launcher; the host has dozens
    assert len(procs) <= 4, f"too many processes visible: {procs}"
    host_markers = [_cmdline(1), _cmdline(os.getpid())]
    visible = [c for c in procs.values() for m in host_markers if m and m == c.strip()]
    assert not visible, f"host processes visible: {visible}"
    assert not any("pytest" in c for c in procs.values()), describe(result)
    host.check(box)


def test_host_pids_cannot_be_signalled_or_read(
    open_sandbox: SandboxFactory, host: HostGuard
) -> None:
    me = os.getpid()
    box = open_sandbox()
    code = f"""
        import os
        try:
            os.kill({me}, 0)
            alive = "exists"
        except OSError as e:
            alive = e.errno
        try:
            data = open("/proc/{me}/cmdline", "rb").read()
        except OSError as e:
            data = e.errno
        print(alive, data)
    """
    result = py(box, code)
    assert_exited_ok(result)
    assert result.stdout.split() == [str(errno.ESRCH).encode(), str(errno.ENOENT).encode()], (
        describe(result)
    )
    host.check(box)
