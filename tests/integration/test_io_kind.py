"""The io kind on the real native sandbox, through ``grade``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.outcome import TestOutcome
from assay.grading.report import GradeReport, ReportStatus
from assay.sandbox.backends import get_backend
from helpers import require_backend

pytestmark = pytest.mark.native

MANIFEST = """
[assignment]
name = "io-integration"
environment = "python3"

[run]
command = ["python3", "main.py"]

[[tests]]
name = "sum"
stdin = "1 2\\n"
expected = "3\\n"

[[tests]]
name = "sum-file"
stdin_file = "tests/2.in"
expected_file = "tests/2.ans"
points = 2

[[tests]]
name = "args-and-files"
args = ["copy", "data.txt", "out.txt"]
input_files = { "data.txt" = "tests/data.txt" }
output_files = { "out.txt" = "tests/data.txt" }

[[tests]]
name = "slow"
stdin = "sleep\\n"
expected = "slept\\n"
limits = { cpu_time_s = 1, wall_time_s = 2 }

[[tests]]
name = "exit-3"
stdin = "exit\\n"
exit_code = 3

[[tests]]
name = "custom"
stdin = "10\\n"
expected = "ten\\n"
checker = { type = "custom", program = "checkers/check.py", args = ["strict"] }

[[tests]]
name = "custom-c"
stdin = "10\\n"
expected = "ten\\n"
checker = { type = "custom", program = "checkers/check.c" }
"""

CHECK_PY = """
import sys
inp, ans, feedback = sys.argv[1:4]
assert sys.argv[4:] == ["strict"], sys.argv
got = sys.stdin.read()
if "checker-crash" in got:
    raise SystemExit(1)
want = open(ans).read()
if got.split() == want.split() and open(inp).read() == "10\\n":
    sys.exit(42)
with open(feedback + "judgemessage.txt", "w") as f:
    f.write("wanted " + want.strip() + ", not " + got.strip())
sys.exit(43)
"""

CHECK_C = """
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    char got[64] = {0}, want[64] = {0}, path[512];
    FILE *ans = fopen(argv[2], "r");
    if (!ans || fscanf(ans, "%63s", want) != 1) return 1;
    if (scanf("%63s", got) == 1 && strcmp(got, want) == 0) return 42;
    snprintf(path, sizeof path, "%s/judgemessage.txt", argv[3]);
    FILE *msg = fopen(path, "w");
    if (msg) { fprintf(msg, "C checker: expected %s", want); fclose(msg); }
    return 43;
}
"""

GOOD = """
import shutil, sys, time
if len(sys.argv) > 1 and sys.argv[1] == "copy":
    shutil.copy(sys.argv[2], sys.argv[3])
    sys.exit(0)
line = input()
if line == "sleep":
    print("slept")
elif line == "exit":
    sys.exit(3)
elif line == "10":
    print("ten")
else:
    print(sum(map(int, line.split())))
"""


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("io-package")
    files = {
        "assignment.toml": MANIFEST,
        "tests/2.in": "20 22\n",
        "tests/2.ans": "42\n",
        "tests/data.txt": "line one\nline two\n",
        "checkers/check.py": CHECK_PY,
        "checkers/check.c": CHECK_C,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    return root


def run(package_dir: Path, main_py: str) -> GradeReport:
    require_backend("native")
    with load_package(package_dir) as package:
        return grade(
            package, FileSet.from_mapping({"main.py": main_py}), backend=get_backend("native")
        )


def by_name(report: GradeReport) -> dict[str, TestOutcome]:
    return {t.name: t for t in report.tests}


def test_a_correct_program_gets_full_marks(package_dir: Path) -> None:
    report = run(package_dir, GOOD)
    tests = by_name(report)
    assert report.status is ReportStatus.GRADED, report.staff_error
    assert {n: t.status.value for n, t in tests.items()} == dict.fromkeys(tests, "passed")
    assert report.score == report.max_score == 8.0
    assert tests["sum"].expected == "3\n" and tests["sum"].actual == "3\n"
    assert tests["sum"].timing.wall_s > 0
    assert tests["sum"].timing.peak_memory_bytes > 0


def test_wrong_answers_fail_with_a_pointed_message(package_dir: Path) -> None:
    wrong = GOOD.replace(
        "print(sum(map(int, line.split())))", "print(sum(map(int, line.split())) + 1)"
    )
    wrong = wrong.replace('print("ten")', 'print("eleven")')
    wrong = wrong.replace(
        "shutil.copy(sys.argv[2], sys.argv[3])", "open(sys.argv[3], 'w').write('x')"
    )
    report = run(package_dir, wrong)
    tests = by_name(report)
    assert report.status is ReportStatus.GRADED, report.staff_error
    assert tests["sum"].status.value == "failed"
    assert tests["sum"].message == "line 1: expected '3', got '4'"
    assert tests["sum"].actual == "4\n"
    assert tests["sum-file"].message == "line 1: expected '42', got '43'"
    assert tests["args-and-files"].status.value == "failed"
    assert tests["args-and-files"].message.startswith("out.txt: line 1: expected 'line one'")
    assert tests["args-and-files"].actual == "x"
    assert tests["custom"].status.value == "failed"
    assert tests["custom"].message == "wanted ten, not eleven"
    assert tests["custom-c"].message == "C checker: expected ten"
    assert report.score == 2.0  # slow and exit-3 still pass


def test_crash_timeout_and_exit_codes(package_dir: Path) -> None:
    crashing = GOOD.replace("line = input()", "line = input()\nif line != 'exit': 1 / 0")
    crashing = crashing.replace("sys.exit(3)", "sys.exit(0)")
    report = run(package_dir, crashing)
    tests = by_name(report)
    assert report.status is ReportStatus.GRADED, report.staff_error
    assert tests["sum"].status.value == "crashed"
    assert tests["sum"].message.startswith("exited with status 1")
    assert "ZeroDivisionError" in tests["sum"].message
    assert "ZeroDivisionError" in tests["sum"].output
    assert tests["exit-3"].status.value == "failed"
    assert tests["exit-3"].message == "expected exit status 3, got 0"
    assert tests["args-and-files"].status.value == "passed"

    looping = GOOD.replace('print("slept")', "while True: pass")
    tests = by_name(run(package_dir, looping))
    assert tests["slow"].status.value == "timeout"
    assert "time limit" in tests["slow"].message
    assert tests["slow"].score == 0.0


def test_missing_output_file_and_stale_files_do_not_count(package_dir: Path) -> None:
    # out.txt comes with the submission, already right; the program never writes it
    lazy = GOOD.replace("shutil.copy(sys.argv[2], sys.argv[3])", "pass")
    require_backend("native")
    with load_package(package_dir) as package:
        submission = FileSet.from_mapping({"main.py": lazy, "out.txt": "line one\nline two\n"})
        report = grade(package, submission, backend=get_backend("native"))
    test = by_name(report)["args-and-files"]
    assert test.status.value == "failed"
    assert test.message == (
        "your program did not write the file out.txt "
        "(or it is not a regular file of at most 16 MiB)"
    )


def test_a_failing_checker_is_an_error_not_the_students_fault(package_dir: Path) -> None:
    report = run(package_dir, GOOD.replace('print("ten")', 'print("checker-crash")'))
    test = by_name(report)["custom"]
    assert test.status.value == "error"
    assert "not because of your submission" in test.message
    assert "exited with status 1" in (test.staff_detail or "")
    assert report.status is ReportStatus.ERROR
    assert "staff_detail" not in report.student_view().model_dump(exclude_none=True)["tests"][0]


def test_a_checker_that_does_not_compile_is_an_error(package_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "pkg"
    broken.mkdir()
    manifest = MANIFEST.split("[[tests]]", maxsplit=1)[0] + textwrap.dedent(
        """
        [[tests]]
        name = "c"
        stdin = "10\\n"
        expected = "ten\\n"
        checker = { type = "custom", program = "checkers/check.c" }
        """
    )
    (broken / "assignment.toml").write_text(manifest)
    (broken / "checkers").mkdir()
    (broken / "checkers" / "check.c").write_text("int main( {")
    report = run(broken, GOOD)
    test = report.tests[0]
    assert test.status.value == "error"
    assert "does not compile" in (test.staff_detail or "")
    assert report.status is ReportStatus.ERROR
