"""A drop-in replacement for autograder-sandbox 6.x (``autograder_sandbox``) on Assay.

Switch by changing the import::

    from assay.compat.autograder_sandbox import AutograderSandbox

Commands run in an Assay sandbox session (``native``: bubblewrap and cgroups,
or ``docker``) instead of a container the library manages. What maps to what:

- ``memory_limit`` and ``pids_limit`` (defaults ``SANDBOX_MEM_LIMIT``, "4g",
  and ``SANDBOX_PIDS_LIMIT``, 512) become the session's memory and process
  limits, enforced per command by the kernel (cgroups).
- ``timeout`` limits wall-clock and CPU time. A command that exceeds it is
  killed with all its processes: ``timed_out`` is true, ``return_code`` None.
  Without ``timeout`` a command gets one hour.
- ``truncate_stdout``/``truncate_stderr`` keep that many bytes of the stream
  while the command runs on; without them a stream keeps 64 MiB.
- ``max_virtual_memory`` tightens the memory limit of that command: Assay has
  no address-space limit, and the cgroup memory limit is the closest
  kernel-enforced equivalent. ``max_stack_size`` is the stack limit.
- ``block_process_spawn`` runs the command with RLIMIT_NPROC 0 (through
  ``/usr/bin/prlimit``, which execs it in place), as 6.x did: ``fork`` and
  thread creation fail with ``EAGAIN``.
- A command killed by signal N (including the SIGKILL of the memory limit, as
  the OOM killer in 6.x) reports ``return_code`` 256 - N, as 6.x's runner
  did: 247 for SIGKILL, 245 for SIGSEGV. ``run_result`` on the returned
  ``CompletedCommand`` holds Assay's full verdict.
- The working directory is the workspace, ``SANDBOX_WORKING_DIR_NAME``
  (``/work`` here, not ``/home/autograder/working_dir``); relative paths
  resolve there. ``environment_variables`` are added to the environment's
  own; nothing comes from the host.

``cpu_core_limit`` and the container timeouts are accepted and not used;
``restart()`` keeps the files and has nothing to kill. See
``docs/compat-autograder-sandbox.md``.
"""

from __future__ import annotations

from typing import Any

from assay.compat.autograder_sandbox import defaults
from assay.compat.autograder_sandbox.command import CompletedCommand
from assay.compat.autograder_sandbox.defaults import (
    SANDBOX_HOME_DIR_NAME,
    SANDBOX_USERNAME,
    SANDBOX_WORKING_DIR_NAME,
)
from assay.compat.autograder_sandbox.errors import (
    CriticalSandboxError,
    SandboxCommandError,
    SandboxError,
    SandboxNotDestroyed,
    SandboxNotStopped,
)
from assay.compat.autograder_sandbox.sandbox import AutograderSandbox

VERSION = "6.0.0"
"""The autograder-sandbox API version this module provides."""
__version__ = VERSION

_DEFAULTS = {
    "SANDBOX_DOCKER_IMAGE": defaults.docker_image,
    "SANDBOX_PIDS_LIMIT": defaults.pids_limit,
    "SANDBOX_MEM_LIMIT": defaults.memory_limit,
    "SANDBOX_CPU_CORE_LIMIT": defaults.cpu_core_limit,
}


def __getattr__(name: str) -> Any:
    """``SANDBOX_DOCKER_IMAGE`` and the other defaults, read from the environment on use."""
    try:
        return _DEFAULTS[name]()
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


__all__ = [
    "SANDBOX_DOCKER_IMAGE",
    "SANDBOX_HOME_DIR_NAME",
    "SANDBOX_USERNAME",
    "SANDBOX_WORKING_DIR_NAME",
    "VERSION",
    "AutograderSandbox",
    "CompletedCommand",
    "CriticalSandboxError",
    "SandboxCommandError",
    "SandboxError",
    "SandboxNotDestroyed",
    "SandboxNotStopped",
]
