"""The bubblewrap command line of one run, and the files it binds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assay.sandbox.spec import RunSpec

SANDBOX_UID = 1000  # the student's uid as seen inside; mapped to the host's sandbox uid
HOSTNAME = "sandbox"


@dataclass(frozen=True)
class RootLayout:
    """The read-only system a sandbox sees: an environment's built tree as ``/``.

    Everything of the system comes from the tree (``assay.sandbox.envs``): its
    /usr, its /etc with the sandbox user, hosts and an empty resolv.conf (the
    mount point on which a run with network binds the host's). bubblewrap's bind
    mounts are nosuid, and the tree has no setuid or setgid file anyway.
    """

    rootfs: Path
    args: tuple[str, ...]

    @classmethod
    def from_rootfs(cls, rootfs: Path) -> RootLayout:
        return cls(rootfs, ("--ro-bind", str(rootfs), "/"))


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
