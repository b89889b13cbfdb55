"""A run's verdict from what its supervisor observed: one rule for every backend."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from enum import StrEnum

from assay.sandbox.result import Termination, status_from_exit_code


class KillReason(StrEnum):
    """Why the supervisor killed a run."""

    CPU_TIME = "cpu_time"
    WALL_TIME = "wall_time"
    OUTPUT = "output"
    MEMORY = "memory"  # the kernel OOM-killed a process of the run; the rest is stopped


_KILL_TERMINATION = {
    KillReason.CPU_TIME: Termination.CPU_TIME_LIMIT,
    KillReason.WALL_TIME: Termination.WALL_TIME_LIMIT,
    KillReason.OUTPUT: Termination.OUTPUT_LIMIT,
    KillReason.MEMORY: Termination.MEMORY_LIMIT,
}


@dataclass(frozen=True)
class RunFacts:
    """What was observed of a finished run."""

    status: int  # shell-style, as Docker and bubblewrap report it: a signal N is 128 + N
    killed_for: KillReason | None
    oom_kills: int  # OOM kills in the run's cgroup during the run
    cpu_time_s: float
    cpu_limit_s: float


@dataclass(frozen=True)
class Verdict:
    termination: Termination
    exit_code: int | None
    signal: int | None


def decide(facts: RunFacts) -> Verdict:
    """The termination of a run, most telling cause first.

    An OOM kill wins (the kernel enforced the memory limit), then a limit the
    supervisor enforced, then the CPU rlimit (SIGXCPU, or SIGKILL once the
    hard rlimit or the summed CPU time reached the limit), then how the
    program itself ended.
    """
    exit_code, sig = status_from_exit_code(facts.status)
    if facts.oom_kills > 0:
        termination = Termination.MEMORY_LIMIT
    elif facts.killed_for is not None:
        termination = _KILL_TERMINATION[facts.killed_for]
    elif sig == signal.SIGXCPU or (sig == signal.SIGKILL and facts.cpu_time_s >= facts.cpu_limit_s):
        termination = Termination.CPU_TIME_LIMIT
    elif sig is not None:
        termination = Termination.SIGNALED
    else:
        termination = Termination.EXITED
    return Verdict(termination, exit_code, sig)
