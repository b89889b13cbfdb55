"""Sandboxes left behind by processes that died (a worker killed with SIGKILL).

A native sandbox is named after the process that made it: workspaces are
``STATE_DIR/sandboxes/<pid>-<random>`` and job cgroups ``job-<pid>-<n>`` below
the cgroup parent. When ``<pid>`` no longer exists on this host, nobody will
close them: the student's processes may still run (nobody enforces their time
limit any more) and the tmpfs still holds memory. This is the watchdog's stale
sandbox checker (WebLab's "stale container checker"), through the backend's
``remove_stale`` (every dead pid) and ``remove_leftovers`` (a worker declared
dead): kill what is left in those cgroups, remove them, unmount and delete the
workspaces.

Only this host's sandboxes below this process's cgroup parent and in its state
directory are visible; workers that share a host should share
``ASSAY_CGROUP_PARENT`` (or be started from the same cgroup, the default) and
``ASSAY_STATE_DIR`` so each can clean up after the others.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from assay.config import Settings
from assay.errors import SandboxError, SandboxUnavailableError
from assay.sandbox.native.cgroups import CgroupDriver, detect_driver
from assay.sandbox.native.slots import JOB_PREFIX
from assay.sandbox.native.workspace import remove_stale
from assay.sandbox.owner import SandboxOwner, this_process


def _owner_alive(pid: str) -> bool:
    """True unless ``pid`` names a process that is gone (non-pids: not ours, keep)."""
    return not pid.isdigit() or Path(f"/proc/{pid}").exists()


def remove_stale_sandboxes(settings: Settings, pid: int | None = None) -> list[str]:
    """Remove this host's sandboxes whose owning process is gone (only those of ``pid``
    if given); returns what went."""
    if os.geteuid() != 0:
        return []  # the native backend needs root; without it there is nothing of ours
    removed: list[str] = []
    with contextlib.suppress(SandboxUnavailableError):
        # processes first: they may still be using a workspace
        removed += _remove_stale_cgroups(detect_driver(settings.cgroup_parent), pid)
    workspaces = settings.state_dir / "sandboxes"
    if workspaces.is_dir():
        removed += [str(path) for path in remove_stale(workspaces, pid)]
    return removed


def remove_leftovers(settings: Settings, owner: SandboxOwner) -> list[str]:
    """What ``owner``, a dead process of this host, left: its job cgroups (their
    processes killed first) and workspaces. Nothing if ``owner`` is another host's,
    this process, or a pid alive here (perhaps a new process's: only the pid names
    a native sandbox)."""
    if owner == this_process() or not owner.on_this_host:
        return []
    return remove_stale_sandboxes(settings, owner.pid)


def kill_own_sandboxes(settings: Settings) -> list[str]:
    """Kill the processes in this process's job cgroups (``BwrapBackend.kill_own``);
    the cgroups stay for their runs (or the next sweep) to remove."""
    if os.geteuid() != 0:
        return []
    try:
        driver = detect_driver(settings.cgroup_parent)
    except SandboxUnavailableError:
        return []
    killed = []
    mine = f"{JOB_PREFIX}-{os.getpid()}-"
    for name in driver.job_names():
        if not name.startswith(mine):
            continue
        job = driver.open(name)
        with contextlib.suppress(SandboxError, OSError):
            if job.pids():
                job.kill_all()
                killed.append(f"cgroup {name}")
    return killed


def _remove_stale_cgroups(driver: CgroupDriver, pid: int | None) -> list[str]:
    removed = []
    for name in driver.job_names():
        prefix, _, rest = name.partition("-")
        owner = rest.partition("-")[0]
        if prefix != JOB_PREFIX or (pid is not None and owner != str(pid)) or _owner_alive(owner):
            continue
        job = driver.open(name)
        with contextlib.suppress(SandboxError, OSError):
            if job.pids():
                job.kill_all()
            job.remove()
            removed.append(f"cgroup {name}")
    return removed
