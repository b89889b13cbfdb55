"""A session's prepared namespaces: bubblewrap's set-up done once per session.

bubblewrap makes a user namespace (uid 1000 inside is the host's sandbox uid),
a network namespace with only loopback, a uts namespace and a mount namespace
with the read-only root (``command.anchor_argv``). Its payload, the launcher in
anchor mode, sends those four namespaces' fds back over a socketpair and exits:
no process lives on inside them, and only this process's fds keep them.

Each later run of the session is started by a parked launcher (root, already
in the run's fresh cgroup), which enters them and makes the rest per run
(``prepared.h``): its own pid, mount, ipc and cgroup namespaces, the workspace
on /work, a fresh /proc, /tmp and /dev/shm, the sandbox user without any
capability, no_new_privs and the seccomp filter. Runs with network access or
as root are not prepared: they get a bubblewrap of their own, as before.

The fds come from inside a sandbox, so they are checked before use: each must
be a namespace of the expected type; the user namespace the inner of
bubblewrap's two, both made by the sandbox uid, the outer a child of ours; the
other three owned by the outer one.
"""

from __future__ import annotations

import fcntl
import os
import select
import socket
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from assay.errors import SandboxError
from assay.sandbox.native import seccomp
from assay.sandbox.native.command import RootLayout, anchor_argv
from assay.sandbox.native.launcher import build_launcher
from assay.sandbox.native.readypool import ReadyPool
from assay.sandbox.native.slots import send_request

ANCHOR_WAIT_S = 10.0  # bubblewrap sets a sandbox up in milliseconds; this is a backstop
NS_GET_USERNS = 0xB701
NS_GET_PARENT = 0xB702
NS_GET_NSTYPE = 0xB703
NS_GET_OWNER_UID = 0xB704
CLONE_NEWUSER = 0x10000000
# The order the launcher sends them in, and prepared.h expects them in.
ANCHOR_FDS = (3, 4, 5)  # the filter, the payload (the launcher), the socket to answer on
NAMESPACES = (
    ("user", CLONE_NEWUSER),
    ("mnt", 0x00020000),
    ("net", 0x40000000),
    ("uts", 0x04000000),
)


@dataclass(frozen=True)
class AnchorConfig:
    """What building a session's namespaces needs (fixed per backend)."""

    bwrap: str
    layout: RootLayout
    bin_dir: Path  # where the launcher (the anchor's payload) is built and cached
    seccomp_path: Path
    uid: int
    gid: int


class SessionNamespaces:
    """The fds of a session's user, mount, network and uts namespaces."""

    def __init__(self, fds: tuple[int, ...]) -> None:
        self._fds: tuple[int, ...] | None = fds

    @classmethod
    def build(cls, config: AnchorConfig) -> SessionNamespaces:
        return cls(_validated(_anchor(config), config.uid))

    def dup_fds(self) -> tuple[int, ...]:
        """Copies for one run's launcher (the run closes them; ours stay)."""
        if self._fds is None:
            raise SandboxError("the session's namespaces are closed")
        copies: list[int] = []
        try:
            for fd in self._fds:
                copies.append(os.dup(fd))
        except BaseException:
            for fd in copies:
                os.close(fd)
            raise
        return tuple(copies)

    def close(self) -> None:
        fds, self._fds = self._fds, None
        for fd in fds or ():
            os.close(fd)


def _anchor(config: AnchorConfig) -> list[int]:
    """Run bubblewrap with the anchor payload; the fds it sent.

    bubblewrap is started by a launcher (no cgroup: it lives for milliseconds),
    which drops to the sandbox uid and stays its parent and subreaper, as for a
    run: spawning it from this process needs no fork of Python with a uid change.
    """
    launcher = build_launcher(config.bin_dir)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    control, control_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    opened = [err_w]
    try:
        opened.append(os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC))
        opened.append(seccomp.filter_fd(config.seccomp_path))
        opened.append(os.open(launcher, os.O_RDONLY | os.O_CLOEXEC))
        _, null, filter_fd, program = opened
        proc = subprocess.Popen(
            [str(launcher), "-s", str(control_theirs.fileno())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err_w,
            env={},
            pass_fds=(control_theirs.fileno(),),
            cwd="/",
        )
    except OSError as exc:
        for fd in (err_r, *opened):
            os.close(fd)
        for sock in (ours, theirs, control, control_theirs):
            sock.close()
        raise SandboxError(f"cannot start a launcher for a session: {exc}") from exc
    control_theirs.close()
    try:
        # fds 0-5 in the launcher and bubblewrap: the numbers anchor_argv names
        fds = (null, null, err_w, filter_fd, program, theirs.fileno())
        argv = anchor_argv(
            config.bwrap,
            config.layout,
            seccomp_fd=ANCHOR_FDS[0],
            program_fd=ANCHOR_FDS[1],
            sock_fd=ANCHOR_FDS[2],
        )
        try:
            # K: bubblewrap keeps the refill thread's low priority (a run beside it does not)
            fields = [f"U{config.uid}", f"G{config.gid}", "K"]
            send_request(control, fields, env={}, argv=argv, fds=fds)
        except OSError as exc:
            raise SandboxError(f"a session's launcher took no request: {exc}") from exc
        finally:
            for fd in opened:
                os.close(fd)
            theirs.close()
            control.close()
        received = _receive(ours, err_r)
        try:
            proc.wait(ANCHOR_WAIT_S)
        except subprocess.TimeoutExpired:
            for fd in received:
                os.close(fd)
            raise SandboxError("a session's bubblewrap did not exit") from None
    finally:
        ours.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(err_r)
    return received


def _receive(sock: socket.socket, err_fd: int) -> list[int]:
    """The anchor's one message: a byte and the namespaces' fds (bounded in time)."""
    sock.settimeout(ANCHOR_WAIT_S)
    try:
        message, received, flags, _ = socket.recv_fds(sock, 1, len(NAMESPACES))
    except OSError as exc:  # TimeoutError included
        raise SandboxError(f"a session's namespaces did not arrive: {exc}") from exc
    if message != b"N" or flags & socket.MSG_CTRUNC or len(received) != len(NAMESPACES):
        for fd in received:
            os.close(fd)
        raise SandboxError(f"a session's bubblewrap failed: {_said(err_fd)}")
    return received


def _said(fd: int) -> str:
    """What bubblewrap or the launcher wrote to stderr (bounded, never blocks long)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    if not poller.poll(1000):
        return "(nothing said)"
    return os.read(fd, 4096).decode(errors="replace").strip()


def _validated(fds: list[int], uid: int) -> tuple[int, ...]:
    """The fds, once each is the namespace it should be (else all closed, an error)."""
    try:
        _check(fds, uid)
    except BaseException as exc:
        for fd in fds:
            os.close(fd)
        if isinstance(exc, OSError):
            raise SandboxError(f"a session's namespaces cannot be checked: {exc}") from exc
        raise
    return tuple(fds)


def _check(fds: list[int], uid: int) -> None:
    for fd, (name, nstype) in zip(fds, NAMESPACES, strict=True):
        if fcntl.ioctl(fd, NS_GET_NSTYPE) != nstype:
            raise SandboxError(f"a session's {name} namespace fd is not one")
    # bubblewrap nests two user namespaces (the outer one maps root, to mount
    # devpts): the sandbox user's is the inner one, the others the outer one's.
    inner = fds[0]
    outer = fcntl.ioctl(inner, NS_GET_PARENT)
    try:
        for userns in (inner, outer):
            owner = bytearray(4)
            fcntl.ioctl(userns, NS_GET_OWNER_UID, owner)
            if struct.unpack("=I", owner)[0] != uid:
                raise SandboxError("a session's user namespace is not the sandbox user's")
        if _owner_identity(outer, NS_GET_PARENT) != _identity_of("/proc/self/ns/user"):
            raise SandboxError("a session's user namespace is not a grandchild of ours")
        for fd, (name, _) in zip(fds[1:], NAMESPACES[1:], strict=True):
            if _owner_identity(fd, NS_GET_USERNS) != _identity(outer):
                raise SandboxError(f"a session's {name} namespace is not its user namespace's")
    finally:
        os.close(outer)


def _owner_identity(fd: int, request: int) -> tuple[int, int]:
    """The identity of the namespace an ioctl gives for ``fd`` (its parent or owner)."""
    related = fcntl.ioctl(fd, request)
    try:
        return _identity(related)
    finally:
        os.close(related)


def _identity(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _identity_of(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


class NamespacePool(ReadyPool[SessionNamespaces]):
    """Keeps ``size`` sessions' namespaces ready, built by a background thread.

    Namespaces hold nothing of a session until its first run (the workspace is
    mounted per run), so they can be made ahead of time like the slots: a
    fresh sandbox then pays for no bubblewrap at all. Each is given to one
    session only. When none is ready (``take`` never waits: building takes
    longer than a run with a bubblewrap of its own), the run gets a bubblewrap
    of its own and the session asks again at its next run. A forked child
    lets go of the parent's (``forks``).
    """

    def __init__(self, config: AnchorConfig, size: int) -> None:
        self.config = config
        super().__init__(
            size,
            make=lambda: SessionNamespaces.build(config),
            destroy=SessionNamespaces.close,
            forget=SessionNamespaces.close,  # the child's copies of the fds
            name="assay-anchors",
            what="a session's namespaces",
        )
