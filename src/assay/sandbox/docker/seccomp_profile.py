"""The seccomp profile of sandbox containers (replacing Docker's default).

Docker's default profile lets an unprivileged process use ptrace (and
``PTRACE_TRACEME`` makes the container's shim its tracer, which then loses
track of the exec) and create AF_VSOCK sockets, which can reach the host of
a virtual machine. This profile allows everything else and refuses, with
EPERM, the kernel surface of SANDBOX_THREATS.md items 18-21: namespaces and
mounts, tracing and other processes' memory, keyrings, BPF, perf,
userfaultfd, io_uring, modules, kexec, reboot, clocks and host names,
TIOCSTI, and raw, packet and vsock sockets. ``clone3`` answers ENOSYS so that
libc falls back to ``clone``, whose namespace flags can be inspected. Only
the native ABI is listed: a system call of another ABI kills the process.
"""

from __future__ import annotations

import errno
import json
import platform
import socket
from functools import cache
from typing import Any

from assay.sandbox.syscall_policy import (
    DENIED_IOCTLS,
    DENIED_SOCKET_FAMILIES,
    DENIED_SYSCALLS,
    NAMESPACE_FLAGS,
)

_ARCHITECTURES = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}


def _deny(names: list[str], *args: dict[str, Any], code: int = errno.EPERM) -> dict[str, Any]:
    rule: dict[str, Any] = {"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": code}
    if args:
        rule["args"] = list(args)
    return rule


def _arg(index: int, op: str, value: int, value_two: int = 0) -> dict[str, Any]:
    return {"index": index, "value": value, "valueTwo": value_two, "op": op}


def profile() -> dict[str, Any]:
    """The profile as Docker's JSON structure."""
    rules = [_deny(list(DENIED_SYSCALLS)), _deny(["clone3"], code=errno.ENOSYS)]
    rules += [_deny(["clone"], _arg(0, "SCMP_CMP_MASKED_EQ", f, f)) for f in NAMESPACE_FLAGS]
    rules += [_deny(["socket"], _arg(0, "SCMP_CMP_EQ", f)) for f in DENIED_SOCKET_FAMILIES]
    # SOCK_RAW in any family: the low four bits of the type argument
    rules.append(_deny(["socket"], _arg(1, "SCMP_CMP_MASKED_EQ", 0xF, socket.SOCK_RAW)))
    rules += [
        _deny(["ioctl"], _arg(1, "SCMP_CMP_MASKED_EQ", 0xFFFFFFFF, request))
        for request in DENIED_IOCTLS
    ]
    machine = platform.machine()
    architectures = [_ARCHITECTURES[machine]] if machine in _ARCHITECTURES else []
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": architectures, "syscalls": rules}


@cache
def security_opt() -> str:
    """``--security-opt`` value carrying the profile."""
    return "seccomp=" + json.dumps(profile(), separators=(",", ":"))
