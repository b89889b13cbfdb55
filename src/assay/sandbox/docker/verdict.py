"""Pure decisions of a Docker run: the user and the command line that applies the rlimits.

The verdict itself is backend-neutral: ``assay.sandbox.verdict``.
"""

from __future__ import annotations

import math

from assay.sandbox.docker.constants import SANDBOX_UID, WORKSPACE_DIR
from assay.sandbox.spec import RunSpec

ENV = "/usr/bin/env"
PRLIMIT = "/usr/bin/prlimit"


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
