"""Job cgroups on cgroup v1 and v2: limits, accounting, and killing a whole tree.

Each run gets a fresh cgroup (one per controller on v1) below a parent that
is, by default, a child of this process's own cgroup, so a worker's own
limits still bound its sandboxes. The launcher joins the cgroup before it
execs bubblewrap (by writing ``0`` to pre-opened ``cgroup.procs`` files), so
nothing of the run ever lives outside it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from assay.errors import SandboxError, SandboxUnavailableError

CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpuacct", "freezer")
# Joined when mounted: each job's cgroup then gets an equal CPU share however
# many processes it runs, so a fork bomb cannot starve its neighbours.
V1_OPTIONAL = ("cpu",)
V2_CONTROLLERS = ("memory", "pids", "cpu")
PARENT_NAME = "assay"


@dataclass(frozen=True)
class JobLimits:
    memory_bytes: int
    pids: int


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as exc:
        raise SandboxError(f"cannot write {value!r} to {path}: {exc.strerror}") from exc


def _read_int(path: Path, default: int = 0) -> int:
    try:
        text = path.read_text().strip()
    except OSError:
        return default
    return default if text in ("", "max") else int(text)


def _read_keyed(path: Path, key: str) -> int:
    """A value from a ``key value`` file such as memory.events or cpu.stat."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


def _own_cgroup(controller: str | None) -> str:
    """This process's cgroup path in a hierarchy (``controller=None``: the v2 one)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        names = controllers.split(",") if controllers else []
        if (controller is None and not names) or (controller in names):
            return path
    raise SandboxUnavailableError(f"this process is in no {controller or 'v2'} cgroup")


def _wait_empty(procs_file: Path, timeout_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if not procs_file.read_text().strip():
                return True
        except OSError:
            return True
        time.sleep(0.002)
    return False


class JobCgroup(ABC):
    """The cgroup of one run."""

    def __init__(self, name: str, procs_files: list[Path]) -> None:
        self.name = name
        self.procs_files = procs_files
        """``cgroup.procs`` files; the launcher writes ``0`` to each to join."""

    @abstractmethod
    def cpu_time_ns(self) -> int: ...

    @abstractmethod
    def peak_memory_bytes(self) -> int: ...

    @abstractmethod
    def oom_kills(self) -> int: ...

    @abstractmethod
    def pids(self) -> list[int]: ...

    @abstractmethod
    def set_limits(self, limits: JobLimits) -> None:
        """Apply the run's limits (once, to a cgroup made without any)."""

    @abstractmethod
    def threads_file(self) -> Path:
        """The file listing the run's threads (every task, not only processes)."""

    def runnable(self) -> bool:
        """Whether a thread of the run is running or waiting for a CPU (state R) rather
        than sleeping: a run starved of CPU is not idle, however little it got."""
        try:
            tids = self.threads_file().read_text().split()
        except OSError:
            return False
        for tid in tids:
            try:
                stat = Path(f"/proc/{tid}/stat").read_text()
            except OSError:
                continue  # gone meanwhile
            if stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] == "R":
                return True
        return False

    @abstractmethod
    def set_frozen(self, frozen: bool) -> None:
        """Freeze (or thaw) every process of the run: the CPU scheduler's preemption."""

    @abstractmethod
    def kill_all(self) -> None:
        """SIGKILL every process, including daemonised and setsid children."""

    @abstractmethod
    def remove(self) -> None: ...


class CgroupDriver(ABC):
    version: int

    @abstractmethod
    def create(self, name: str) -> JobCgroup:
        """A new, empty job cgroup without limits (see ``JobCgroup.set_limits``)."""

    @abstractmethod
    def job_names(self) -> list[str]:
        """Names of the job cgroups below the parent (for stale cleanup)."""

    @abstractmethod
    def open(self, name: str) -> JobCgroup:
        """An existing job cgroup."""


# --------------------------------------------------------------------------- v1
class V1JobCgroup(JobCgroup):
    def __init__(self, name: str, dirs: dict[str, Path]) -> None:
        super().__init__(name, [d / "cgroup.procs" for d in dict.fromkeys(dirs.values())])
        self.dirs = dirs
        self.has_memsw = False

    def set_limits(self, limits: JobLimits) -> None:
        memory = self.dirs["memory"]
        files = ["memory.limit_in_bytes"]
        if self.has_memsw:
            # The memory limit may never exceed memory+swap's: when raising, that goes first.
            current = _read_int(memory / "memory.memsw.limit_in_bytes", default=-1)
            raising = 0 <= current < limits.memory_bytes
            files = (
                ["memory.memsw.limit_in_bytes", *files]
                if raising
                else [*files, "memory.memsw.limit_in_bytes"]
            )
        for name in files:
            _write(memory / name, str(limits.memory_bytes))
        _write(self.dirs["pids"] / "pids.max", str(limits.pids))

    def cpu_time_ns(self) -> int:
        return _read_int(self.dirs["cpuacct"] / "cpuacct.usage")

    def peak_memory_bytes(self) -> int:
        return _read_int(self.dirs["memory"] / "memory.max_usage_in_bytes")

    def oom_kills(self) -> int:
        kills = _read_keyed(self.dirs["memory"] / "memory.oom_control", "oom_kill")
        if kills:
            return kills
        # Kernels before 4.13 have no oom_kill counter; a failed charge with
        # the OOM killer enabled means it ran.
        return 1 if _read_int(self.dirs["memory"] / "memory.memsw.failcnt") else 0

    def pids(self) -> list[int]:
        try:
            text = (self.dirs["pids"] / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def threads_file(self) -> Path:
        return self.dirs["pids"] / "tasks"

    def set_frozen(self, frozen: bool) -> None:
        _write(self.dirs["freezer"] / "freezer.state", "FROZEN" if frozen else "THAWED")

    def kill_all(self) -> None:
        freezer = self.dirs["freezer"] / "freezer.state"
        _write(freezer, "FROZEN")
        deadline = time.monotonic() + 1.0
        while freezer.read_text().strip() != "FROZEN" and time.monotonic() < deadline:
            time.sleep(0.001)
        for _ in range(3):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        _write(freezer, "THAWED")
        _wait_empty(self.dirs["pids"] / "cgroup.procs")

    def remove(self) -> None:
        for directory in dict.fromkeys(self.dirs.values()):
            _rmdir(directory)


class V1Driver(CgroupDriver):
    version = 1

    def __init__(self, parents: dict[str, Path]) -> None:
        self.parents = parents
        memory = parents["memory"]
        self.has_memsw = (memory / "memory.memsw.limit_in_bytes").exists()

    def create(self, name: str) -> JobCgroup:
        job = self.open(name)
        unique = list(dict.fromkeys(job.dirs.values()))  # co-mounted controllers share one
        try:
            for directory in unique:
                directory.mkdir()
            with contextlib.suppress(SandboxError):
                _write(job.dirs["memory"] / "memory.swappiness", "0")
        except BaseException:
            job.remove()
            raise
        return job

    def open(self, name: str) -> V1JobCgroup:
        dirs = {controller: parent / name for controller, parent in self.parents.items()}
        job = V1JobCgroup(name, dirs)
        job.has_memsw = self.has_memsw
        return job

    def job_names(self) -> list[str]:
        return sorted(p.name for p in self.parents["pids"].iterdir() if p.is_dir())


# --------------------------------------------------------------------------- v2
class V2JobCgroup(JobCgroup):
    def __init__(self, name: str, directory: Path) -> None:
        super().__init__(name, [directory / "cgroup.procs"])
        self.dir = directory

    def cpu_time_ns(self) -> int:
        return _read_keyed(self.dir / "cpu.stat", "usage_usec") * 1000

    def peak_memory_bytes(self) -> int:
        return _read_int(self.dir / "memory.peak") or _read_int(self.dir / "memory.current")

    def oom_kills(self) -> int:
        return _read_keyed(self.dir / "memory.events", "oom_kill")

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.dir / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def set_limits(self, limits: JobLimits) -> None:
        _write(self.dir / "memory.max", str(limits.memory_bytes))
        if (self.dir / "memory.swap.max").exists():
            _write(self.dir / "memory.swap.max", "0")
        _write(self.dir / "pids.max", str(limits.pids))

    def threads_file(self) -> Path:
        return self.dir / "cgroup.threads"

    def set_frozen(self, frozen: bool) -> None:
        _write(self.dir / "cgroup.freeze", "1" if frozen else "0")

    def kill_all(self) -> None:
        kill_file = self.dir / "cgroup.kill"
        if kill_file.exists():
            _write(kill_file, "1")
        else:  # kernels before 5.14: freeze, kill each, thaw
            _write(self.dir / "cgroup.freeze", "1")
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            _write(self.dir / "cgroup.freeze", "0")
        _wait_empty(self.dir / "cgroup.procs")

    def remove(self) -> None:
        _rmdir(self.dir)


class V2Driver(CgroupDriver):
    version = 2

    def __init__(self, parent: Path) -> None:
        self.parent = parent

    def create(self, name: str) -> JobCgroup:
        job = self.open(name)
        job.dir.mkdir()
        return job

    def open(self, name: str) -> V2JobCgroup:
        return V2JobCgroup(name, self.parent / name)

    def job_names(self) -> list[str]:
        return sorted(p.name for p in self.parent.iterdir() if p.is_dir())


def _rmdir(directory: Path) -> None:
    for _ in range(50):
        try:
            directory.rmdir()
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise SandboxError(f"cannot remove cgroup {directory}: {exc.strerror}") from exc
            time.sleep(0.005)
        else:
            return
    raise SandboxError(f"cgroup {directory} is still busy")


# ----------------------------------------------------------------- detection
def _mounts() -> dict[str, Path]:
    """Mount points of cgroup hierarchies: controller name (or ``""`` for v2) -> path."""
    found: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype, _, super_opts = right.split(" ", 2)
        mount_point = Path(left.split(" ")[4])
        if fstype == "cgroup2":
            found.setdefault("", mount_point)
        elif fstype == "cgroup":
            for opt in super_opts.split(","):
                found.setdefault(opt, mount_point)
    return found


def _v2_parent(mount: Path, parent: str | None) -> Path:
    """A delegated v2 parent whose children may use memory, pids and cpu."""
    base = mount / (parent or _own_cgroup(None)).lstrip("/")
    enabled = (base / "cgroup.controllers").read_text().split()
    missing = [c for c in V2_CONTROLLERS if c not in enabled]
    if missing:
        raise SandboxUnavailableError(
            f"cgroup v2 controllers {missing} are not available in {base}",
            fix="delegate the memory, pids and cpu controllers to Assay's cgroup "
            "(systemd: Delegate=yes) or set ASSAY_CGROUP_PARENT",
        )
    jobs = base / PARENT_NAME
    if parent is None and (base / "cgroup.procs").read_text().strip():
        # "No internal processes": park this process's cgroup members in a leaf
        # so that controllers can be enabled for the job subtree.
        leaf = base / "assay-supervisor"
        leaf.mkdir(exist_ok=True)
        for pid in (base / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):
                _write(leaf / "cgroup.procs", pid)
    subtree = " ".join(f"+{c}" for c in V2_CONTROLLERS)
    _write(base / "cgroup.subtree_control", subtree)
    jobs.mkdir(exist_ok=True)
    _write(jobs / "cgroup.subtree_control", subtree)
    return jobs


def detect_driver(parent: str | None = None) -> CgroupDriver:
    """The cgroup driver for this host; raises with a fix-it message if none works."""
    mounts = _mounts()
    v1_ok = all(c in mounts for c in V1_CONTROLLERS)
    try:
        if v1_ok:
            parents = {}
            for controller in V1_CONTROLLERS + tuple(c for c in V1_OPTIONAL if c in mounts):
                own = parent or _own_cgroup(controller)
                path = mounts[controller] / own.lstrip("/") / PARENT_NAME
                path.mkdir(parents=True, exist_ok=True)
                parents[controller] = path
            return V1Driver(parents)
        if "" in mounts:
            return V2Driver(_v2_parent(mounts[""], parent))
    except PermissionError as exc:
        raise SandboxUnavailableError(
            f"cannot create cgroups: {exc}",
            fix="run Assay as root, or delegate a cgroup v2 subtree and set ASSAY_CGROUP_PARENT",
        ) from exc
    raise SandboxUnavailableError(
        "no usable cgroup hierarchy (need memory, pids, cpuacct and freezer on v1, or cgroup v2)",
        fix="mount cgroups (v2: mount -t cgroup2 none /sys/fs/cgroup)",
    )
