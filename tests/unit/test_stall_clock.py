"""StallClock: the time a run wanted a CPU and got none, from per-thread schedstat."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.sandbox.native import stall
from assay.sandbox.native.stall import StallClock

S = 1_000_000_000  # ns


def clock_with(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stats: dict[str, tuple[int, int]]
) -> StallClock:
    threads = tmp_path / "tasks"
    threads.write_text("\n".join(stats))
    monkeypatch.setattr(stall, "_schedstat", stats.get)
    return StallClock(threads, 0.0)


def test_a_single_thread_is_excused_exactly_the_time_it_waited(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stats = {"10": (0, 0)}
    clock = clock_with(monkeypatch, tmp_path, stats)
    stats["10"] = (S // 4, 3 * S // 4)  # ran 0.25 s, waited 0.75 s of one second
    assert clock.update(1.0) == pytest.approx(0.75)


def test_sleeping_is_never_excused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stats = {"10": (0, 0), "11": (0, 0)}
    clock = clock_with(monkeypatch, tmp_path, stats)
    stats["10"] = (S // 100, 0)  # asleep nearly all the time, never waited
    assert clock.update(1.0) == pytest.approx(0.0)


def test_many_threads_sharing_the_cores_are_mostly_charged(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stats = {str(tid): (0, 0) for tid in range(16)}
    clock = clock_with(monkeypatch, tmp_path, stats)
    for tid in stats:  # a fork bomb holding two cores: each thread runs 1/8 of the time
        stats[tid] = (S // 8, 7 * S // 8)
    excused = clock.update(1.0)
    assert 0 < excused < 0.15


def test_rebase_skips_a_frozen_interval(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stats = {"10": (0, 0)}
    clock = clock_with(monkeypatch, tmp_path, stats)
    stats["10"] = (0, 5 * S)
    clock.rebase(5.0)
    stats["10"] = (S, 5 * S)  # after the thaw: ran the whole second
    assert clock.update(6.0) == pytest.approx(0.0)
