"""The prepared namespaces' bubblewrap command line, and the checks on the fds a
sandbox sends back (``assay.sandbox.native.prepared``)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from assay.errors import SandboxError
from assay.sandbox.native.backend import _prepared_launch
from assay.sandbox.native.cgroups import JobLimits
from assay.sandbox.native.command import RootLayout, anchor_argv
from assay.sandbox.native.prepared import NAMESPACES, SessionNamespaces, _validated
from assay.sandbox.spec import RunSpec


def test_anchor_has_the_runs_namespaces_and_a_read_only_root_and_dev(tmp_path: Path) -> None:
    layout = RootLayout.from_rootfs(tmp_path / "rootfs")
    argv = anchor_argv("/usr/bin/bwrap", layout, seccomp_fd=3, program_fd=4, sock_fd=5)
    for flag in ("--unshare-user", "--unshare-net", "--unshare-uts", "--die-with-parent"):
        assert flag in argv
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    assert argv[argv.index("--uid") + 1] == "1000"
    assert argv[argv.index("--seccomp") + 1] == "3"
    remounted = [argv[i + 1] for i, a in enumerate(argv) if a == "--remount-ro"]
    assert remounted == ["/dev", "/"]
    assert argv[argv.index("--ro-bind") + 1 : argv.index("--ro-bind") + 3] == [
        str(tmp_path / "rootfs"),
        "/",
    ]
    # the workspace is each run's (mounted by the launcher), never the session's
    assert "--bind" not in argv
    assert argv[-4:] == ["--", "/proc/self/fd/4", "--anchor", "5"]


def _opened(paths: list[str]) -> list[int]:
    return [os.open(path, os.O_RDONLY | os.O_CLOEXEC) for path in paths]


def _is_closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def test_fds_that_are_not_namespaces_are_refused_and_closed() -> None:
    fds = _opened([os.devnull] * len(NAMESPACES))
    with pytest.raises(SandboxError):
        _validated(fds, uid=64000)
    assert all(_is_closed(fd) for fd in fds)


def test_our_own_namespaces_are_refused() -> None:
    """Not made by the sandbox user, not below ours: a sandbox cannot hand these back."""
    fds = _opened([f"/proc/self/ns/{name}" for name, _ in NAMESPACES])
    with pytest.raises(SandboxError):
        _validated(fds, uid=64000)
    assert all(_is_closed(fd) for fd in fds)


def test_namespaces_in_the_wrong_order_are_refused() -> None:
    names = [name for name, _ in NAMESPACES]
    fds = _opened([f"/proc/self/ns/{name}" for name in reversed(names)])
    with pytest.raises(SandboxError, match="not one"):
        _validated(fds, uid=os.getuid())
    assert all(_is_closed(fd) for fd in fds)


def test_closed_namespaces_give_no_fds() -> None:
    namespaces = SessionNamespaces(tuple(_opened([os.devnull])))
    namespaces.close()
    namespaces.close()  # twice is fine
    with pytest.raises(SandboxError):
        namespaces.dup_fds()


def _open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


def test_a_failed_copy_of_the_namespaces_leaves_no_fd_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sources = [os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC) for _ in range(3)]
    namespaces = SessionNamespaces(tuple(sources))
    real_dup, calls = os.dup, []

    def dup_then_fail(fd: int) -> int:
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(24, "Too many open files")
        return real_dup(fd)

    before = _open_fds()
    monkeypatch.setattr(os, "dup", dup_then_fail)
    with pytest.raises(OSError, match="Too many open files"):
        namespaces.dup_fds()
    monkeypatch.undo()
    assert _open_fds() == before  # the two copies made were closed
    namespaces.close()


def test_a_prepared_launch_that_fails_closes_only_what_it_opened(tmp_path: Path) -> None:
    class Closed:
        def dup_fds(self) -> tuple[int, ...]:
            raise SandboxError("the session's namespaces are closed")

    seccomp_fd, status_w = os.pipe2(os.O_CLOEXEC)
    try:
        with pytest.raises(SandboxError, match="closed"):
            _prepared_launch(
                SimpleNamespace(path=tmp_path),  # type: ignore[arg-type]
                RunSpec(argv=("true",)),
                Closed(),  # type: ignore[arg-type]
                job_limits=JobLimits(memory_bytes=64 << 20, pids=16),
                seccomp_fd=seccomp_fd,
                status_w=status_w,
            )
        os.fstat(seccomp_fd)  # still the caller's to close: closing them here as well
        os.fstat(status_w)  # would close whatever reused the numbers
    finally:
        os.close(seccomp_fd)
        os.close(status_w)
