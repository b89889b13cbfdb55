"""Ready slots: job cgroups with a parked launcher already inside.

Moving a process into a cgroup can wait for an RCU grace period, often 10 ms
or more on a loaded VM, which would dominate a sandbox's overhead. A slot is
made ahead of time by a background thread: a fresh job cgroup, and a
launcher (``launcher.c``) that has joined it and waits on a unix socket. A run
takes a slot, applies its limits, and sends the launcher its request. Each
slot serves one run and is then destroyed, so every run still gets a fresh
cgroup; only the waiting moved off the run's path.

Every wait on a launcher is bounded: one that takes no request, never exits
or says nothing gives a ``SandboxError`` within seconds, never a hang. A
forked child lets go of its parent's slots (``assay.sandbox.forks``).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import select
import socket
import struct
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from assay.errors import SandboxError
from assay.sandbox.native.cgroups import CgroupDriver, JobCgroup, JobLimits
from assay.sandbox.native.readypool import ReadyPool

log = logging.getLogger(__name__)

JOB_PREFIX = "job"
SEND_TIMEOUT_S = 5.0  # a parked launcher takes its request at once; this is a backstop
MESSAGE_WAIT_S = 0.5  # how long a dead launcher's last words are waited for
EXIT_WAIT_S = 5.0  # a launcher exits this soon once its cgroup was killed
NOT_OURS = -1  # the returncode given to a forked child's copy of a parent's launcher
_counter = itertools.count()


class Slot:
    """One job cgroup and the launcher parked in it."""

    def __init__(
        self, launcher: Path, driver: CgroupDriver, limits: JobLimits | None = None
    ) -> None:
        self.cgroup: JobCgroup = driver.create(f"{JOB_PREFIX}-{os.getpid()}-{next(_counter)}")
        self.limits = limits
        if limits is not None:  # the likely ones, set ahead of time like the rest
            self.cgroup.set_limits(limits)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock = ours
        argv = [str(launcher), "-s", str(theirs.fileno())]
        for path in self.cgroup.procs_files:
            argv += ["-c", str(path)]
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env={},
                pass_fds=(theirs.fileno(),),
                cwd="/",
            )
        except OSError as exc:
            ours.close()
            self.cgroup.remove()
            raise SandboxError(f"cannot start the sandbox launcher: {exc}") from exc
        finally:
            theirs.close()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def start(
        self,
        *,
        argv: Sequence[str],
        env: Mapping[str, str],
        fds: Sequence[int],
        rlimits: Sequence[tuple[int, tuple[int, int]]],
        uid: int,
        gid: int,
        limits: JobLimits,
        extra_fields: Sequence[str] = (),
    ) -> None:
        """Hand the launcher its run: fds become 0, 1, 2, 3... in the launcher."""
        if limits != self.limits:
            self.cgroup.set_limits(limits)
        fields = [f"U{uid}", f"G{gid}", *extra_fields]
        fields += [f"R{which}:{soft}:{hard}" for which, (soft, hard) in rlimits]
        try:
            send_request(self.sock, fields, env=env, argv=argv, fds=fds)
        except TimeoutError as exc:
            raise SandboxError(
                f"the sandbox launcher (pid {self.proc.pid}) took no request "
                f"within {SEND_TIMEOUT_S:.0f} s"
            ) from exc
        except OSError as exc:
            raise SandboxError(f"the sandbox launcher is gone: {self.failure()}") from exc
        finally:
            self.sock.close()

    def failure(self) -> str:
        """What the launcher said before it failed (empty while it runs).

        Read without blocking: another process (a child forked meanwhile) may
        hold the pipe open, so its end is waited for at most MESSAGE_WAIT_S.
        """
        stderr = self.proc.stderr
        if stderr is None or stderr.closed or self.proc.poll() is None:
            return ""
        poller = select.poll()  # not select(): a busy worker's descriptors exceed 1024
        poller.register(stderr.fileno(), select.POLLIN)
        if not poller.poll(MESSAGE_WAIT_S * 1000):
            return f"the launcher (status {self.proc.returncode}) said nothing"
        return os.read(stderr.fileno(), 4096).decode(errors="replace").strip()

    def wait_exit(self, timeout_s: float = EXIT_WAIT_S) -> int:
        """The launcher's status once it exits (its run's processes were killed).

        One still alive after ``timeout_s`` did not join its cgroup or is stuck:
        it is killed, and the run fails with a ``SandboxError``.
        """
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(EXIT_WAIT_S)
            raise SandboxError(
                f"the sandbox launcher (pid {self.proc.pid}) did not exit within "
                f"{timeout_s:.0f} s of its run's end; it was killed"
            ) from None

    def destroy(self) -> None:
        """Release everything; a slot that never ran lets its launcher exit."""
        self.sock.close()
        if self.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(1.0)
        try:
            if self.proc.poll() is None:
                self.cgroup.kill_all()
                self.wait_exit()
        finally:
            if self.proc.stderr is not None:
                self.proc.stderr.close()
        self.cgroup.remove()

    def forget(self) -> None:
        """In a forked child: let go of the parent's slot without touching it.

        Only the child's copies of the socket and the pipe are closed; the
        launcher and the cgroup stay the parent's, and the child never waits
        for the launcher, which is not its child.
        """
        self.sock.close()
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc.returncode = NOT_OURS  # never polled or reaped (a reused pid) here


def send_request(
    sock: socket.socket,
    fields: Sequence[str],
    *,
    env: Mapping[str, str],
    argv: Sequence[str],
    fds: Sequence[int],
) -> None:
    """A launcher's request (``launcher.c``): ``fds`` become its 0, 1, 2, 3..."""
    fields = [*fields, *(f"E{key}={value}" for key, value in env.items())]
    fields += [f"A{arg}" for arg in argv]
    payload = b"".join(f.encode() + b"\0" for f in fields)
    sock.settimeout(SEND_TIMEOUT_S)
    socket.send_fds(sock, [struct.pack("=I", len(payload))], list(fds))
    sock.sendall(payload)


class SlotPool:
    """Keeps ``size`` slots ready; a run never waits for one unless all are taken.

    Used slots are destroyed by the same background thread (``ReadyPool``):
    removing a cgroup that had processes takes milliseconds, which a run's
    caller need not wait.
    """

    def __init__(self, launcher: Path, driver: CgroupDriver, size: int) -> None:
        self.launcher, self.driver, self.size = launcher, driver, size
        self.last_limits: JobLimits | None = None  # new slots are prepared with these
        self._remove_stale()
        # One long-lived thread (the pool's): a launcher dies with the thread that started it.
        self._pool = ReadyPool(
            size,
            make=lambda: Slot(self.launcher, self.driver, self.last_limits),
            destroy=Slot.destroy,
            forget=Slot.forget,
            name="assay-slots",
            what="a sandbox slot",
        )

    def take(self, limits: JobLimits) -> Slot:
        """A slot for a run with ``limits`` (which later slots are prepared with)."""
        self.last_limits = limits
        # refilled after the run (release), not during it
        while (slot := self._pool.take(refill_now=False)) is not None:
            if slot.alive:
                return slot
            log.warning("a parked launcher died: %s", slot.failure())
            slot.destroy()
        return Slot(self.launcher, self.driver, limits)

    def release(self, slot: Slot) -> None:
        """A slot whose run is over: destroyed in the background when there is one."""
        self._pool.discard(slot)

    @property
    def closed(self) -> bool:
        return self._pool.closed

    def close(self) -> None:
        self._pool.close()

    def _remove_stale(self) -> None:
        """Empty job cgroups left by processes that died (their parked launchers died too)."""
        for name in self.driver.job_names():
            parts = name.split("-")
            if len(parts) != 3 or parts[0] != JOB_PREFIX or not parts[1].isdigit():
                continue
            if Path(f"/proc/{parts[1]}").exists():
                continue
            job = self.driver.open(name)
            if not job.pids():
                with contextlib.suppress(SandboxError, OSError):
                    job.remove()
