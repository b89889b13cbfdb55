"""The cluster-scale benchmark's parts that its figures rest on (bench/cluster_scale.py):
the sleeping sandbox backend gives each kind of program its verdict through the real
grading engine, and the arrival is an exam's deadline rush with students who wait
before they submit again."""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from assay.files.fileset import FileSet  # noqa: E402
from assay.grading.engine import grade  # noqa: E402
from assay.grading.loader import load_package  # noqa: E402
from cluster_scale import SOURCES, arrival_times, percentile, plan_arrivals  # noqa: E402
from sleep_backend import SleepBackend  # noqa: E402

ASSIGNMENT = BENCH / "flood_assignment"


@pytest.mark.parametrize(
    ("kind", "status", "score"),
    [("correct", "passed", 1.0), ("wrong", "failed", 0.0), ("loop", "timeout", 0.0)],
)
def test_the_sleeping_backend_gives_each_kind_its_verdict(
    kind: str, status: str, score: float
) -> None:
    backend = SleepBackend(median_s=0.05, sigma=0.1, seed=1)
    started = time.monotonic()
    with load_package(ASSIGNMENT) as package:
        report = grade(package, FileSet.from_mapping({"add.py": SOURCES[kind]}), backend=backend)
    took = time.monotonic() - started
    assert report.status == "graded"
    assert [test.status.value for test in report.tests] == [status]
    assert report.score == score
    # the run slept: a loop its whole wall-clock limit (3 s), the others about 0.05 s
    assert took >= (3.0 if kind == "loop" else 0.03)
    assert not backend.sessions  # a long benchmark keeps no workspaces


def test_drawn_durations_are_log_normal_below_the_wall_clock_limit() -> None:
    backend = SleepBackend(median_s=0.5, sigma=0.8, seed=3)
    drawn = [backend.draw_s(3.0) for _ in range(4000)]
    assert 0.4 < percentile(drawn, 50) < 0.6
    assert max(drawn) <= 2.7
    assert sum(d > 2.0 for d in drawn) > 20  # a tail of slow runs


def test_the_arrival_rises_to_its_peak_at_the_end() -> None:
    times = arrival_times(6000, 600.0, 0.1, random.Random(5))
    assert len(times) == 6000
    assert times == sorted(times)
    assert times[0] >= 0
    assert times[-1] < 600
    first, last = sum(t < 60 for t in times), sum(t >= 540 for t in times)
    # rate ~ 0.1 + 0.9 t^2: the last minute about 8 times the first
    assert 6 * first < last < 12 * first


def test_students_wait_before_they_submit_again_except_a_few() -> None:
    args = argparse.Namespace(
        submissions=3000, minutes=5.0, base_share=0.1, students=750, think_s=30.0,
        resubmit_share=0.02, servers=2, mix={"correct": 0.8, "wrong": 0.15, "loop": 0.05},
    )  # fmt: skip
    arrivals = plan_arrivals(args, random.Random(9))
    last: dict[int, float] = {}
    quick = 0
    for arrival in arrivals:
        if arrival.due - last.get(arrival.student, -1e9) < args.think_s:
            quick += 1
        last[arrival.student] = arrival.due
    assert 0 < quick < 0.05 * len(arrivals)
    assert {a.server for a in arrivals} == {0, 1}
    kinds = [a.kind for a in arrivals]
    assert 0.75 < kinds.count("correct") / len(kinds) < 0.85
