"""A sandbox container's cgroup, read (and frozen) directly on the host.

Docker places each container in its own cgroup: with cgroup v1 one directory
per controller (``/sys/fs/cgroup/memory/docker/<id>``), with v2 a single one
(``/sys/fs/cgroup/system.slice/docker-<id>.scope`` with the systemd driver,
``/sys/fs/cgroup/docker/<id>`` with cgroupfs). The paths are taken from
``/proc/<init pid>/cgroup`` and the cgroup mounts of this host.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from assay.errors import SandboxError, SandboxUnavailableError

logger = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
FREEZE_TIMEOUT_S = 2.0
CGROUP_FIX = "run the worker on the Docker host, in the host's pid namespace, with /sys/fs/cgroup"


@dataclass(frozen=True)
class CgroupFiles:
    """The files of one container's cgroup(s) the backend uses."""

    version: int
    cpu_usage: Path  # v1 cpuacct.usage (ns); v2 cpu.stat (usage_usec)
    memory_current: Path
    memory_peak: Path | None  # v1 memory.max_usage_in_bytes; v2 memory.peak
    memory_events: Path  # v1 memory.oom_control; v2 memory.events (both: "oom_kill N")
    procs: Path
    freeze: Path  # v1 freezer.state; v2 cgroup.freeze


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """``/proc/<pid>/cgroup`` as controller -> path ("" is the v2 hierarchy)."""
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller.removeprefix("name=")] = path
    return paths


def parse_mounts(text: str) -> dict[str, Path]:
    """Cgroup mount points from ``/proc/self/mountinfo``: controller -> directory ("" is v2)."""
    mounts: dict[str, Path] = {}
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        mount_point, fstype, options = Path(fields[4]), tail[0], tail[2].split(",")
        if fstype == "cgroup2":
            mounts.setdefault("", mount_point)
        elif fstype == "cgroup":
            for option in options:
                mounts.setdefault(option.removeprefix("name="), mount_point)
    return mounts


def files_for(paths: Mapping[str, str], mounts: Mapping[str, Path]) -> CgroupFiles | None:
    """The container's files, given its cgroup paths and the host's mounts."""

    def v1(controller: str, name: str) -> Path | None:
        if controller not in paths or controller not in mounts:
            return None
        return mounts[controller] / paths[controller].lstrip("/") / name

    cpu, memory = v1("cpuacct", "cpuacct.usage"), v1("memory", "memory.usage_in_bytes")
    if cpu is not None and memory is not None:
        procs = v1("pids", "cgroup.procs") or memory.with_name("cgroup.procs")
        freeze = v1("freezer", "freezer.state")
        if freeze is None:
            return None
        return CgroupFiles(
            1,
            cpu,
            memory,
            memory.with_name("memory.max_usage_in_bytes"),
            memory.with_name("memory.oom_control"),
            procs,
            freeze,
        )
    if "" in paths and "" in mounts:
        base = mounts[""] / paths[""].lstrip("/")
        return CgroupFiles(
            2,
            base / "cpu.stat",
            base / "memory.current",
            base / "memory.peak",
            base / "memory.events",
            base / "cgroup.procs",
            base / "cgroup.freeze",
        )
    return None


@cache
def _host_mounts() -> dict[str, Path]:
    """This host's cgroup mounts (read once: they do not change under a worker)."""
    return parse_mounts(Path("/proc/self/mountinfo").read_text())


def locate(container_id: str, init_pid: int) -> CgroupFiles:
    """Find a running container's cgroup files; ``SandboxUnavailableError`` if unreadable."""
    try:
        paths = parse_proc_cgroup(Path(f"/proc/{init_pid}/cgroup").read_text())
        mounts = _host_mounts()
    except OSError as exc:
        raise SandboxUnavailableError(
            f"cannot read the cgroup of container {container_id[:12]}: {exc}", fix=CGROUP_FIX
        ) from exc
    files = files_for(paths, mounts)
    if files is None or not files.cpu_usage.exists() or container_id not in str(files.procs):
        raise SandboxUnavailableError(
            f"the cgroup files of container {container_id[:12]} were not found "
            f"(cgroups of its init: {paths})",
            fix=CGROUP_FIX,
        )
    return files


def _read_keyed(path: Path, key: str) -> int:
    for line in path.read_text().splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


class CgroupStats:
    """Reads of one container's cgroup. Errors mean the container is gone."""

    def __init__(self, files: CgroupFiles) -> None:
        self.files = files

    def _guard(self, what: str, exc: OSError) -> SandboxError:
        return SandboxError(f"cannot read the sandbox cgroup ({what}): {exc}")

    def cpu_ns(self) -> int:
        try:
            if self.files.version == 1:
                return int(self.files.cpu_usage.read_text())
            return _read_keyed(self.files.cpu_usage, "usage_usec") * 1000
        except OSError as exc:
            raise self._guard("CPU usage", exc) from exc

    def memory_current(self) -> int:
        try:
            return int(self.files.memory_current.read_text())
        except OSError as exc:
            raise self._guard("memory usage", exc) from exc

    def memory_peak(self) -> int | None:
        """The peak since the last ``reset_peak`` (None if the kernel keeps none)."""
        peak = self.files.memory_peak
        if peak is None:
            return None
        try:
            return int(peak.read_text())
        except (OSError, ValueError):
            return None

    def reset_peak(self) -> bool:
        """Restart peak tracking from the current usage; False if not permitted."""
        if self.files.memory_peak is None:
            return False
        try:
            # v1 resets on "0"; v2 (Linux 6.12+) resets on any write, for this opener only,
            # so on v2 only the sampled memory.current is relied on.
            self.files.memory_peak.write_text("0")
        except OSError:
            return False
        return self.files.version == 1

    def oom_kills(self) -> int:
        try:
            return _read_keyed(self.files.memory_events, "oom_kill")
        except OSError as exc:
            raise self._guard("OOM events", exc) from exc

    def procs(self) -> set[int]:
        """Host pids of the processes in the container."""
        try:
            return {int(p) for p in self.files.procs.read_text().split()}
        except OSError as exc:
            raise self._guard("processes", exc) from exc

    # -- freezing -------------------------------------------------------------------
    def _freeze_values(self) -> tuple[str, str, str]:
        if self.files.version == 1:
            return "FROZEN", "THAWED", "FROZEN"
        return "1", "0", "frozen 1"

    def freeze(self) -> bool:
        """Stop every process of the container; False if not permitted here."""
        frozen, _, done = self._freeze_values()
        try:
            self.files.freeze.write_text(frozen)
        except OSError as exc:
            logger.debug("cannot freeze %s: %s", self.files.freeze, exc)
            return False
        probe = (
            self.files.freeze
            if self.files.version == 1
            else (self.files.freeze.with_name("cgroup.events"))
        )
        deadline = time.monotonic() + FREEZE_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if done in probe.read_text():
                    return True
            except OSError:
                return True  # the container is gone; nothing left to freeze
            time.sleep(0.001)
        logger.warning("cgroup %s did not finish freezing", self.files.freeze)
        return True

    def thaw(self) -> None:
        _, thawed, _ = self._freeze_values()
        try:
            self.files.freeze.write_text(thawed)
        except OSError as exc:
            logger.debug("cannot thaw %s: %s", self.files.freeze, exc)


def protect_from_oom(pids: set[int]) -> None:
    """Best effort: keep the OOM killer away from the container's idle processes.

    Lowering ``oom_score_adj`` needs CAP_SYS_RESOURCE on the host. Without it
    the idle processes are still unlikely victims: the OOM killer takes the
    largest process, and they are the smallest.
    """
    for pid in pids:
        try:
            Path(f"/proc/{pid}/oom_score_adj").write_text("-1000")
        except OSError as exc:
            logger.debug("cannot protect pid %d from the OOM killer: %s", pid, exc)
            return
