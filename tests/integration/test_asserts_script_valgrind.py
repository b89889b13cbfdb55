"""The asserts, script and valgrind kinds on the real native sandbox, through ``grade``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.outcome import FailureCause, TestOutcome
from assay.grading.report import GradeReport, ReportStatus
from assay.sandbox.backends import get_backend
from helpers import require_backend

pytestmark = pytest.mark.native


def _package(root: Path, manifest: str, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "assignment.toml").write_text(textwrap.dedent(manifest))
    for rel, text in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def _grade(root: Path, submission: dict[str, str], environment: str = "python3") -> GradeReport:
    require_backend("native", environment)
    with load_package(root) as package:
        return grade(
            package, FileSet.from_mapping(submission), backend=get_backend("native"), seed=1
        )


def _by_name(report: GradeReport) -> dict[str, TestOutcome]:
    return {t.name: t for t in report.tests}


# -- Python asserts -------------------------------------------------------------------------
PY_MANIFEST = """
[assignment]
name = "py-asserts"
environment = "python3"

[[tests]]
name = "a"
kind = "asserts"
points = 5
limits = { cpu_time_s = 1, wall_time_s = 3 }
asserts = [
    "assert(square(3) == 9)",
    "assert(boom(1) == 1)",
    "assert(crash() == 0)",
    "assert(loop() == 1)",
    "assert square(4) == 16",
]
"""

PY_SOLUTION = """
import os

def square(x):
    return x * x

def boom(x):
    raise ValueError("no luck")

def crash():
    os.abort()

def loop():
    while True:
        pass
"""


def test_python_asserts_fail_one_by_one(tmp_path: Path) -> None:
    root = _package(tmp_path / "pkg", PY_MANIFEST)
    report = _grade(root, {"solution.py": PY_SOLUTION})
    tests = _by_name(report)
    assert report.status is ReportStatus.GRADED
    assert report.score == 2.0 and report.max_score == 5.0
    assert tests["a :: assert(square(3) == 9)"].status == "passed"
    assert tests["a :: assert square(4) == 16"].status == "passed"
    raised = tests["a :: assert(boom(1) == 1)"]
    assert raised.status == "failed"
    assert "boom(1) raised ValueError: no luck" in raised.message
    assert tests["a :: assert(crash() == 0)"].status == "crashed"
    assert tests["a :: assert(loop() == 1)"].status == "timeout"
    assert all(t.max_score == 1.0 for t in report.tests)


def test_python_wrong_value_shows_expected_and_actual(tmp_path: Path) -> None:
    root = _package(tmp_path / "pkg", PY_MANIFEST)
    report = _grade(root, {"solution.py": "def square(x):\n    return x + x\n"})
    wrong = _by_name(report)["a :: assert(square(3) == 9)"]
    assert wrong.status == "failed"
    assert (wrong.expected, wrong.actual) == ("9", "6")
    assert "square(3) is 6" in wrong.message
    # square(4) == 16 == 4 + 4? no: 8; every assert fails, and missing functions too
    assert report.score == 0.0


TAMPER_MANIFEST = """
[assignment]
name = "py-asserts-tamper"
environment = "python3"

[[tests]]
name = "t"
kind = "asserts"
points = 2
asserts = ["assert(square(3) == 9)", "assert(is_even(4))"]
"""


@pytest.mark.parametrize(
    "solution",
    [
        pytest.param("import os\nos._exit(0)\n", id="os-exit-at-import"),
        pytest.param("import sys\nsys.exit(0)\n", id="sys-exit-at-import"),
        pytest.param(
            "class Yes:\n"
            "    def __eq__(self, other):\n        return True\n"
            "    def __bool__(self):\n        return True\n"
            "def square(x):\n    return Yes()\n"
            "def is_even(x):\n    return Yes()\n",
            id="eq-always-true",
        ),
        pytest.param(
            "import os, sys\n"
            "def square(x):\n"
            '    print(\'{"values": [{"value": 9}], "nonce": "x"}\')\n'
            "    os._exit(0)\n"
            "def is_even(x):\n    os._exit(0)\n",
            id="fake-frame-then-exit",
        ),
    ],
)
def test_python_tampering_never_passes(tmp_path: Path, solution: str) -> None:
    root = _package(tmp_path / "pkg", TAMPER_MANIFEST)
    report = _grade(root, {"solution.py": solution})
    assert report.score == 0.0, [(t.name, t.status, t.message) for t in report.tests]
    assert all(t.status != "passed" for t in report.tests)


# -- C asserts ------------------------------------------------------------------------------
C_MANIFEST = """
[assignment]
name = "c-asserts"
environment = "c"

[build]
commands = [["gcc", "-c", "-o", "solution.o", "solution.c"]]

[[tests]]
name = "c"
kind = "asserts"
points = 5
asserts = [
    "assert(square(3) == 9);",
    "assert(segv(1) == 1)",
    "assert(square(2) == 4)",
    "assert(nosuch(1) == 2)",
    "assert(sneaky() == 1)",
]
"""

C_SOLUTION = """
#include <stdlib.h>

int square(int x) { return x * x; }

int segv(int x) { int *p = NULL; return *p + x; }

int sneaky(void) { exit(0); }

int main(void) { return 3; } /* the student's own main is renamed, not run */
"""


def test_c_asserts_one_crash_fails_one_assert(tmp_path: Path) -> None:
    root = _package(tmp_path / "pkg", C_MANIFEST)
    report = _grade(root, {"solution.c": C_SOLUTION}, "c")
    tests = _by_name(report)
    assert report.status is ReportStatus.GRADED, report.staff_error
    assert report.score == 2.0
    assert tests["c :: assert(square(3) == 9);"].status == "passed"
    assert tests["c :: assert(square(2) == 4)"].status == "passed"
    assert tests["c :: assert(segv(1) == 1)"].status == "crashed"
    missing = tests["c :: assert(nosuch(1) == 2)"]
    assert missing.status == "failed"
    assert "does not compile" in missing.message and "nosuch" in missing.message
    assert missing.cause is FailureCause.COMPILE  # typed, for callers (and never stored)
    assert "cause" not in report.model_dump(mode="json")["tests"][report.tests.index(missing)]
    sneaky = tests["c :: assert(sneaky() == 1)"]
    assert sneaky.status == "failed" and "exited with status 0" in sneaky.message
    assert sneaky.cause is None and tests["c :: assert(segv(1) == 1)"].cause is None


def test_cpp_asserts_with_a_header(tmp_path: Path) -> None:
    manifest = """
    [assignment]
    name = "cpp-asserts"
    environment = "cpp"

    [[tests]]
    name = "h"
    kind = "asserts"
    header = "tests/solution.h"
    points = 2
    asserts = ["assert(twice(4) == 8)", "assert(twice(1) == 3)"]
    """
    root = _package(tmp_path / "pkg", manifest, {"tests/solution.h": "int twice(int x);\n"})
    solution = "int twice(int x) { return 2 * x; }\nint main() { return 1; }\n"
    report = _grade(root, {"solution.cpp": solution}, "cpp")
    tests = _by_name(report)
    assert report.score == 1.0, [(t.name, t.status, t.message) for t in report.tests]
    assert tests["h :: assert(twice(1) == 3)"].message == "the assert is false"


# -- script -----------------------------------------------------------------------------------
SCRIPT_MANIFEST = """
[assignment]
name = "scripts"
environment = "python3"

[[tests]]
name = "tap"
kind = "script"
points = 10
command = ["sh", "{harness}/tap.sh"]
files = ["tests/tap.sh"]
results_file = "out/results.tap"

[[tests]]
name = "json-score"
kind = "script"
points = 2
command = ["python3", "{harness}/score.py"]
files = ["tests/score.py"]
results_file = "score.json"

[[tests]]
name = "json-tests"
kind = "script"
points = 4
command = ["python3", "{harness}/tests.py"]
files = ["tests/tests.py"]
results_file = "tests.json"

[[tests]]
name = "exit-0"
kind = "script"
command = ["sh", "-c", "python3 solution.py"]

[[tests]]
name = "exit-1"
kind = "script"
command = "sh -c 'exit 1'"

[[tests]]
name = "garbage"
kind = "script"
command = ["sh", "-c", "echo '{not json' > g.json"]
results_file = "g.json"

[[tests]]
name = "stale"
kind = "script"
command = ["true"]
results_file = "stale.json"
"""

SCRIPT_FILES = {
    "tests/tap.sh": """
        mkdir -p out
        {
          echo "TAP version 13"
          echo "1..5"
          echo "ok 1 - first"
          echo "ok 2 - second"
          echo "not ok 3 - third"
          echo "ok 4 - fourth # SKIP not today"
        } > out/results.tap
        exit 1
    """,
    "tests/score.py": """
        import json
        json.dump({"score": 3, "max_score": 4, "message": "three of four"}, open("score.json", "w"))
    """,
    "tests/tests.py": """
        import json
        tests = [{"name": f"t{i}", "passed": i != 2, "message": "" if i != 2 else "off by one"}
                 for i in range(4)]
        json.dump({"tests": tests}, open("tests.json", "w"))
    """,
}


def test_script_results(tmp_path: Path) -> None:
    root = _package(tmp_path / "pkg", SCRIPT_MANIFEST, SCRIPT_FILES)
    submission = {"solution.py": "print('hi')\n", "stale.json": '{"score": 1, "max_score": 1}'}
    report = _grade(root, submission)
    tests = _by_name(report)
    assert report.status is ReportStatus.GRADED, report.staff_error
    assert tests["tap"].score == 4.0 and tests["tap"].status == "failed"
    assert "failed: third" in tests["tap"].message
    assert "skipped: not today" in tests["tap"].message
    assert "missing from the TAP output" in tests["tap"].message
    assert tests["json-score"].score == 1.5
    assert "three of four" in tests["json-score"].message
    assert tests["json-tests"].score == 3.0 and "off by one" in tests["json-tests"].message
    assert tests["exit-0"].status == "passed" and tests["exit-0"].score == 1.0
    assert "hi" in tests["exit-0"].output
    assert tests["exit-1"].status == "failed"
    assert "not valid JSON" in tests["garbage"].message
    assert tests["stale"].score == 0.0 and "empty" in tests["stale"].message
    assert report.score == 4.0 + 1.5 + 3.0 + 1.0


# -- valgrind ---------------------------------------------------------------------------------
VG_MANIFEST = """
[assignment]
name = "valgrind"
environment = "c"

[build]
commands = [
    ["gcc", "-g", "-O0", "-o", "leak", "leak.c"],
    ["gcc", "-g", "-O0", "-o", "invalid", "invalid.c"],
    ["gcc", "-g", "-O0", "-o", "clean", "clean.c"],
    ["gcc", "-g", "-O0", "-o", "segv", "segv.c"],
]

[[tests]]
name = "segv"
kind = "valgrind"
command = ["./segv"]

[[tests]]
name = "leak"
kind = "valgrind"
command = ["./leak"]

[[tests]]
name = "leak-allowed"
kind = "valgrind"
command = ["./leak"]
leaks = false

[[tests]]
name = "invalid"
kind = "valgrind"
command = ["./invalid"]

[[tests]]
name = "clean"
kind = "valgrind"
command = ["./clean"]
expected = "9\\n"

[[tests]]
name = "clean-wrong-output"
kind = "valgrind"
command = ["./clean"]
expected = "10\\n"
"""

FIXTURES = Path(__file__).parent.parent / "fixtures" / "valgrind"


def test_valgrind_findings(tmp_path: Path) -> None:
    root = _package(tmp_path / "pkg", VG_MANIFEST)
    names = ("leak", "invalid", "clean", "segv")
    submission = {f"{n}.c": (FIXTURES / f"{n}.c").read_text() for n in names}
    report = _grade(root, submission, "c")
    tests = _by_name(report)
    assert report.status is ReportStatus.GRADED, report.staff_error
    leak = tests["leak"]
    assert leak.status == "failed"
    assert {(f.kind, f.bytes, f.file, f.line) for f in leak.findings} == {
        ("Leak_DefinitelyLost", 32, "leak.c", 6),
        ("Leak_IndirectlyLost", 16, "leak.c", 6),  # leak_kinds: definite,indirect (default)
        ("Leak_DefinitelyLost", 100, "leak.c", 15),
    }
    assert "100 bytes in 1 blocks are definitely lost" in leak.message
    assert tests["leak-allowed"].status == "passed"
    invalid = tests["invalid"]
    assert invalid.status == "failed"
    kinds = [(f.kind, f.file, f.line) for f in invalid.findings]
    assert ("InvalidRead", "invalid.c", 7) in kinds
    assert ("InvalidWrite", "invalid.c", 8) in kinds
    assert tests["clean"].status == "passed" and tests["clean"].score == 1.0
    assert (tests["clean"].expected, tests["clean"].actual) == (None, None)
    wrong = tests["clean-wrong-output"]
    assert wrong.status == "failed" and "wrong output" in wrong.message
    assert (wrong.expected, wrong.actual) == ("10\n", "9\n")  # shown because they differ
    segv = tests["segv"]
    assert segv.status == "crashed"
    assert segv.message == "crashed: killed by SIGSEGV at segv.c:6"
    assert [(f.kind, f.line) for f in segv.findings] == [("InvalidRead", 6)]
    assert report.score == 2.0


def test_valgrind_report_cannot_be_forged_through_fd_3(tmp_path: Path) -> None:
    manifest = """
    [assignment]
    name = "valgrind-forge"
    environment = "c"

    [build]
    commands = [["gcc", "-g", "-o", "prog", "prog.c"]]

    [run]
    command = ["./prog"]

    [[tests]]
    name = "forge"
    kind = "valgrind"
    """
    forger = r"""
    #include <stdlib.h>
    #include <string.h>
    #include <unistd.h>
    int main(void) {
        char *p = malloc(64);
        p[0] = 1;
        const char *hide = "<!-- ";
        write(3, hide, strlen(hide));
        return 0;
    }
    """
    root = _package(tmp_path / "pkg", manifest)
    report = _grade(root, {"prog.c": textwrap.dedent(forger)}, "c")
    test = report.tests[0]
    assert test.status == "failed" and report.score == 0.0
    assert "incomplete or unreadable" in test.message
