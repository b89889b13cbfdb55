"""Threats 11, 12, 17: the host's files are invisible and the system is read-only."""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import (
    QUICK_LIMITS,
    HostGuard,
    SandboxFactory,
    assert_exited_ok,
    describe,
    py,
)

LIMITS = QUICK_LIMITS.replace(wall_time_s=20)

# Host places that must not be visible inside. A path may exist inside (e.g. an
# image's own /root), but never as the host's file: same device and inode.
PRIVATE_HOST_PATHS = [
    "/root",
    "/root/.ssh",
    "/home",
    "/var/lib",
    "/var/lib/docker",
    "/var/lib/postgresql",
    "/work/main",
    "/work/main/.venv",
    "/work/shared",
    "/run",
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/ssh",
    "/var/log",
    "/boot",
    "/mnt",
    "/srv",
    "/opt",
]

PROBE = """
    import json, os, sys
    def ident(path):
        st = os.lstat(path)
        return [st.st_dev, st.st_ino]
    out = {}
    for path in json.loads(sys.argv[1]):
        entry = {}
        try:
            entry["self"] = ident(path)
        except OSError as e:
            entry["error"] = e.errno
        try:
            entry["children"] = {n: ident(os.path.join(path, n)) for n in os.listdir(path)}
        except OSError:
            pass
        out[path] = entry
    print(json.dumps(out))
"""

WRITE_ATTEMPTS = """
    import errno, json, sys
    results = {}
    for path, mode in json.loads(sys.argv[1]):
        try:
            with open(path, mode) as f:
                f.write("pwned")
            results[path] = "written"
        except OSError as e:
            results[path] = errno.errorcode.get(e.errno, str(e.errno))
    print(json.dumps(results))
"""

TRY_DOCKER_SOCKET = """
    import socket
    for path in ("/var/run/docker.sock", "/run/docker.sock"):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            print("connected", path)
        except OSError as e:
            print("refused", path, e.errno)
"""


def _ident(path: str) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _host_view(paths: list[str]) -> dict[str, set[tuple[int, int]]]:
    """Identities of each host path and its direct children."""
    view: dict[str, set[tuple[int, int]]] = {}
    for path in paths:
        found = {i for i in [_ident(path)] if i is not None}
        if os.path.isdir(path) and not os.path.islink(path):
            try:
                names = os.listdir(path)
            except OSError:
                names = []
            found |= {i for n in names if (i := _ident(os.path.join(path, n))) is not None}
        view[path] = found
    return view


def _leaks(inside: dict[str, Any], host_view: dict[str, set[tuple[int, int]]]) -> list[str]:
    leaks: list[str] = []
    for path, entry in inside.items():
        idents = [("", entry["self"])] if "self" in entry else []
        idents += list(entry.get("children", {}).items())
        leaks += [
            f"{path} {name}".strip() for name, (dev, ino) in idents if (dev, ino) in host_view[path]
        ]
    return leaks


@pytest.mark.parametrize("as_root", [False, True], ids=["user", "root"])
def test_private_host_paths_are_not_visible(
    open_sandbox: SandboxFactory, host: HostGuard, tmp_path: Path, as_root: bool
) -> None:
    paths = [*PRIVATE_HOST_PATHS, str(tmp_path), str(Path.cwd()), sys.prefix]
    box = open_sandbox(limits=LIMITS)
    result = py(box, PROBE, json.dumps(paths), as_root=as_root)
    assert_exited_ok(result)
    inside = json.loads(result.stdout)
    assert set(inside) == set(paths)
    leaks = _leaks(inside, _host_view(paths))
    assert not leaks, f"host files visible inside: {leaks}"
    assert "error" in inside[str(tmp_path)], f"the test's tmp dir exists inside: {inside}"
    host.check(box)


def test_shadow_and_the_canary_cannot_be_read(
    open_sandbox: SandboxFactory, host: HostGuard
) -> None:
    box = open_sandbox(limits=LIMITS)
    for path in ("/etc/shadow", "/etc/gshadow", str(host.canary_path)):
        result = box.run(["cat", path])
        assert result.exit_code not in (0, None), f"{path} readable: {describe(result)}"
        assert host.canary not in result.stdout
    host.check(box)


@pytest.mark.slow
def test_searching_the_filesystem_finds_no_host_or_neighbour_file(
    open_sandbox: SandboxFactory, host: HostGuard
) -> None:
    token = f"neighbour-{secrets.token_hex(8)}"
    neighbour, box = open_sandbox(limits=LIMITS), open_sandbox(limits=LIMITS)
    assert_exited_ok(neighbour.run(["sh", "-c", f"echo x > {token} && echo x > /tmp/{token}"]))
    script = (
        f"find / -path /proc -prune -o \\( -name {token} -o -name "
        f"{host.canary_path.name} -o -name SANDBOX_THREATS.md \\) -print 2>/dev/null; true"
    )
    result = box.run(["sh", "-c", script])
    assert_exited_ok(result)
    assert result.stdout == b"", f"found: {result.stdout!r}"
    host.check(neighbour, box)


@pytest.mark.parametrize("as_root", [False, True], ids=["user", "root"])
def test_system_directories_are_read_only(
    open_sandbox: SandboxFactory, host: HostGuard, as_root: bool
) -> None:
    name = f"assay-probe-{secrets.token_hex(6)}"
    new_files = [
        f"/{name}",
        f"/usr/{name}",
        f"/usr/bin/{name}",
        f"/etc/{name}",
        f"/usr/lib/{name}",
        f"/bin/{name}",
    ]
    attempts = [[p, "w"] for p in new_files]
    if not as_root:  # the sandbox's root may own a container's private /etc/hosts copy
        attempts += [["/etc/hostname", "a"], ["/etc/passwd", "a"]]
    attempts += [["/usr/bin/env", "a"]]
    env_before = Path("/usr/bin/env").stat()
    box = open_sandbox(limits=LIMITS)
    result = py(box, WRITE_ATTEMPTS, json.dumps(attempts), as_root=as_root)
    assert_exited_ok(result)
    outcomes = json.loads(result.stdout)
    assert set(outcomes) == {p for p, _ in attempts}
    wrong = {p: o for p, o in outcomes.items() if o not in ("EROFS", "EACCES", "EPERM")}
    assert not wrong, f"writes not refused: {wrong}"
    for path in new_files:
        assert not Path(path).exists(), f"{path} appeared on the host"
    assert Path("/usr/bin/env").stat().st_mtime_ns == env_before.st_mtime_ns
    host.check(box)


@pytest.mark.parametrize("as_root", [False, True], ids=["user", "root"])
def test_docker_socket_is_unreachable(
    open_sandbox: SandboxFactory, host: HostGuard, as_root: bool
) -> None:
    box = open_sandbox(limits=LIMITS)
    result = py(box, TRY_DOCKER_SOCKET, as_root=as_root)
    assert_exited_ok(result)
    assert b"connected" not in result.stdout, describe(result)
    assert result.stdout.count(b"refused") == 2
    host.check(box)


def test_tmp_is_private_to_the_session(open_sandbox: SandboxFactory, host: HostGuard) -> None:
    first, second = open_sandbox(limits=LIMITS), open_sandbox(limits=LIMITS)
    assert_exited_ok(first.run(["sh", "-c", "echo secret > /tmp/shared-answer"]))
    result = second.run(["cat", "/tmp/shared-answer"])
    assert result.exit_code not in (0, None), describe(result)
    assert b"secret" not in result.stdout
    host.check(first, second)
