"""How the resource options of autograder-sandbox map onto Assay ``Limits``."""

from __future__ import annotations

from collections.abc import Sequence

from assay.sandbox.spec import MIB, Limits

NO_TIMEOUT_S = 3600.0
"""The time limit of commands run without ``timeout`` (6.x had none)."""

DEFAULT_OUTPUT_CAP_BYTES = 64 * MIB
"""Output kept per stream when no ``truncate_*`` size is given (6.x kept all)."""

MIN_MEMORY_BYTES = 4 * MIB
"""The smallest memory limit Assay accepts; smaller ``max_virtual_memory`` is raised to it."""


NO_SPAWN_PREFIX = ("/usr/bin/prlimit", "--nproc=0:0", "--")
"""Runs a command with RLIMIT_NPROC 0, as 6.x's ``block_process_spawn`` did.

Not a pids limit of 1: a backend's own processes (bubblewrap's, for one)
share the run's pids cgroup, so how many a command may start on top of them
differs between backends. ``prlimit`` (util-linux, Essential in Debian) execs
the command in place, so it adds no process.
"""


def without_process_spawn(argv: Sequence[str]) -> list[str]:
    """``argv`` made unable to fork or start threads (non-root users; 6.x: same)."""
    return [*NO_SPAWN_PREFIX, *argv]


def session_limits(base: Limits, *, memory_bytes: int, pids: int) -> Limits:
    """Container-level limits: ``memory_limit`` and ``pids_limit`` of the constructor."""
    return base.replace(memory_bytes=max(memory_bytes, MIN_MEMORY_BYTES), pids=pids)


def output_cap(truncate_stdout: int | None, truncate_stderr: int | None) -> int:
    """One cap for both streams: large enough for each stream's own size."""
    sizes = [
        DEFAULT_OUTPUT_CAP_BYTES if t is None else t for t in (truncate_stdout, truncate_stderr)
    ]
    return max(1, *sizes)


def run_limits(
    base: Limits,
    *,
    timeout: float | None,
    max_stack_size: int | None,
    max_virtual_memory: int | None,
    truncate_stdout: int | None,
    truncate_stderr: int | None,
) -> Limits:
    """The limits of one ``run_command``.

    ``timeout`` bounds wall-clock and CPU time; ``max_virtual_memory``
    tightens the memory (cgroup) limit, Assay's closest kernel-enforced
    equivalent of an address-space limit.
    """
    if timeout is not None and timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    for name, value in (
        ("max_stack_size", max_stack_size),
        ("truncate_stdout", truncate_stdout),
        ("truncate_stderr", truncate_stderr),
        ("max_virtual_memory", max_virtual_memory),
    ):
        if value is not None and value < 0:
            raise ValueError(f"{name} must not be negative, got {value!r}")
    time_s = NO_TIMEOUT_S if timeout is None else float(timeout)
    memory = base.memory_bytes
    if max_virtual_memory is not None:
        memory = max(MIN_MEMORY_BYTES, min(memory, max_virtual_memory))
    return base.replace(
        cpu_time_s=time_s,
        wall_time_s=time_s,
        memory_bytes=memory,
        stack_bytes=max_stack_size,
        output_bytes=output_cap(truncate_stdout, truncate_stderr),
    )
