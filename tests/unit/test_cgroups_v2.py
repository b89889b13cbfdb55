"""cgroup v2 logic against a simulated cgroupfs (this CI host runs v1, where
the memory controller cannot also be attached to a v2 hierarchy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.errors import SandboxUnavailableError
from assay.sandbox.native import cgroups
from assay.sandbox.native.cgroups import JobLimits, V2Driver, V2JobCgroup


def _fake_root(tmp_path: Path, controllers: str = "cpuset cpu io memory pids") -> Path:
    root = tmp_path / "cg"
    root.mkdir()
    (root / "cgroup.controllers").write_text(controllers + "\n")
    (root / "cgroup.procs").write_text("")
    (root / "cgroup.subtree_control").write_text("")
    return root


def test_v2_parent_enables_controllers_for_the_job_subtree(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    jobs = cgroups._v2_parent(root, "/")
    assert jobs == root / "assay"
    assert (root / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert (jobs / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"


def test_v2_parent_without_memory_controller_says_how_to_fix(tmp_path: Path) -> None:
    root = _fake_root(tmp_path, "cpu pids")
    with pytest.raises(SandboxUnavailableError) as info:
        cgroups._v2_parent(root, "/")
    assert "memory" in info.value.message
    assert info.value.fix and "Delegate" in info.value.fix


def test_v2_job_limits_and_accounting(tmp_path: Path) -> None:
    parent = tmp_path / "jobs"
    parent.mkdir()
    job = V2Driver(parent).create("job-1")
    assert isinstance(job, V2JobCgroup)
    job.set_limits(JobLimits(memory_bytes=64 << 20, pids=16))
    d = parent / "job-1"
    assert (d / "memory.max").read_text() == str(64 << 20)
    assert (d / "pids.max").read_text() == "16"
    assert job.procs_files == [d / "cgroup.procs"]
    (d / "cpu.stat").write_text("usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n")
    (d / "memory.peak").write_text("12345678\n")
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    (d / "cgroup.procs").write_text("")
    assert job.cpu_time_ns() == 1_500_000_000
    assert job.peak_memory_bytes() == 12345678
    assert job.oom_kills() == 1
    assert job.pids() == []


def test_v2_kill_uses_cgroup_kill(tmp_path: Path) -> None:
    d = tmp_path / "job"
    d.mkdir()
    (d / "cgroup.kill").write_text("")
    (d / "cgroup.procs").write_text("")
    V2JobCgroup("job", d).kill_all()
    assert (d / "cgroup.kill").read_text() == "1"


def test_mountinfo_parsing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(
        "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
        "31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "32 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    )
    real_path = cgroups.Path

    def fake_path(arg: str) -> Path:
        return info if arg == "/proc/self/mountinfo" else real_path(arg)

    monkeypatch.setattr(cgroups, "Path", fake_path)
    mounts = cgroups._mounts()
    assert mounts[""] == Path("/sys/fs/cgroup")
    assert mounts["memory"] == Path("/sys/fs/cgroup/memory")
    assert mounts["cpuacct"] == Path("/sys/fs/cgroup/cpu,cpuacct")


def test_v1_limits_keep_memory_below_memory_plus_swap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assay.sandbox.native.cgroups import V1JobCgroup

    dirs = {c: tmp_path / c for c in ("memory", "pids", "cpuacct", "freezer")}
    for d in dirs.values():
        d.mkdir()
    memory = dirs["memory"]
    job = V1JobCgroup("job", dirs)
    job.has_memsw = True
    writes: list[str] = []
    real_write = cgroups._write

    def recording_write(path: Path, value: str) -> None:
        writes.append(path.name)
        real_write(path, value)

    monkeypatch.setattr(cgroups, "_write", recording_write)
    (memory / "memory.memsw.limit_in_bytes").write_text("9223372036854771712")
    job.set_limits(JobLimits(memory_bytes=64 << 20, pids=8))  # lowering from unlimited
    assert writes[:2] == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
    writes.clear()
    job.set_limits(JobLimits(memory_bytes=256 << 20, pids=8))  # raising
    assert writes[:2] == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
    assert (memory / "memory.limit_in_bytes").read_text() == str(256 << 20)
    assert (dirs["pids"] / "pids.max").read_text() == "8"
