"""Ready slots: job cgroups with a parked launcher already inside.

Moving a process into a cgroup can wait for an RCU grace period, often 10 ms
or more on a loaded VM, which would dominate a sandbox's overhead. A slot is
made ahead of time by a background thread: a fresh job cgroup, and a
launcher (``launcher.c``) that has joined it and waits on a unix socket. A run
takes a slot, applies its limits, and sends the launcher its request. Each
slot serves one run and is then destroyed, so every run still gets a fresh
cgroup; only the waiting moved off the run's path.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import struct
import subprocess
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

from assay.errors import SandboxError
from assay.sandbox.native.cgroups import CgroupDriver, JobCgroup, JobLimits

log = logging.getLogger(__name__)

JOB_PREFIX = "job"
REFILL_NICE = 10
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
    ) -> None:
        """Hand the launcher its run: fds become 0, 1, 2, 3... in the launcher."""
        if limits != self.limits:
            self.cgroup.set_limits(limits)
        fields = [f"U{uid}", f"G{gid}"]
        fields += [f"R{which}:{soft}:{hard}" for which, (soft, hard) in rlimits]
        fields += [f"E{key}={value}" for key, value in env.items()]
        fields += [f"A{arg}" for arg in argv]
        payload = b"".join(f.encode() + b"\0" for f in fields)
        try:
            socket.send_fds(self.sock, [struct.pack("=I", len(payload))], list(fds))
            self.sock.sendall(payload)
        except OSError as exc:
            raise SandboxError(f"the sandbox launcher is gone: {self.failure()}") from exc
        finally:
            self.sock.close()

    def failure(self) -> str:
        """What the launcher said before it failed (empty while it runs)."""
        if self.proc.stderr is None or self.proc.poll() is None:
            return ""
        return self.proc.stderr.read(4096).decode(errors="replace").strip()

    def destroy(self) -> None:
        """Release everything; a slot that never ran lets its launcher exit."""
        self.sock.close()
        if self.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(1.0)
        if self.proc.poll() is None:
            self.cgroup.kill_all()
            self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        self.cgroup.remove()


class SlotPool:
    """Keeps ``size`` slots ready; a run never waits for one unless all are taken.

    Used slots are destroyed by the same background thread: removing a cgroup
    that had processes takes milliseconds, which a run's caller need not wait.
    """

    def __init__(self, launcher: Path, driver: CgroupDriver, size: int) -> None:
        self.launcher, self.driver, self.size = launcher, driver, size
        self._ready: deque[Slot] = deque()
        self._used: deque[Slot] = deque()
        self.last_limits: JobLimits | None = None  # new slots are prepared with these
        self._wanted = threading.Condition()
        self._closed = False
        self._remove_stale()
        self._thread: threading.Thread | None = None
        if size > 0:
            # One long-lived thread: a launcher dies with the thread that started it.
            self._thread = threading.Thread(target=self._refill, name="assay-slots", daemon=True)
            self._thread.start()

    def take(self, limits: JobLimits) -> Slot:
        """A slot for a run with ``limits`` (which later slots are prepared with)."""
        with self._wanted:
            self.last_limits = limits
            while self._ready:
                slot = self._ready.popleft()
                if slot.alive:
                    return slot  # refilled after the run (release), not during it
                log.warning("a parked launcher died: %s", slot.failure())
                slot.destroy()
        return Slot(self.launcher, self.driver, limits)

    def release(self, slot: Slot) -> None:
        """A slot whose run is over: destroyed in the background when there is one."""
        if self._thread is None:
            slot.destroy()
            return
        with self._wanted:
            if not self._closed:
                self._used.append(slot)
                self._wanted.notify()
                return
        slot.destroy()

    def _refill(self) -> None:
        # Below the runs' priority: the work here must not slow the run beside it.
        # (Per thread on Linux; the launcher resets its own priority to 0.)
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), REFILL_NICE)
        while True:
            with self._wanted:
                while not self._closed and not self._used and len(self._ready) >= self.size:
                    self._wanted.wait()
                if self._closed:
                    return
                used = self._used.popleft() if self._used else None
            if used is not None:
                try:
                    used.destroy()
                except (SandboxError, OSError) as exc:
                    log.warning("cannot clean up a sandbox slot: %s", exc)
                continue
            try:
                slot = Slot(self.launcher, self.driver, self.last_limits)
            except SandboxError as exc:
                log.warning("cannot prepare a sandbox slot: %s", exc)
                with self._wanted:
                    self._wanted.wait(1.0)
                continue
            with self._wanted:
                if self.closed:  # closed while the slot was being made
                    slot.destroy()
                    return
                self._ready.append(slot)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._wanted:
            self._closed = True
            ready, self._ready = list(self._ready), deque()
            self._wanted.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5.0)
        with self._wanted:
            used, self._used = list(self._used), deque()
        for slot in ready + used:
            slot.destroy()

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
