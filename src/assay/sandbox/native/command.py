"""The bubblewrap command line of one run, and the files it binds."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from assay.sandbox.spec import RunSpec

SANDBOX_UID = 1000  # the student's uid as seen inside; mapped to the host's sandbox uid
HOSTNAME = "sandbox"
STALE_ETC_S = 24 * 3600  # older /etc copies may still be bound by another worker's runs
ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# What of the host's /etc a toolchain needs; nothing with secrets or host identity.
ETC_ALLOWLIST = (
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "java-17-openjdk",
    "python3",
    "python3.11",
    "mime.types",
    "protocols",
    "services",
    "valgrind",
)
GENERATED_ETC = {
    "passwd": (
        "root:x:0:0:root:/root:/bin/sh\n"
        f"student:x:{SANDBOX_UID}:{SANDBOX_UID}:student:/work:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    ),
    "group": f"root:x:0:\nstudent:x:{SANDBOX_UID}:\nnogroup:x:65534:\n",
    "hosts": f"127.0.0.1 localhost\n::1 localhost\n127.0.1.1 {HOSTNAME}\n",
    "hostname": f"{HOSTNAME}\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
    # Empty: the mount point on which a run with network binds the host's (bubblewrap
    # cannot create one in the read-only /etc).
    "resolv.conf": "",
}


def build_etc(directory: Path) -> Path:
    """The sandbox's /etc: copies of the allowlisted host entries, and its own
    passwd, group and hosts. Built afresh in a new directory (one bind mount per
    run is much cheaper than one per file); returns that directory."""
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix="etc-", dir=directory))
    target.chmod(0o755)
    for name in ETC_ALLOWLIST:
        source = Path("/etc") / name
        if source.is_dir() and not source.is_symlink():
            shutil.copytree(source, target / name, symlinks=True)
        elif source.exists() or source.is_symlink():
            shutil.copy2(source, target / name, follow_symlinks=False)
    for name, content in GENERATED_ETC.items():
        (target / name).write_text(content)
        (target / name).chmod(0o644)
    for old in directory.glob("etc-*"):
        if old != target and time.time() - old.stat().st_mtime > STALE_ETC_S:
            shutil.rmtree(old, ignore_errors=True)
    return target


@dataclass(frozen=True)
class RootLayout:
    """The read-only system a sandbox sees, computed once per backend."""

    args: tuple[str, ...]

    @classmethod
    def from_host(cls, etc: Path) -> RootLayout:
        args: list[str] = ["--ro-bind", "/usr", "/usr"]
        for name in ROOT_LINKS:
            path = Path("/") / name
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), f"/{name}"]
            elif path.is_dir():
                args += ["--ro-bind", str(path), f"/{name}"]
        args += ["--ro-bind", str(etc), "/etc"]
        return cls(tuple(args))


def _identity_args(uid: str) -> list[str]:
    """Who a sandbox runs as, and what it keeps of the host: both command lines'."""
    return [
        "--uid",
        uid,
        "--gid",
        uid,
        "--hostname",
        HOSTNAME,
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
    ]


def bwrap_argv(
    bwrap: str,
    layout: RootLayout,
    workspace: Path,
    spec: RunSpec,
    *,
    tmp_bytes: int,
    seccomp_fd: int,
    status_fd: int,
) -> list[str]:
    uid = "0" if spec.as_root else str(SANDBOX_UID)
    argv = [
        bwrap,
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        *_identity_args(uid),
    ]
    if not spec.network:
        argv.append("--unshare-net")
    argv += layout.args
    if spec.network and Path("/etc/resolv.conf").exists():
        argv += ["--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf"]
    argv += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(tmp_bytes),
        "--perms",
        "1777",
        "--tmpfs",
        "/tmp",
        "--bind",
        str(workspace),
        "/work",
        "--remount-ro",
        "/",
        "--chdir",
        "/work" if spec.cwd == "." else f"/work/{spec.cwd}",
        "--seccomp",
        str(seccomp_fd),
        "--json-status-fd",
        str(status_fd),
        "--",
        *spec.argv,
    ]
    return argv


def anchor_argv(
    bwrap: str, layout: RootLayout, *, seccomp_fd: int, program_fd: int, sock_fd: int
) -> list[str]:
    """bubblewrap building a session's prepared namespaces (``prepared.py``).

    The same user, mount, network and uts namespaces as ``bwrap_argv``'s, with
    what is each run's own left out: a run mounts the workspace on ``/work``,
    and a fresh /proc, /tmp and /dev/shm. /dev is read-only (a run must not
    leave files there for the next). The payload is the launcher (``program_fd``,
    run through /proc/self/fd: it is not in the sandbox's root) in anchor mode,
    which sends the namespaces to ``sock_fd`` and exits.
    """
    return [
        bwrap,
        "--unshare-user",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-net",
        *_identity_args(str(SANDBOX_UID)),
        *layout.args,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--dir",
        "/tmp",
        "--dir",
        "/work",
        "--remount-ro",
        "/dev",
        "--remount-ro",
        "/",
        "--seccomp",
        str(seccomp_fd),
        "--",
        f"/proc/self/fd/{program_fd}",
        "--anchor",
        str(sock_fd),
    ]
