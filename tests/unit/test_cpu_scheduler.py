"""The native backend's CPU scheduler, with a fake clock and fake cgroups (no kernel)."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import pytest

from assay.sandbox.native.cgroups import JobLimits, V1JobCgroup, V2JobCgroup
from assay.sandbox.native.scheduler import (
    MAX_LEVEL,
    CpuScheduler,
    RunState,
    Ticket,
    available_memory_bytes,
    level_of,
)
from assay.sandbox.native.supervisor import CPU_POLL_S, MAX_POLL_S, poll_interval

MIB = 1 << 20


def RUNNABLE() -> bool:  # noqa: N802 - a constant-like stand-in
    return True


class FakeCgroup(V2JobCgroup):
    """A v2 job cgroup in a temporary directory: records freezes and thaws."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir()
        super().__init__(directory.name, directory)
        self.history: list[bool] = []

    def set_frozen(self, frozen: bool) -> None:
        super().set_frozen(frozen)
        self.history.append(frozen)

    @property
    def frozen(self) -> bool:
        return (self.dir / "cgroup.freeze").read_text() == "1"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def scheduler(cores: int = 1, memory: int | None = None) -> tuple[CpuScheduler, Clock]:
    clock = Clock()
    return CpuScheduler(cores, 0.05, clock=clock, memory=lambda: memory), clock


def start(sched: CpuScheduler, tmp_path: Path, name: str) -> tuple[Ticket, FakeCgroup]:
    ticket = sched.admit(64 * MIB)
    cgroup = FakeCgroup(tmp_path / name)
    sched.attach(ticket, cgroup)
    return ticket, cgroup


def admit_in_thread(sched: CpuScheduler) -> tuple[threading.Thread, list[Ticket]]:
    got: list[Ticket] = []
    thread = threading.Thread(target=lambda: got.append(sched.admit(64 * MIB)), daemon=True)
    thread.start()
    return thread, got


def wait_for_waiting(sched: CpuScheduler, count: int) -> None:
    for _ in range(500):
        if sched.stats().waiting == count:
            return
        threading.Event().wait(0.002)
    raise AssertionError(f"never {count} waiting: {sched.stats()}")


def test_levels_double_from_the_quantum_and_stop_at_the_last() -> None:
    assert [level_of(cpu, 0.05) for cpu in (0, 0.049, 0.05, 0.099, 0.1, 0.2, 0.39)] == [
        0,
        0,
        1,
        1,
        2,
        3,
        3,
    ]
    assert level_of(0.4, 0.05) == MAX_LEVEL
    assert level_of(100.0, 0.05) == MAX_LEVEL


def test_a_fresh_run_overtakes_a_long_one_which_is_frozen_and_not_charged(tmp_path: Path) -> None:
    sched, clock = scheduler(cores=1)
    long_run, long_cg = start(sched, tmp_path, "long")
    sched.report(long_run, 0.3, RUNNABLE)  # level 3
    thread, got = admit_in_thread(sched)
    thread.join(2)
    assert got, "the fresh run waited behind a long one"
    assert long_run.state is RunState.FROZEN
    assert long_cg.frozen
    clock.now += 2.0  # the fresh run runs for 2 s; the long one stands still
    assert sched.paused_s(long_run) == pytest.approx(2.0)
    sched.leave(got[0])
    assert long_run.state is RunState.RUNNING
    assert not long_cg.frozen
    clock.now += 1.0
    assert sched.paused_s(long_run) == pytest.approx(2.0)  # running again: charged
    assert long_cg.history == [True, False]


def test_a_new_run_waits_behind_an_equally_fresh_one(tmp_path: Path) -> None:
    sched, _ = scheduler(cores=1)
    first, first_cg = start(sched, tmp_path, "first")
    thread, got = admit_in_thread(sched)
    wait_for_waiting(sched, 1)
    assert not got
    assert not first_cg.history  # never preempted by a run of the same level
    sched.leave(first)
    thread.join(2)
    assert got and got[0].state is RunState.RUNNING


def test_a_run_that_uses_more_cpu_gives_way_to_a_waiting_fresh_one(tmp_path: Path) -> None:
    sched, _ = scheduler(cores=1)
    first, first_cg = start(sched, tmp_path, "first")
    thread, got = admit_in_thread(sched)
    wait_for_waiting(sched, 1)
    sched.report(first, 0.06, RUNNABLE)  # past the quantum: level 1 < the waiting run's level 0
    thread.join(2)
    assert got and first.state is RunState.FROZEN and first_cg.frozen


def test_in_the_last_level_the_oldest_runs_first(tmp_path: Path) -> None:
    sched, _ = scheduler(cores=1)
    old, old_cg = start(sched, tmp_path, "old")
    sched.report(old, 5.0, RUNNABLE)
    young_thread, young = admit_in_thread(sched)
    young_thread.join(2)
    assert old.state is RunState.FROZEN
    sched.report(young[0], 0.9, RUNNABLE)  # last level too, but younger: the old one resumes
    assert old.state is RunState.RUNNING and not old_cg.frozen
    assert young[0].state is RunState.FROZEN


def test_within_a_level_an_older_sessions_run_goes_before_a_newer_sessions(
    tmp_path: Path,
) -> None:
    """A submission's second test, started after a newer submission's first test was
    queued, still goes first: the order is by session (group), then by run."""
    sched, _ = scheduler(cores=1)
    busy, _busy_cg = start(sched, tmp_path, "busy")  # holds the core meanwhile
    older, newer = sched.new_group(), sched.new_group()
    order: list[str] = []

    def admit(name: str, group: int) -> threading.Thread:
        def run() -> None:
            sched.admit(64 * MIB, group)
            order.append(name)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    first = admit("newer submission, test 1", newer)
    wait_for_waiting(sched, 1)
    second = admit("older submission, test 2", older)
    wait_for_waiting(sched, 2)
    sched.leave(busy)
    for thread in (first, second):
        thread.join(0.2)
    assert order == ["older submission, test 2"]  # one core: the other still waits
    ticket = next(t for t in sched._tickets.values() if t.state is RunState.RUNNING)
    sched.leave(ticket)
    first.join(2)
    assert order == ["older submission, test 2", "newer submission, test 1"]


def test_an_idle_run_gives_its_core_back_but_is_never_frozen(tmp_path: Path) -> None:
    sched, clock = scheduler(cores=1)
    sleeper, sleeper_cg = start(sched, tmp_path, "sleeper")
    clock.now += 0.5
    sched.report(sleeper, 0.001, lambda: True)  # little CPU, but starved: not idle
    assert not sleeper.idle
    clock.now += 0.5
    sched.report(sleeper, 0.002, lambda: False)  # little CPU and asleep: idle
    assert sleeper.idle
    thread, got = admit_in_thread(sched)
    thread.join(2)
    assert got, "an idle run kept its core"
    sched.report(got[0], 0.3, RUNNABLE)
    assert sleeper.state is RunState.RUNNING and not sleeper_cg.history


def test_a_run_preempted_before_its_cgroup_exists_starts_frozen(tmp_path: Path) -> None:
    sched, _ = scheduler(cores=1)
    long_run = sched.admit(64 * MIB)
    sched.report(long_run, 0.3, RUNNABLE)
    thread, _ = admit_in_thread(sched)
    thread.join(2)
    assert long_run.state is RunState.FROZEN
    cgroup = FakeCgroup(tmp_path / "late")
    sched.attach(long_run, cgroup)
    assert cgroup.frozen


def test_leaving_thaws_a_frozen_run_and_is_idempotent(tmp_path: Path) -> None:
    sched, _ = scheduler(cores=1)
    long_run, long_cg = start(sched, tmp_path, "long")
    sched.report(long_run, 0.3, RUNNABLE)
    thread, _ = admit_in_thread(sched)
    thread.join(2)
    sched.leave(long_run)
    sched.leave(long_run)
    assert not long_cg.frozen and long_run.state is RunState.DONE
    assert sched.stats().running == 1


def test_a_run_waits_for_memory_while_others_run(tmp_path: Path) -> None:
    sched, _ = scheduler(cores=2, memory=32 * MIB)  # less than the 64 MiB asked for
    first = sched.admit(64 * MIB)  # nothing else runs: admitted anyway
    thread, got = admit_in_thread(sched)
    wait_for_waiting(sched, 1)
    assert not got
    sched.leave(first)
    thread.join(2)
    assert got


def test_available_memory_from_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  2048 kB\nMemAvailable:   1024 kB\n")
    assert available_memory_bytes(meminfo) == 1024 * 1024
    meminfo.write_text("MemTotal:  2048 kB\n")
    assert available_memory_bytes(meminfo) is None


def test_freezing_writes_the_v1_and_v2_files(tmp_path: Path) -> None:
    v2 = tmp_path / "v2"
    v2.mkdir()
    job = V2JobCgroup("job", v2)
    job.set_frozen(True)
    assert (v2 / "cgroup.freeze").read_text() == "1"
    job.set_frozen(False)
    assert (v2 / "cgroup.freeze").read_text() == "0"
    dirs = {c: tmp_path / c for c in ("memory", "pids", "cpuacct", "freezer")}
    for directory in dirs.values():
        directory.mkdir()
    v1 = V1JobCgroup("job", dirs)
    v1.set_frozen(True)
    assert (dirs["freezer"] / "freezer.state").read_text() == "FROZEN"
    v1.set_frozen(False)
    assert (dirs["freezer"] / "freezer.state").read_text() == "THAWED"
    v1.set_limits(JobLimits(64 * MIB, 8))  # unaffected by the freezer
    assert (dirs["pids"] / "pids.max").read_text() == "8"


def test_runnable_reads_the_state_of_every_thread(tmp_path: Path) -> None:
    v2 = tmp_path / "v2"
    v2.mkdir()
    job = V2JobCgroup("job", v2)
    (v2 / "cgroup.threads").write_text("")
    assert not job.runnable()
    (v2 / "cgroup.threads").write_text(f"{threading.get_native_id()}\n")
    assert job.runnable()  # this very thread is running while it asks


def test_the_next_level_is_where_the_cpu_used_doubles_past_the_quantum() -> None:
    scheduler = CpuScheduler(cores=2, quantum_s=0.05)
    assert scheduler.next_level_at(0.0) == pytest.approx(0.05)
    assert scheduler.next_level_at(0.07) == pytest.approx(0.1)
    assert scheduler.next_level_at(0.39) == pytest.approx(0.4)
    assert scheduler.next_level_at(0.4) == float("inf")  # the last level
    for cpu_s in (0.0, 0.05, 0.099, 0.1, 0.3):
        assert level_of(scheduler.next_level_at(cpu_s), 0.05) == level_of(cpu_s, 0.05) + 1


def test_a_run_is_polled_before_it_could_reach_its_limit_or_next_level() -> None:
    # 0.6 s of CPU to go on 2 cores: not before 0.3 s, but never later than MAX_POLL_S.
    assert poll_interval(0.4, [1.0, math.inf], cores=2) == MAX_POLL_S
    # close to the limit: at the time the run could reach it using every core
    assert poll_interval(0.9, [1.0], cores=2) == pytest.approx(0.05)
    # closer still: the shortest interval; nothing ahead: the longest
    assert poll_interval(0.999, [1.0], cores=2) == CPU_POLL_S
    assert poll_interval(0.5, [0.4, math.inf], cores=2) == MAX_POLL_S
    # the nearest mark counts (a level at 0.1 s before the limit at 1 s)
    assert poll_interval(0.06, [1.0, 0.1], cores=1) == pytest.approx(0.04)
