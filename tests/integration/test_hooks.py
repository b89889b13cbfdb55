"""grader.py's hooks in their own sandbox, on every backend: build and test hooks,
partial credit, the hooks' failures kept ours (error, retried) and out of students' view."""

from __future__ import annotations

from pathlib import Path

from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.outcome import BuildStatus, TestStatus
from assay.grading.report import GradeReport, ReportStatus
from assay.sandbox.backends import get_backend

HOOKS = """
import os
from assay.grading.hooks import BuildResult, Limits, build, run_student, test


@build
def compile_it(result: BuildResult) -> None:
    run = run_student(["sh", "-c", "echo built > built.txt"])
    result.passed = run.ok
    result.log = "built\\n"


@test("says hello", points=2)
def hello(result):
    run = run_student(["python3", "hello.py"], stdin=b"world")
    result.passed = run.stdout == b"hello world\\n" and os.path.exists("/work/grader.py")
    result.message = "greeted" if result.passed else repr(run)


@test("sees the build", points=1)
def built(result):
    run = run_student("cat built.txt")
    result.passed = run.stdout == b"built\\n"


@test("half credit", points=4, visibility="hidden")
def half(result):
    result.passed = False
    result.score = 2


@test("per-run limits", points=1)
def limited(result):
    run = run_student(["python3", "-c", "while True: pass"], limits=Limits(cpu_time_s=0.5))
    result.passed = run.timed_out and run.cpu_time_s < 2


@test("slow", points=0)
def slow(result):
    import time
    time.sleep(0.5)
    result.passed = True


@test("broken hook", points=1)
def broken(result):
    raise RuntimeError("instructor bug")
"""

HELLO = "print('hello', input())\n"


def graded(tmp_path: Path, grader: str, backend: str, files: dict[str, str]) -> GradeReport:
    (tmp_path / "assignment.toml").write_text('[assignment]\nname = "hooks"\n')
    (tmp_path / "grader.py").write_text(grader)
    with load_package(tmp_path) as package:
        return grade(package, FileSet.from_mapping(files), backend=get_backend(backend))


def test_build_and_test_hooks_run_in_their_own_sandbox(tmp_path: Path, backend_name: str) -> None:
    report = graded(tmp_path, HOOKS, backend_name, {"hello.py": HELLO})
    assert report.build.status is BuildStatus.PASSED
    assert "built" in report.build.log
    rows = {t.name: t for t in report.tests}
    assert rows["says hello"].status is TestStatus.PASSED, rows["says hello"].message
    assert rows["sees the build"].status is TestStatus.PASSED
    assert (rows["half credit"].status, rows["half credit"].score) == (TestStatus.FAILED, 2)
    assert rows["per-run limits"].status is TestStatus.PASSED
    # each hook's own time, as the runner measured it
    assert rows["slow"].timing.wall_s >= 0.5 > rows["half credit"].timing.wall_s
    assert rows["broken hook"].status is TestStatus.ERROR
    assert "instructor bug" in (rows["broken hook"].staff_detail or "")
    assert report.score == 2 + 1 + 2 + 1
    # an instructor's bug is ours: retried, never recorded as the student's score
    assert report.status is ReportStatus.ERROR
    assert "instructor bug" not in report.student_view().model_dump_json()


def test_a_grader_py_that_cannot_be_imported_is_an_error_for_staff(
    tmp_path: Path, backend_name: str
) -> None:
    grader = "import no_such_module\n" + HOOKS
    report = graded(tmp_path, grader, backend_name, {"hello.py": HELLO})
    assert report.build.status is BuildStatus.ERROR
    assert "ModuleNotFoundError" in (report.staff_error or "")
    assert report.status is ReportStatus.ERROR
    assert "no_such_module" not in report.student_view().model_dump_json()


def test_a_runner_that_dies_fails_only_the_tests_it_did_not_report(
    tmp_path: Path, backend_name: str
) -> None:
    grader = (
        "import os\nfrom assay.grading.hooks import test\n"
        "@test('first')\ndef first(r):\n    r.passed = True\n"
        "@test('dies')\ndef dies(r):\n    print('about to die')\n    os._exit(3)\n"
        "@test('never')\ndef never(r):\n    r.passed = True\n"
    )
    report = graded(tmp_path, grader, backend_name, {"a.py": ""})
    rows = {t.name: t for t in report.tests}
    assert rows["first"].status is TestStatus.PASSED
    for name in ("dies", "never"):
        assert rows[name].status is TestStatus.ERROR
        detail = rows[name].staff_detail or ""
        assert "exited with status 3" in detail and "about to die" in detail, detail
    assert report.status is ReportStatus.ERROR
