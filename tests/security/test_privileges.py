"""Threats 20-22: no capabilities, no setuid, no dangerous system calls."""

from __future__ import annotations

import json
import platform

import pytest

from environment_params import custom_environment
from helpers import (
    SANDBOX_UID,
    HostGuard,
    SandboxFactory,
    assert_exited_ok,
    describe,
    py,
)

REFUSED = {"EPERM", "ENOSYS", "EACCES"}

STATUS = """
    import json
    fields = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    print(json.dumps(fields))
"""

# Each call uses arguments with which it would succeed (or fail for another
# reason than permission) if it were allowed; none can harm the host even then:
# clock_settime sets the current time, sethostname the current name, reboot has
# invalid magic numbers.
SYSCALLS = """
    import ctypes, errno, json, os, socket, struct, time
    NR = dict(unshare=272, mount=165, chroot=161, pivot_root=155, setns=308, ptrace=101,
              keyctl=250, add_key=248, bpf=321, perf_event_open=298, userfaultfd=323,
              io_uring_setup=425, clock_settime=227, settimeofday=164, sethostname=170,
              setdomainname=171, init_module=175, finit_module=313, kexec_load=246,
              reboot=169, acct=163, swapon=167, open_by_handle_at=304, process_vm_readv=310)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    L = ctypes.c_long
    def call(name, *args):
        ctypes.set_errno(0)
        r = libc.syscall(L(NR[name]), *[L(a) if isinstance(a, int) else a for a in args])
        e = ctypes.get_errno()
        return "allowed" if r >= 0 else errno.errorcode.get(e, str(e))
    results = {}
    results["unshare(NEWUSER)"] = call("unshare", 0x10000000)
    results["unshare(NEWNS)"] = call("unshare", 0x00020000)
    results["unshare(NEWNET)"] = call("unshare", 0x40000000)
    results["mount"] = call("mount", b"none", b"/tmp", b"tmpfs", 0, None)
    results["chroot"] = call("chroot", b"/")
    results["pivot_root"] = call("pivot_root", b"/tmp", b"/tmp")
    results["setns"] = call("setns", os.open("/proc/self/ns/uts", os.O_RDONLY), 0)
    results["ptrace(TRACEME)"] = call("ptrace", 0, 0, 0, 0)
    child = os.fork()
    if child == 0:
        time.sleep(5)
        os._exit(0)
    results["ptrace(ATTACH child)"] = call("ptrace", 16, child, 0, 0)
    local = ctypes.create_string_buffer(16)
    iov = struct.pack("QQ", ctypes.addressof(local), 16)
    results["process_vm_readv"] = call("process_vm_readv", child, iov, 1, iov, 1, 0)
    os.kill(child, 9)
    os.waitpid(child, 0)
    results["keyctl"] = call("keyctl", 0, -3, 1)
    results["add_key"] = call("add_key", b"user", b"assay", b"x", 1, -3)
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("IIII", attr, 0, 2, 4, 4, 1)
    results["bpf"] = call("bpf", 0, attr, 128)
    pattr = ctypes.create_string_buffer(128)
    struct.pack_into("IIQ", pattr, 0, 1, 128, 0)
    struct.pack_into("Q", pattr, 40, 1 | (1 << 5) | (1 << 6))
    results["perf_event_open"] = call("perf_event_open", pattr, 0, -1, -1, 0)
    results["userfaultfd"] = call("userfaultfd", os.O_CLOEXEC | 1)
    results["io_uring_setup"] = call("io_uring_setup", 1, ctypes.create_string_buffer(120))
    ts = (ctypes.c_long * 2)(int(time.time()), 0)
    results["clock_settime"] = call("clock_settime", 0, ts)
    results["settimeofday"] = call("settimeofday", None, None)
    name = socket.gethostname().encode()
    results["sethostname"] = call("sethostname", name, len(name))
    results["setdomainname"] = call("setdomainname", b"(none)", 6)
    results["init_module"] = call("init_module", None, 0, b"")
    results["finit_module"] = call("finit_module", os.open("/dev/null", os.O_RDONLY), b"", 0)
    results["kexec_load"] = call("kexec_load", 0, 0, None, 0)
    results["reboot"] = call("reboot", 0, 0, 0, None)
    results["acct"] = call("acct", None)
    results["swapon"] = call("swapon", b"/nonexistent", 0)
    results["open_by_handle_at"] = call("open_by_handle_at", -100, attr, 0)
    print(json.dumps(results))
"""

EUID = rb"""
#include <stdio.h>
#include <unistd.h>
int main(void) { printf("%d %d\n", (int)getuid(), (int)geteuid()); return 0; }
"""


@pytest.mark.parametrize("as_root", [False, True], ids=["user", "root"])
def test_no_capabilities_and_no_new_privileges(
    open_sandbox: SandboxFactory, host: HostGuard, as_root: bool
) -> None:
    box = open_sandbox()
    result = py(box, STATUS, as_root=as_root)
    assert_exited_ok(result)
    status = json.loads(result.stdout)
    for field in ("CapEff", "CapPrm", "CapAmb"):
        assert int(status[field], 16) == 0, f"{field}={status[field]}"
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2", "no seccomp filter"
    host.check(box)


@pytest.mark.skipif(
    platform.machine() != "x86_64", reason="the system call numbers in this test are x86_64's"
)
@pytest.mark.parametrize("as_root", [False, True], ids=["user", "root"])
def test_dangerous_system_calls_are_refused(
    open_sandbox: SandboxFactory, host: HostGuard, as_root: bool
) -> None:
    box = open_sandbox()
    result = py(box, SYSCALLS, as_root=as_root)
    assert_exited_ok(result)
    outcomes = json.loads(result.stdout)
    wrong = {call: outcome for call, outcome in outcomes.items() if outcome not in REFUSED}
    assert not wrong, f"not refused: {wrong}; all: {outcomes}"
    host.check(box)


@pytest.mark.parametrize("as_root", [False, True], ids=["user", "root"])
def test_unshare_command_fails(
    open_sandbox: SandboxFactory, host: HostGuard, as_root: bool
) -> None:
    box = open_sandbox()
    for flags in (["-r"], ["-m"], ["-n"], ["-U"], ["-p", "-f"], ["-r", "-m"]):
        result = box.run(["unshare", *flags, "id", "-u"], as_root=as_root)
        assert result.exit_code not in (0, None), f"unshare {flags}: {describe(result)}"
    host.check(box)


def test_setuid_root_binary_gains_nothing(open_sandbox: SandboxFactory, host: HostGuard) -> None:
    box = open_sandbox("c")
    box.write_file("euid.c", EUID)
    assert_exited_ok(box.run(["gcc", "-o", "euid", "euid.c"]))
    binary = box.read_file("euid")
    box.write_file("suid-euid", binary, mode=0o4755, owner_root=True)
    result = box.run(["./suid-euid"])
    assert_exited_ok(result)
    assert result.stdout == f"{SANDBOX_UID} {SANDBOX_UID}\n".encode(), describe(result)
    # the system's own setuid programs do not help either
    result = box.run(
        [
            "sh",
            "-c",
            "su -c id root </dev/null; mount -t tmpfs none /tmp; "
            "umount /tmp; newgrp root </dev/null; exit 0",
        ]
    )
    assert b"uid=0" not in result.stdout, describe(result)
    host.check(box)


def test_the_environments_tree_has_no_setuid_or_setgid_file(open_sandbox: SandboxFactory) -> None:
    """Whatever a tree's packages or setup script left, the builder stripped every
    setuid and setgid bit (and runs mount the tree nosuid besides)."""
    box = open_sandbox()
    # Regular files only: setgid directories (/var/mail, /var/local) only pass their
    # group on; directories the sandbox user cannot read cannot be executed from either.
    result = box.run(["sh", "-c", "find / -xdev -type f -perm /6000 -print 2>/dev/null; true"])
    assert result.exit_code == 0, describe(result)
    assert result.stdout == b"", describe(result)


def test_a_setup_scripts_setuid_root_shell_gives_no_privilege(
    open_sandbox: SandboxFactory,
) -> None:
    """The custom suite environment's setup script planted a setuid root copy of sh,
    a setgid copy of id and a setuid bit on jq: none of them runs with privilege."""
    box = open_sandbox(custom_environment())
    result = box.run(
        ["sh", "-c", "stat -c '%a %n' /usr/local/bin/rootsh /usr/local/bin/groupid /usr/bin/jq"
         " && /usr/local/bin/rootsh -c 'id -u; id -g' && /usr/local/bin/groupid -g"]
    )  # fmt: skip
    assert result.exit_code == 0, describe(result)
    lines = result.stdout.decode().split("\n")
    assert lines[:3] == [
        "755 /usr/local/bin/rootsh",
        "755 /usr/local/bin/groupid",
        "755 /usr/bin/jq",
    ], describe(result)
    assert lines[3:6] == [str(SANDBOX_UID)] * 3, describe(result)
