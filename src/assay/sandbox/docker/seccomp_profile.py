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

DENIED = (
    # filesystems and namespaces
    "mount", "umount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "name_to_handle_at", "open_by_handle_at", "quotactl", "quotactl_fd", "swapon", "swapoff",
    "acct",
    # other processes and the kernel
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "keyctl",
    "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "init_module", "finit_module", "delete_module",
    "kexec_load", "kexec_file_load", "reboot", "syslog", "vhangup", "iopl", "ioperm",
    "lookup_dcookie", "fanotify_init", "personality", "uselib", "nfsservctl",
    # clocks and the host's identity
    "clock_settime", "clock_adjtime", "settimeofday", "adjtimex", "sethostname",
    "setdomainname",
)  # fmt: skip

# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME (linux/sched.h)
NAMESPACE_FLAGS = (
    0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x80,
)  # fmt: skip
AF_VSOCK = 40
DENIED_SOCKET_FAMILIES = (socket.AF_PACKET, AF_VSOCK)
DENIED_IOCTLS = (0x5412, 0x541C)  # TIOCSTI, TIOCLINUX
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
    rules = [_deny(list(DENIED)), _deny(["clone3"], code=errno.ENOSYS)]
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
