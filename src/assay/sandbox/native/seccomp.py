"""The seccomp filter of native sandboxes, compiled once with libseccomp.

Default allow, with the kernel attack surface of SANDBOX_THREATS.md refused
with EPERM: namespaces and mounts, tracing, keyrings, BPF, perf, userfaultfd,
io_uring, modules, kexec, reboot, clock and hostname changes, TIOCSTI, and
raw/packet/vsock sockets. System calls of other architectures kill the process
(no 32-bit ABI bypass). ``clone3`` answers ENOSYS so that libc falls back to
``clone``, whose namespace flags we can inspect.
"""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import tempfile
from functools import lru_cache
from pathlib import Path

import pyseccomp as sc

from assay.errors import SandboxUnavailableError
from assay.sandbox.syscall_policy import (
    DENIED_IOCTLS,
    DENIED_SOCKET_FAMILIES,
    DENIED_SYSCALLS,
    NAMESPACE_FLAGS,
)


def _build() -> sc.SyscallFilter:
    f = sc.SyscallFilter(sc.ALLOW)
    eperm = sc.ERRNO(errno.EPERM)
    for name in DENIED_SYSCALLS:
        try:
            f.add_rule(eperm, name)
        except (ValueError, RuntimeError, OSError):
            continue  # not a system call on this architecture (e.g. stime on x86_64)
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    for flag in NAMESPACE_FLAGS:
        f.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    for family in DENIED_SOCKET_FAMILIES:
        f.add_rule(eperm, "socket", sc.Arg(0, sc.EQ, family))
    # SOCK_RAW in any family (low 4 bits of the type argument)
    f.add_rule(eperm, "socket", sc.Arg(1, sc.MASKED_EQ, 0xF, socket.SOCK_RAW))
    for request in DENIED_IOCTLS:
        f.add_rule(eperm, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, request))
    return f


@lru_cache(maxsize=1)
def filter_bpf() -> bytes:
    """The compiled BPF program (cached; bubblewrap reads it from a file descriptor)."""
    try:
        with tempfile.TemporaryFile() as out:
            _build().export_bpf(out)
            out.seek(0)
            return out.read()
    except (OSError, RuntimeError) as exc:
        raise SandboxUnavailableError(
            f"cannot build the seccomp filter: {exc}", fix="apt-get install libseccomp2"
        ) from exc


def write_filter(directory: Path) -> Path:
    """The filter as a root-owned, read-only file (named by its hash) to open per run."""
    bpf = filter_bpf()
    path = directory / f"seccomp-{hashlib.sha256(bpf).hexdigest()[:12]}.bpf"
    if not path.exists() or path.read_bytes() != bpf:
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        tmp = directory / f".{path.name}.{os.getpid()}"
        tmp.write_bytes(bpf)
        tmp.chmod(0o444)
        tmp.replace(path)
    return path


def filter_fd(path: Path) -> int:
    """A fresh readable fd (its own offset) of the filter, for ``bwrap --seccomp FD``."""
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
