"""Running one bubblewrap process under a job cgroup, and deciding its verdict.

The supervisor keeps the wall clock (monotonic), polls the cgroup's summed CPU
time, reads stdout and stderr concurrently into bounded buffers, and kills
the whole cgroup when the run ends for any reason, so no process survives.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import resource
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assay.errors import SandboxError
from assay.sandbox.native.cgroups import JobCgroup, JobLimits
from assay.sandbox.native.scheduler import CpuScheduler, Ticket, default_cores
from assay.sandbox.native.slots import Slot
from assay.sandbox.native.stall import MAX_STALL_FACTOR, StallClock
from assay.sandbox.native.terminal import TerminalWriter, open_terminal
from assay.sandbox.output import BoundedBuffer
from assay.sandbox.result import RunResult
from assay.sandbox.spec import Dialogue, Limits, OutputPolicy, RunSpec
from assay.sandbox.verdict import KillReason, RunFacts, decide

CPU_POLL_S = 0.02  # the shortest interval between two polls of a run's cgroup
MAX_POLL_S = 0.25  # the longest (OOM kills and idleness are noticed within it)
FROZEN_WAIT_S = 10.0  # a frozen run's supervisor is woken on its thaw; this is a backstop
STALL_SAMPLE_S = 0.2  # how often a run's stall clock is sampled (and before a wall verdict)
READ_CHUNK = 65536
EXEC_FAILED = 127
KILLED = 128 + signal.SIGKILL
STOP_GRACE_S = 1.0
DRAIN_S = 5.0  # the longest stdout and stderr are read once every process of the run is dead
REPLIES_JOIN_S = 5.0  # a dialogue's replies end within this after its hang-up


@dataclass(frozen=True)
class Launch:
    """What the launcher of a slot is asked to run."""

    argv: list[str]  # bubblewrap's command line, or the program's (prepared)
    env: dict[str, str]
    extra_fds: tuple[int, ...]  # become fds 3, 4, ... in the launcher and bubblewrap
    uid: int
    gid: int
    limits: JobLimits
    fields: tuple[str, ...] = ()  # more request fields (a prepared run's: launcher.c)


@dataclass(frozen=True)
class Scheduled:
    """A run's place in the CPU scheduler: its wall clock stops while it is frozen."""

    scheduler: CpuScheduler
    ticket: Ticket

    def paused_s(self) -> float:
        return self.scheduler.paused_s(self.ticket)


def rlimits(limits: Limits) -> list[tuple[int, tuple[int, int]]]:
    cpu = math.ceil(limits.cpu_time_s)
    return [
        # A backstop per process; the summed limit is the supervisor's cgroup poll.
        (resource.RLIMIT_CPU, (cpu + 1, cpu + 2)),
        (resource.RLIMIT_FSIZE, (limits.file_size_bytes, limits.file_size_bytes)),
        (resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files)),
        (resource.RLIMIT_STACK, (limits.stack_bytes, limits.stack_bytes)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_MEMLOCK, (1 << 16, 1 << 16)),
        (resource.RLIMIT_MSGQUEUE, (1 << 16, 1 << 16)),
    ]


class _Streams:
    """stdout and stderr into bounded buffers, and the launcher's exit (a pidfd),
    all in one selector so the end of a run is seen the moment it happens.

    On a terminal there is no ``err_fd`` (stdout is the terminal's master,
    stderr stays empty) and ``hangup_fd`` ends when the terminal is hung up."""

    def __init__(
        self,
        out_fd: int,
        err_fd: int | None,
        limit: int,
        listener: Callable[[bytes], None] | None,
        hangup_fd: int | None = None,
    ) -> None:
        self.listener = listener  # hears stdout as it arrives (a dialogue)
        self.selector = selectors.DefaultSelector()
        self.out, self.err = BoundedBuffer(limit), BoundedBuffer(limit)
        self.buffers = {out_fd: self.out}
        if err_fd is not None:
            self.buffers[err_fd] = self.err
        for fd in self.buffers:
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ)
        self.out_fd = out_fd
        self.exit_fd = -1
        self.exited = False
        self.hangup_fd = -1 if hangup_fd is None else hangup_fd
        self.hung_up = False
        if hangup_fd is not None:
            self.selector.register(hangup_fd, selectors.EVENT_READ)

    def watch_exit(self, pid: int) -> None:
        self.exit_fd = os.pidfd_open(pid)
        self.selector.register(self.exit_fd, selectors.EVENT_READ)

    @property
    def open(self) -> bool:
        return any(fd in self.buffers for fd in self.selector.get_map())

    def pump(self, timeout: float) -> bool:
        """Read what is ready; True if a stream went over its limit."""
        overflow = False
        for key, _ in self.selector.select(timeout):
            fd = int(key.fd)
            if fd == self.exit_fd:
                self.exited = True
                self.selector.unregister(fd)
                continue
            if fd == self.hangup_fd:
                self.hung_up = True
                self.selector.unregister(fd)
                continue
            try:
                chunk = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                continue
            except OSError as exc:
                if exc.errno != errno.EIO:
                    raise
                chunk = b""  # a terminal's master once no process holds its slave
            if not chunk:
                self.selector.unregister(fd)
                continue
            if fd == self.out_fd and self.listener is not None:
                self.listener(chunk)
            overflow |= self.buffers[fd].feed(chunk)
        return overflow

    def close(self) -> None:
        if self.hangup_fd >= 0:
            with contextlib.suppress(KeyError):
                self.selector.unregister(self.hangup_fd)  # the terminal writer's to close
        for fd in [*self.buffers, self.exit_fd]:
            if fd < 0:
                continue
            with contextlib.suppress(KeyError):
                self.selector.unregister(fd)
            os.close(fd)
        self.selector.close()


class _Replies:
    """Writes a dialogue's replies to the run's standard input, from a thread."""

    def __init__(self, dialogue: Dialogue) -> None:
        self.dialogue = dialogue
        self.read_fd, self.write_fd = os.pipe2(os.O_CLOEXEC)  # the run gets read_fd
        self.thread = threading.Thread(target=self._pump, name="assay-dialogue", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        try:
            for reply in self.dialogue.replies():
                view = memoryview(reply)
                while view:
                    view = view[os.write(self.write_fd, view) :]
        except OSError:
            pass  # the run ended (or closed its input) before reading everything
        finally:
            os.close(self.write_fd)

    def end(self) -> None:
        """After the run: the replies stop within REPLIES_JOIN_S or the run fails."""
        self.dialogue.hang_up()
        self.thread.join(REPLIES_JOIN_S)
        if self.thread.is_alive():
            raise SandboxError("a dialogue's replies did not end after the run")


def _stdin_fd(spec: RunSpec) -> int:
    if spec.stdin is None or isinstance(spec.stdin, Dialogue):  # a dialogue: _Replies' pipe
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    if isinstance(spec.stdin, Path):
        try:
            return os.open(spec.stdin, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise SandboxError(f"cannot open stdin file {spec.stdin}: {exc.strerror}") from exc
    fd = os.memfd_create("assay-stdin", os.MFD_CLOEXEC)
    view = memoryview(spec.stdin)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def supervise(
    slot: Slot,
    launch: Launch,
    spec: RunSpec,
    status_read_fd: int,
    scheduled: Scheduled | None = None,
    *,
    excuse_stalls: bool = False,
) -> RunResult:
    """Start the launch in ``slot``, enforce the limits, return the verdict.

    With ``scheduled``, the run may be frozen by the CPU scheduler; the time it
    spends frozen is not charged to its wall clock (nor reported as its wall time).
    With ``excuse_stalls``, neither is the time it wanted a CPU and got none
    (``stall.StallClock``).
    """
    limits = spec.limits
    cgroup = slot.cgroup
    dialogue = spec.dialogue
    replies: _Replies | TerminalWriter | None
    if spec.terminal:
        master, slave = open_terminal()
        replies = TerminalWriter(master, dialogue) if dialogue is not None else None
        child_fds: tuple[int, ...] = (slave, slave, slave)
        streams = _Streams(
            master,
            None,
            limits.output_bytes,
            dialogue.heard if dialogue is not None else None,
            hangup_fd=replies.hangup_fd if replies is not None else None,
        )
    else:
        replies = _Replies(dialogue) if dialogue is not None else None
        stdin_fd = replies.read_fd if replies is not None else _stdin_fd(spec)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        child_fds = (stdin_fd, out_w, err_w)
        streams = _Streams(
            out_r, err_r, limits.output_bytes, dialogue.heard if dialogue is not None else None
        )
    start = time.monotonic()
    paused_before = scheduled.paused_s() if scheduled else 0.0
    try:
        try:
            slot.start(
                argv=launch.argv,
                env=launch.env,
                fds=(*child_fds, *launch.extra_fds),
                rlimits=rlimits(limits),
                uid=launch.uid,
                gid=launch.gid,
                limits=launch.limits,
                extra_fields=launch.fields,
            )
        finally:
            # The launcher has its copies; ours would keep the pipes from ending.
            for fd in {*child_fds, *launch.extra_fds}:
                os.close(fd)
        proc = slot.proc
        streams.watch_exit(proc.pid)
        status = _Status(status_read_fd)
        stall = StallClock(cgroup.threads_file(), start) if excuse_stalls else None
        reason = _watch(
            streams,
            cgroup,
            spec,
            start,
            scheduled=scheduled,
            paused_before=paused_before,
            stall=stall,
        )
        if scheduled is not None:
            # Out of the scheduler before stopping: nothing may thaw a run being killed.
            paused = scheduled.paused_s() - paused_before
            scheduled.scheduler.leave(scheduled.ticket)
        else:
            paused = 0.0
        # A terminal hung up while the run goes on: it is stopped, as a hung-up session is.
        hung_up = streams.hung_up and not streams.exited
        if reason is not None or hung_up:
            _stop(proc, cgroup, status)
        elif cgroup.pids():
            cgroup.kill_all()
        slot.wait_exit()
        wall = time.monotonic() - start - paused - _excused(stall, limits)
        # Every process of the run is dead. A pipe still open after DRAIN_S is held
        # by a process forked from ours meanwhile; all the run wrote has been read.
        drained_by = time.monotonic() + DRAIN_S
        while streams.open and time.monotonic() < drained_by:
            streams.pump(0.1)
        if replies is not None:
            ending = replies
            replies = None  # ended here: the finally below has nothing left to do
            ending.end()
        status.read()
        return _verdict(
            proc.returncode,
            status=status.values,
            reason=reason,
            cgroup=cgroup,
            spec=spec,
            wall=wall,
            streams=streams,
            hung_up=hung_up,
        )
    finally:
        streams.close()
        if isinstance(replies, TerminalWriter):
            replies.abandon()
        elif replies is not None:  # the run failed: stop the replies, keep its exception
            replies.dialogue.hang_up()


def _watch(
    streams: _Streams,
    cgroup: JobCgroup,
    spec: RunSpec,
    start: float,
    *,
    scheduled: Scheduled | None,
    paused_before: float,
    stall: StallClock | None,
) -> KillReason | None:
    """Wait for the end of the run; the reason if we had to stop it.

    The cgroup is polled every CPU_POLL_S: summed CPU time, and OOM kills (the
    kernel kills one process; the run is stopped at once rather than left to
    its survivors until the wall clock runs out). The CPU time is also reported
    to the scheduler, which may freeze the run; while it is frozen, nothing is
    polled and its wall clock stands still.
    """
    limits = spec.limits
    cpu_limit_ns = int(limits.cpu_time_s * 1e9)
    kill_on_overflow = spec.output_policy is OutputPolicy.KILL
    cores = default_cores()
    next_poll = start
    while True:
        if scheduled is not None and scheduled.scheduler.frozen(scheduled.ticket):
            thawed = scheduled.scheduler.wait_running(scheduled.ticket, FROZEN_WAIT_S)
            if thawed and stall is not None:  # still frozen: nothing to sample yet
                stall.rebase(time.monotonic())
            continue
        now = time.monotonic()
        paused = scheduled.paused_s() - paused_before if scheduled else 0.0
        deadline = start + paused + _excused(stall, limits) + limits.wall_time_s
        if now >= deadline and stall is not None and stall.sampled_at < now:
            stall.update(now)  # bring the excused time up to date before judging
            deadline = start + paused + _excused(stall, limits) + limits.wall_time_s
        if now >= deadline:
            return KillReason.WALL_TIME
        if now >= next_poll:
            cpu_ns = cgroup.cpu_time_ns()
            if cpu_ns >= cpu_limit_ns:
                return KillReason.CPU_TIME
            if cgroup.oom_kills() > 0:
                return KillReason.MEMORY
            if stall is not None and now - stall.sampled_at >= STALL_SAMPLE_S:
                stall.update(now)
            marks = [limits.cpu_time_s]
            if scheduled is not None:
                scheduled.scheduler.report(scheduled.ticket, cpu_ns / 1e9, cgroup.runnable)
                marks.append(scheduled.scheduler.next_level_at(cpu_ns / 1e9))
            next_poll = now + poll_interval(cpu_ns / 1e9, marks, cores)
        timeout = max(0.0, min(deadline, next_poll) - now)
        if streams.pump(timeout) and kill_on_overflow:
            return KillReason.OUTPUT
        if streams.exited or streams.hung_up:
            return None


def poll_interval(cpu_s: float, marks: list[float], cores: int) -> float:
    """Seconds until the next poll of a run that has used ``cpu_s``: no later than the
    run could reach the nearest of ``marks`` (its CPU limit, its next priority level)
    using all ``cores``, so a limit is still caught within CPU_POLL_S of CPU per core,
    and no sooner than needed (a 1 s loop is polled about 20 times, not 50)."""
    ahead = min((mark - cpu_s for mark in marks if mark > cpu_s), default=math.inf)
    return min(MAX_POLL_S, max(CPU_POLL_S, ahead / cores))


def _excused(stall: StallClock | None, limits: Limits) -> float:
    """Wall time not charged: starved of CPU by other load, within a bound."""
    if stall is None:
        return 0.0
    return min(stall.stalled_s, MAX_STALL_FACTOR * limits.wall_time_s)


class _Status:
    """bubblewrap's JSON status lines: ``child-pid`` (the host pid of the
    sandbox's init) once set up, ``exit-code`` at the end."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.data = b""
        self.values: dict[str, int] = {}
        os.set_blocking(fd, False)

    def read(self) -> dict[str, int]:
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(self.fd, 4096):
                self.data += chunk
        for line in self.data.decode(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                for key, value in json.loads(line).items():
                    if isinstance(value, int):
                        self.values[key] = value
        return self.values


def _stop(proc: subprocess.Popen[bytes], cgroup: JobCgroup, status: _Status) -> None:
    """Kill the run. The sandbox's init goes first: the kernel then kills its whole
    pid namespace and bubblewrap reaps it, so no zombie is left to the host's init.
    The cgroup kill afterwards catches anything else."""
    init_pid = status.read().get("child-pid")
    if init_pid is not None:
        try:
            pidfd = os.pidfd_open(init_pid)
        except OSError:
            pidfd = -1
        if pidfd >= 0:
            try:
                if init_pid in cgroup.pids():  # still ours: the pidfd pins its identity
                    with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
                        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            finally:
                os.close(pidfd)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(STOP_GRACE_S)
    cgroup.kill_all()


def _verdict(
    returncode: int,
    *,
    status: dict[str, int],
    reason: KillReason | None,
    cgroup: JobCgroup,
    spec: RunSpec,
    wall: float,
    streams: _Streams,
    hung_up: bool = False,
) -> RunResult:
    cpu_s = cgroup.cpu_time_ns() / 1e9
    out, err = streams.out, streams.err
    stdout, stderr = out.getvalue(), err.getvalue()
    oom_kills = cgroup.oom_kills()
    said = stdout if spec.terminal else stderr  # bubblewrap's own messages: on the terminal
    if "exit-code" in status:
        code = status["exit-code"]
    elif reason is not None or oom_kills > 0 or hung_up:
        code = KILLED  # stopped before bubblewrap could report a status
    elif b"bwrap: execvp " in said and "child-pid" in status:
        # The command could not be executed (not found, not executable): a
        # verdict about the command, as a shell reports it.
        code = EXEC_FAILED
        if spec.terminal:
            stdout = stdout.replace(b"bwrap: execvp ", b"", 1)
        else:
            stderr = stderr.replace(b"bwrap: execvp ", b"", 1)
    else:
        detail = said.decode(errors="replace").strip()
        raise SandboxError(f"bubblewrap failed (status {returncode}): {detail}")
    verdict = decide(RunFacts(code, reason, oom_kills, cpu_s, spec.limits.cpu_time_s))
    return RunResult(
        termination=verdict.termination,
        exit_code=verdict.exit_code,
        signal=verdict.signal,
        cpu_time_s=cpu_s,
        wall_time_s=wall,
        peak_memory_bytes=cgroup.peak_memory_bytes(),
        stdout=stdout,
        stderr=stderr,
        stdout_truncated=out.truncated,
        stderr_truncated=err.truncated,
    )
