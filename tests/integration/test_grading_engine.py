"""The engine on the real native sandbox: overlapping test runs, hooks, limits per test."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.outcome import TestStatus
from assay.grading.report import ReportStatus
from assay.sandbox import Sandbox
from assay.sandbox.backends import get_backend
from helpers import require_backend

pytestmark = pytest.mark.native

PROGRAM = """
import json, sys, time
start = time.monotonic()
data = sys.stdin.read()
time.sleep(0.3)
print(json.dumps({"in": data.strip(), "start": start, "end": time.monotonic()}))
"""


@pytest.fixture(autouse=True)
def _native() -> None:
    require_backend("native")


def test_runs_of_one_session_may_overlap_and_are_measured_apart() -> None:
    results = []
    with Sandbox("python3", backend="native") as box:
        assert box.concurrent_runs
        box.write_file("p.py", PROGRAM.encode())

        def one(i: int) -> None:
            results.append(box.run(["python3", "p.py"], stdin=str(i).encode()))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    spans = [json.loads(r.stdout) for r in results]
    assert sorted(s["in"] for s in spans) == ["0", "1"]
    first, second = sorted(spans, key=lambda s: s["start"])
    assert second["start"] < first["end"], "the two runs did not overlap"
    for result in results:
        assert result.ok
        assert result.cpu_time_s < 0.25  # each run's own CPU, not the pair's


def test_io_tests_run_concurrently_keep_their_order_and_verdicts(tmp_path: Path) -> None:
    tests = "".join(
        f'[[tests]]\nname = "t{i}"\nstdin = "{i}"\nexpected = "{i * 2}"\n' for i in range(6)
    )
    manifest = (
        '[assignment]\nname = "double"\n[run]\ncommand = ["python3", "d.py"]\n'
        "[limits]\ncpu_time_s = 2\n" + tests
    )
    (tmp_path / "assignment.toml").write_text(manifest)
    wrong_on_odd = "n = int(input())\nprint(n * 2 if n % 2 == 0 else n)\n"
    with load_package(tmp_path) as package:
        report = grade(
            package, FileSet.from_mapping({"d.py": wrong_on_odd}), backend=get_backend("native")
        )
    assert report.status is ReportStatus.GRADED
    assert [t.name for t in report.tests] == [f"t{i}" for i in range(6)]
    assert [t.status for t in report.tests] == [
        TestStatus.PASSED if i % 2 == 0 else TestStatus.FAILED for i in range(6)
    ]
    assert report.score == 3


def test_per_test_limits_apply(tmp_path: Path) -> None:
    manifest = """
[assignment]
name = "limits"
[run]
command = ["python3", "spin.py"]
[limits]
cpu_time_s = 5
wall_time_s = 10
[[tests]]
name = "tight"
stdin = "x"
expected = "done"
limits = { cpu_time_s = 0.3 }
[[tests]]
name = "memory"
stdin = "mem"
expected = "done"
limits = { memory = "32M" }
"""
    (tmp_path / "assignment.toml").write_text(manifest)
    spin = (
        "import sys\nmode = sys.stdin.read()\n"
        "if mode == 'mem':\n    blob = bytearray(64 * 1024 * 1024)\n"
        "else:\n    n = 0\n    for i in range(30_000_000): n += i\n"
        "print('done')\n"
    )
    with load_package(tmp_path) as package:
        report = grade(
            package, FileSet.from_mapping({"spin.py": spin}), backend=get_backend("native")
        )
    rows = {t.name: t for t in report.tests}
    assert rows["tight"].status is TestStatus.TIMEOUT
    assert rows["memory"].status is TestStatus.MEMORY_LIMIT
    assert report.score == 0
    assert report.status is ReportStatus.GRADED


HOOKS = """
from assay.grading.hooks import run_student, test


@test("runs in the sandbox", points=3)
def isolated(result):
    run = run_student("id -u; cat /etc/shadow 2>&1 | head -1; echo $HOME")
    lines = run.stdout.decode().split()
    result.passed = lines[0] != "0" and "/work" in lines
    result.output = run.stdout.decode()
"""


def test_hook_run_student_goes_through_the_sandbox(tmp_path: Path) -> None:
    (tmp_path / "assignment.toml").write_text('[assignment]\nname = "hooks"\n')
    (tmp_path / "grader.py").write_text(HOOKS)
    with load_package(tmp_path) as package:
        report = grade(package, FileSet.from_mapping({"a.py": ""}), backend=get_backend("native"))
    [row] = report.tests
    assert row.status is TestStatus.PASSED, row.output
    assert report.score == 3
