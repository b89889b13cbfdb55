"""Locating and reading a container's cgroup files (fake trees, no Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.sandbox.docker.cgroup_stats import (
    CgroupStats,
    files_for,
    parse_mounts,
    parse_proc_cgroup,
)

CID = "828126d89dfbb3fac3f4a0063cee1b7f960b16fba664212480c1cb0a41e963a0"

V1_PROC = f"""12:name=systemd:/docker/{CID}
8:pids:/docker/{CID}
6:freezer:/docker/{CID}
4:memory:/docker/{CID}
2:cpu,cpuacct:/docker/{CID}
0::/docker/{CID}
"""
V1_MOUNTS = """\
30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
31 25 0:27 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
32 25 0:28 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
33 25 0:29 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
34 25 0:30 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
V2_PROC = f"0::/system.slice/docker-{CID}.scope\n"
V2_MOUNTS = "25 1 0:22 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"


def test_parse_proc_cgroup_v1() -> None:
    paths = parse_proc_cgroup(V1_PROC)
    assert paths["cpuacct"] == paths["cpu"] == f"/docker/{CID}"
    assert paths["systemd"] == f"/docker/{CID}"
    assert paths[""] == f"/docker/{CID}"


def test_v1_files() -> None:
    files = files_for(parse_proc_cgroup(V1_PROC), parse_mounts(V1_MOUNTS))
    assert files is not None
    assert files.version == 1
    assert files.cpu_usage == Path(f"/sys/fs/cgroup/cpu,cpuacct/docker/{CID}/cpuacct.usage")
    assert files.memory_peak == Path(
        f"/sys/fs/cgroup/memory/docker/{CID}/memory.max_usage_in_bytes"
    )
    assert files.memory_events.name == "memory.oom_control"
    assert files.procs == Path(f"/sys/fs/cgroup/pids/docker/{CID}/cgroup.procs")
    assert files.freeze == Path(f"/sys/fs/cgroup/freezer/docker/{CID}/freezer.state")


def test_v2_files_systemd_driver() -> None:
    files = files_for(parse_proc_cgroup(V2_PROC), parse_mounts(V2_MOUNTS))
    assert files is not None
    base = Path(f"/sys/fs/cgroup/system.slice/docker-{CID}.scope")
    assert files.version == 2
    assert files.cpu_usage == base / "cpu.stat"
    assert files.memory_peak == base / "memory.peak"
    assert files.memory_events == base / "memory.events"
    assert files.freeze == base / "cgroup.freeze"


def test_no_usable_hierarchy() -> None:
    assert files_for({"": "/x"}, {}) is None


V1_FILES = {
    "cpuacct": {"cpuacct.usage": "1500000000\n"},
    "memory": {
        "memory.max_usage_in_bytes": "7340032\n",
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
        "memory.usage_in_bytes": "4096\n",
    },
    "pids": {"cgroup.procs": "12\n345\n"},
    "freezer": {"freezer.state": "THAWED\n"},
}
V2_FILES = {
    "cpu.stat": "usage_usec 2500000\nuser_usec 1\nsystem_usec 2\n",
    "memory.peak": "8192\n",
    "memory.events": "low 0\nhigh 0\nmax 4\noom 1\noom_kill 2\n",
    "memory.current": "4096\n",
    "cgroup.freeze": "0\n",
    "cgroup.events": "populated 1\nfrozen 0\n",
    "cgroup.procs": "12\n345\n",
}


def fake_tree(root: Path, version: int) -> CgroupStats:
    """A container cgroup "/box" under fake mounts of each hierarchy in ``root``."""
    if version == 1:
        mounts, proc = "", ""
        for controller, contents in V1_FILES.items():
            box = root / controller / "box"
            box.mkdir(parents=True)
            for name, text in contents.items():
                (box / name).write_text(text)
            mounts += f"1 1 0:1 / {root / controller} rw - cgroup cgroup rw,{controller}\n"
            proc += f"1:{controller}:/box\n"
    else:
        box = root / "box"
        box.mkdir(parents=True)
        for name, text in V2_FILES.items():
            (box / name).write_text(text)
        mounts, proc = f"1 1 0:1 / {root} rw - cgroup2 cgroup2 rw\n", "0::/box\n"
    files = files_for(parse_proc_cgroup(proc), parse_mounts(mounts))
    assert files is not None
    return CgroupStats(files)


@pytest.mark.parametrize("version", [1, 2])
def test_reads(tmp_path: Path, version: int) -> None:
    stats = fake_tree(tmp_path / "cg", version)
    assert stats.cpu_ns() == (1_500_000_000 if version == 1 else 2_500_000_000)
    assert stats.oom_kills() == (3 if version == 1 else 2)
    assert stats.procs() == {12, 345}
    assert stats.memory_current() == 4096
    assert stats.memory_peak() == (7340032 if version == 1 else 8192)


def test_v1_peak_reset_writes_zero(tmp_path: Path) -> None:
    stats = fake_tree(tmp_path / "cg", 1)
    assert stats.reset_peak()
    assert stats.files.memory_peak is not None
    assert stats.files.memory_peak.read_text() == "0"


def test_v2_peak_is_not_trusted_after_reset(tmp_path: Path) -> None:
    assert not fake_tree(tmp_path / "cg", 2).reset_peak()


@pytest.mark.parametrize("version", [1, 2])
def test_freeze_and_thaw(tmp_path: Path, version: int) -> None:
    stats = fake_tree(tmp_path / "cg", version)
    if version == 2:  # the kernel would report the frozen state
        stats.files.freeze.with_name("cgroup.events").write_text("populated 1\nfrozen 1\n")
    assert stats.freeze()
    assert stats.files.freeze.read_text() == ("FROZEN" if version == 1 else "1")
    stats.thaw()
    assert stats.files.freeze.read_text() == ("THAWED" if version == 1 else "0")
