"""The student-tests kind on the real native sandbox.

The student's tests run on the example package's reference ``plates.py`` and its four
mutants (examples/assignments/python-student-tests). What is checked: scores for
catching mutants, the reference requirement (tests that fail there, or collect
nothing, count nothing), unittest as well as pytest, a timeout per run, a fresh
workspace per run, and that students see a mutant's hint but never its code.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from assay.errors import PackageError
from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.outcome import TestStatus
from assay.grading.report import GradeReport, ReportStatus
from assay.sandbox.backends import get_backend
from helpers import require_backend

pytestmark = pytest.mark.native

EXAMPLE = Path(__file__).resolve().parents[2] / "examples/assignments/python-student-tests"
MUTANTS = ["leading-zero", "letters-after-digits", "punctuation", "too-long"]
GOOD_PYTEST = (EXAMPLE / "solution/test_plates.py").read_text()

GOOD_UNITTEST = """
import unittest

from plates import is_valid


class TestPlates(unittest.TestCase):
    def test_rules(self):
        self.assertFalse(is_valid("CS50000"))
        self.assertFalse(is_valid("CS50P"))
        self.assertFalse(is_valid("CS05"))
        self.assertTrue(is_valid("CS50"))

    def test_punctuation(self):
        self.assertFalse(is_valid("CS 50"))
"""


def _package(root: Path, extra: str = "", runner: str = "pytest", timeout: float = 15) -> Path:
    root.mkdir(parents=True)
    for part in ("reference", "mutants"):
        shutil.copytree(EXAMPLE / part, root / part)
    (root / "assignment.toml").write_text(
        textwrap.dedent(
            f"""
            [assignment]
            name = "plates-tests"
            environment = "python3"

            [[tests]]
            name = "mine"
            kind = "student-tests"
            points = 10
            student_tests = ["test_plates.py"]
            runner = "{runner}"
            reference_points = 2
            per_run_timeout_s = {timeout}
            """
        )
        + textwrap.dedent(extra)
    )
    return root


def _grade(root: Path, files: dict[str, str]) -> GradeReport:
    require_backend("native")
    report = grade(load_package(root), FileSet.from_mapping(files), backend=get_backend("native"))
    assert report.status is ReportStatus.GRADED, report.staff_error
    return report


def _statuses(report: GradeReport) -> dict[str, TestStatus]:
    return {t.name.removeprefix("mine :: "): t.status for t in report.tests}


@pytest.mark.parametrize(
    ("runner", "tests"), [("pytest", GOOD_PYTEST), ("unittest", GOOD_UNITTEST)]
)
def test_good_tests_catch_every_mutant(tmp_path: Path, runner: str, tests: str) -> None:
    report = _grade(_package(tmp_path / "p", runner=runner), {"test_plates.py": tests})
    assert [t.name for t in report.tests] == [
        "mine :: your tests pass on the reference",
        *(f"mine :: mutant {m}" for m in MUTANTS),
    ]
    assert report.score == report.max_score == 10.0
    assert [t.max_score for t in report.tests] == [2.0, 2.0, 2.0, 2.0, 2.0]


def test_a_mutant_not_caught_shows_its_hint_never_its_code(tmp_path: Path) -> None:
    # no length test (too-long is not caught); the module's code as an assertion message
    leaky = GOOD_PYTEST.replace("def test_length", "def _off") + textwrap.dedent(
        """

        def test_leak():
            import plates
            assert not is_valid("CS50P"), open(plates.__file__).read()
        """
    )
    report = _grade(_package(tmp_path / "p"), {"test_plates.py": leaky})
    statuses = _statuses(report)
    assert statuses["mutant too-long"] is TestStatus.FAILED
    assert statuses["mutant letters-after-digits"] is TestStatus.PASSED
    row = next(t for t in report.tests if t.name.endswith("too-long"))
    assert row.message == (
        "not caught: your tests pass on this wrong implementation. "
        "Hint: plates may be at most 6 characters long"
    )
    assert report.score == 8.0
    for t in report.tests:  # students see neither output nor code; staff do
        assert "def is_valid" not in t.message + t.output
    caught = next(t for t in report.tests if t.name.endswith("letters-after-digits"))
    assert caught.message == "caught: your tests fail on this wrong implementation"
    assert "def is_valid" in (caught.staff_detail or "")


@pytest.mark.parametrize(
    ("tests", "why"),
    [
        (GOOD_PYTEST + '\n\ndef test_wrong():\n    assert is_valid("CS05")\n', "failed"),
        (
            "from plates import is_valid\n\n\ndef helper():\n    assert is_valid('CS50')\n",
            "no tests",
        ),
        ("", "no tests"),
        ("import plates\n\n\ndef test_hang():\n    while True:\n        pass\n", "did not finish"),
    ],
)
def test_tests_that_fail_on_the_reference_or_do_nothing_count_nothing(
    tmp_path: Path, tests: str, why: str
) -> None:
    report = _grade(_package(tmp_path / "p", timeout=3), {"test_plates.py": tests})
    assert report.score == 0.0
    reference = report.tests[0]
    hung = why == "did not finish"
    assert reference.status is (TestStatus.TIMEOUT if hung else TestStatus.FAILED)
    assert why in reference.message
    for row in report.tests[1:]:
        assert row.status is TestStatus.SKIPPED
        assert row.message == "not run: your tests must pass on the reference first"


def test_unittest_with_no_test_cases_counts_nothing(tmp_path: Path) -> None:
    tests = "import unittest\n\nfrom plates import is_valid\n"
    report = _grade(_package(tmp_path / "p", runner="unittest"), {"test_plates.py": tests})
    assert report.score == 0.0
    assert "no tests" in report.tests[0].message


def test_each_run_gets_a_fresh_workspace(tmp_path: Path) -> None:
    # fails if any earlier run left its marker: with a shared workspace every run but the
    # first would fail and look like a caught mutant
    tests = textwrap.dedent(
        """
        import os

        from plates import is_valid


        def test_marker():
            assert not os.path.exists("marker")
            with open("marker", "w") as file:
                file.write("x")
            assert is_valid("CS50")
        """
    )
    report = _grade(_package(tmp_path / "p"), {"test_plates.py": tests})
    assert report.tests[0].status is TestStatus.PASSED
    assert report.score == 2.0  # nothing caught


def test_a_mutant_the_tests_hang_on_is_caught_after_the_run_timeout(tmp_path: Path) -> None:
    root = _package(tmp_path / "p", timeout=3)
    for name in MUTANTS[1:]:  # two mutants are enough here: leading-zero and loops
        shutil.rmtree(root / "mutants" / name)
    (root / "mutants/loops").mkdir()
    (root / "mutants/loops/plates.py").write_text(
        "def is_valid(text):\n    while True:\n        pass\n"
    )
    report = _grade(root, {"test_plates.py": GOOD_PYTEST})
    loops = next(t for t in report.tests if t.name == "mine :: mutant loops")
    assert loops.status is TestStatus.PASSED
    assert report.score == report.max_score == 10.0
    assert "time" in (loops.staff_detail or "")


def test_a_missing_test_file_fails_every_row(tmp_path: Path) -> None:
    report = _grade(_package(tmp_path / "p"), {"plates.py": "def is_valid(s):\n    return True\n"})
    assert report.score == 0.0
    assert all("test_plates.py is missing" in t.message for t in report.tests)


@pytest.mark.parametrize(
    ("setup", "extra", "words"),
    [
        (lambda root: shutil.rmtree(root / "mutants"), "", "mutants"),
        (lambda root: (root / "mutants/too-long/other.py").write_text("x = 1\n"), "", "other.py"),
        (lambda root: (root / "mutants/bad name").mkdir(), "", "a mutant's name"),
        (lambda root: None, "", ""),
    ],
)
def test_package_errors(tmp_path: Path, setup, extra: str, words: str) -> None:  # type: ignore[no-untyped-def]
    root = _package(tmp_path / "p", extra)
    setup(root)
    if not words:
        load_package(root)
        return
    with pytest.raises(PackageError, match=words):
        load_package(root)


def test_the_example_package_loads_with_its_four_mutants() -> None:
    package = load_package(EXAMPLE)
    assert package.max_score == 10.0
    assert sorted(p.name for p in (EXAMPLE / "mutants").iterdir()) == MUTANTS
    assert [b.path for b in package.spec.known_bad] == [
        "bad/catch-nothing",
        "bad/fails-reference",
        "bad/no-tests",
        "bad/half",
    ]


def test_reference_points_above_the_entry_are_refused(tmp_path: Path) -> None:
    root = _package(tmp_path / "p")
    manifest = root / "assignment.toml"
    manifest.write_text(
        manifest.read_text().replace("reference_points = 2", "reference_points = 11")
    )
    with pytest.raises(PackageError, match="reference_points"):
        load_package(root)
