"""Supervising one run: output, wall clock, summed CPU time, the end of the process tree.

The run is over when its main process has exited and its output stream has
closed. Limits are checked every ``POLL_S`` meanwhile. When the main process
exits while a background child still holds the stream open, the leftovers
are killed at once instead of waiting for the wall-time limit.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from assay.errors import SandboxError
from assay.sandbox.docker.api import DockerAPI
from assay.sandbox.docker.cgroup_stats import CgroupStats
from assay.sandbox.docker.execio import ExecProcess, open_pidfd
from assay.sandbox.docker.reaper import Reaper
from assay.sandbox.docker.streams import OutputCollector
from assay.sandbox.docker.terminal import TerminalDialogue, TerminalOutput, terminal_argv
from assay.sandbox.docker.verdict import exec_argv, run_user
from assay.sandbox.result import RunResult
from assay.sandbox.spec import RunSpec
from assay.sandbox.verdict import KillReason, RunFacts, decide

logger = logging.getLogger(__name__)

POLL_S = 0.02
WATCH_AFTER_S = 0.2  # runs shorter than this never need the exit watch
INSPECT_EVERY_S = 0.05  # exit polling when no pidfd can be had
KILL_GRACE_S = 3.0
MAX_STATUS = 255


@dataclass(frozen=True)
class RunContext:
    api: DockerAPI
    container_id: str
    stats: CgroupStats
    reaper: Reaper


class _Watch:
    """Learns when the main process has exited: a pidfd, else exec inspection."""

    def __init__(self, proc: ExecProcess, container_id: str) -> None:
        self.proc = proc
        self.container_id = container_id
        self.exited = False
        self.exited_at = 0.0
        self.exit_code: int | None = None
        self.pidfd: int | None = None
        self.armed = False
        self.next_inspect = 0.0

    def arm(self) -> None:
        self.armed = True
        info = self.proc.inspect()
        if not info.running:
            self._ended(info.exit_code)
            return
        self.pidfd = open_pidfd(info.pid, self.container_id)

    def fds(self) -> list[int]:
        return [self.pidfd] if self.pidfd is not None and not self.exited else []

    def poll(self, ready: list[int], now: float) -> None:
        if self.exited or not self.armed:
            return
        if self.pidfd is not None:
            if self.pidfd in ready:
                self._ended(None)
        elif now >= self.next_inspect:
            self.next_inspect = now + INSPECT_EVERY_S
            info = self.proc.inspect()
            if not info.running:
                self._ended(info.exit_code)

    def _ended(self, exit_code: int | None) -> None:
        self.exited, self.exited_at, self.exit_code = True, time.monotonic(), exit_code

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class _Run:
    def __init__(self, ctx: RunContext, spec: RunSpec) -> None:
        self.ctx = ctx
        self.spec = spec
        self.user = run_user(spec)
        self.dialogue = spec.dialogue
        self.terminal: TerminalDialogue | None = None
        self.output: OutputCollector | TerminalOutput
        if spec.terminal:
            inner = self.dialogue
            self.terminal = TerminalDialogue(inner) if inner is not None else None
            self.dialogue = self.terminal
            self.output = TerminalOutput(
                spec.limits.output_bytes,
                spec.output_policy,
                inner.heard if inner is not None else _ignore,
                self.terminal.ready.set if self.terminal is not None else _nothing,
            )
        else:
            self.output = OutputCollector(
                spec.limits.output_bytes,
                spec.output_policy,
                self.dialogue.heard if self.dialogue is not None else None,
            )
        self.killed_for: KillReason | None = None
        self.killed_at = 0.0
        self.peak_sample = 0
        self.peak_tracked = False
        self.next_poll = 0.0

    def kill(self, reason: KillReason | None, now: float) -> None:
        if reason is not None and self.killed_for is None:
            self.killed_for, self.killed_at = reason, now
        self.ctx.reaper.kill_all(self.user)

    def execute(self) -> RunResult:
        stats, limits = self.ctx.stats, self.spec.limits
        self.peak_tracked = stats.reset_peak()
        oom_before, cpu_before = stats.oom_kills(), stats.cpu_ns()
        self.peak_sample = stats.memory_current()
        cpu_limit_ns = int(limits.cpu_time_s * 1e9)
        argv = exec_argv(self.spec)
        proc = ExecProcess(
            self.ctx.api,
            self.ctx.container_id,
            terminal_argv(argv) if self.spec.terminal else argv,
            user=self.user,
            stdin=self.terminal if self.spec.terminal else self.spec.stdin,
            tty=self.spec.terminal,
        )
        started = time.monotonic()
        deadline, eof_at = started + limits.wall_time_s, started
        watch = _Watch(proc, self.ctx.container_id)
        eof = hung_up = False
        try:
            while not (eof and watch.exited):
                now = time.monotonic()
                timeout = POLL_S if self.killed_for else min(POLL_S, deadline - now)
                ready = proc.wait_readable(timeout, watch.fds(), stream=not eof)
                if proc.sock.fileno() in ready:
                    data = proc.read()
                    if data is None:
                        eof, eof_at = True, time.monotonic()
                        if not watch.armed:
                            watch.arm()
                    elif self.output.feed(data) and self.killed_for is None:
                        self.kill(KillReason.OUTPUT, time.monotonic())
                now = time.monotonic()
                watch.poll(ready, now)
                if watch.exited and not eof:
                    self.kill(None, now)  # leftovers hold the stream open
                if self.terminal is not None and self.terminal.hung_up.is_set() and not hung_up:
                    hung_up = True  # the dialogue ended: the run is stopped, as a hung-up session
                    self.kill(None, now)
                if not watch.armed and now - started >= WATCH_AFTER_S:
                    watch.arm()
                self._check_limits(now, started, (cpu_before, oom_before), cpu_limit_ns)
                if self.killed_for is not None and now - self.killed_at > KILL_GRACE_S:
                    raise SandboxError("the run did not end after it was killed")
            status = watch.exit_code if watch.exit_code is not None else proc.exit_status()
        finally:
            watch.close()
            if self.dialogue is not None:
                self.dialogue.hang_up()  # before close(), which waits for the stdin feeder
            proc.close()
        if self.ctx.reaper.leftovers():
            self.ctx.reaper.kill_all(self.user)
        if not 0 <= status <= MAX_STATUS:
            raise SandboxError(f"Docker lost the run's exit status (reported {status})")
        cpu_ns = stats.cpu_ns() - cpu_before
        facts = RunFacts(
            status, self.killed_for, stats.oom_kills() - oom_before, cpu_ns / 1e9, limits.cpu_time_s
        )
        verdict = decide(facts)
        peak = stats.memory_peak() if self.peak_tracked else None
        out = self.output.result()
        return RunResult(
            termination=verdict.termination,
            exit_code=verdict.exit_code,
            signal=verdict.signal,
            cpu_time_s=facts.cpu_time_s,
            wall_time_s=max(eof_at, watch.exited_at) - started,
            peak_memory_bytes=max(peak or 0, self.peak_sample),
            stdout=out.stdout,
            stderr=out.stderr,
            stdout_truncated=out.stdout_truncated,
            stderr_truncated=out.stderr_truncated,
        )

    def _check_limits(
        self, now: float, started: float, before: tuple[int, int], cpu_limit_ns: int
    ) -> None:
        """Wall time every iteration; the cgroup's CPU time and OOM kills every POLL_S."""
        if self.killed_for is not None:
            return
        if now - started >= self.spec.limits.wall_time_s:
            self.kill(KillReason.WALL_TIME, now)
            return
        if now < self.next_poll:
            return
        self.next_poll = now + POLL_S
        stats = self.ctx.stats
        cpu_before, oom_before = before
        if stats.oom_kills() > oom_before:
            self.kill(KillReason.MEMORY, now)  # a child's OOM kill ends the run at once
        elif stats.cpu_ns() - cpu_before >= cpu_limit_ns:
            self.kill(KillReason.CPU_TIME, now)
        elif not self.peak_tracked:
            self.peak_sample = max(self.peak_sample, stats.memory_current())


def _ignore(chunk: bytes) -> None:
    """Terminal output no dialogue listens to."""


def _nothing() -> None:
    """A terminal ready for no dialogue."""


def supervise(ctx: RunContext, spec: RunSpec) -> RunResult:
    """Run ``spec`` in the context's container and return its verdict."""
    return _Run(ctx, spec).execute()
