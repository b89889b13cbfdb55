"""Pure decisions of a run: the command line that applies the rlimits, and the verdict."""

from __future__ import annotations

import math
import signal
from dataclasses import dataclass
from enum import StrEnum

from assay.sandbox.docker.constants import SANDBOX_UID, WORKSPACE_DIR
from assay.sandbox.result import Termination, status_from_exit_code
from assay.sandbox.spec import RunSpec

ENV = "/usr/bin/env"
PRLIMIT = "/usr/bin/prlimit"


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

    status: int  # as Docker reports it: a signal N is 128 + N
    killed_for: KillReason | None
    oom_kills: int  # OOM kills in the container's cgroup during the run
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


def run_user(spec: RunSpec) -> str:
    return "0:0" if spec.as_root else f"{SANDBOX_UID}:{SANDBOX_UID}"


def workdir(spec: RunSpec) -> str:
    return WORKSPACE_DIR if spec.cwd == "." else f"{WORKSPACE_DIR}/{spec.cwd}"


def exec_argv(spec: RunSpec) -> list[str]:
    """``env`` sets exactly ``spec.env`` and the directory, ``prlimit`` the rlimits.

    Both are exec'd in turn, so the program is the exec's only process. The
    CPU rlimit is a per-process backstop (SIGXCPU at the limit rounded up,
    SIGKILL a second later); the summed CPU time is enforced from the cgroup.
    A missing ``cwd`` makes ``env`` exit 125 with a message, like a shell's
    failing ``cd``.
    """
    limits = spec.limits
    cpu_soft = max(1, math.ceil(limits.cpu_time_s))
    assignments = [f"{key}={value}" for key, value in spec.env.items()]
    return [
        ENV,
        "-i",
        f"--chdir={workdir(spec)}",
        "--",
        *assignments,
        PRLIMIT,
        f"--cpu={cpu_soft}:{cpu_soft + 1}",
        f"--fsize={limits.file_size_bytes}",
        f"--nofile={limits.open_files}",
        f"--stack={limits.stack_bytes}",
        "--core=0",
        "--",
        *spec.argv,
    ]
