"""python-unittest and pytest kinds on the real native sandbox, with tampering submissions.

Each package has 4 spec tests worth 1 point each (4 points). Three of them
end in an unconditional assertion and so get a complement; the fourth
(``test_loop``) ends inside a loop and has none. Every tampering submission
is graded for its exact score; none may get full marks, and those that make
an assertion pass whatever it compares are flagged ``tampered``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from assay.grading.engine import grade
from assay.grading.outcome import TestStatus
from assay.grading.package import load_package
from assay.grading.report import GradeReport, ReportStatus
from assay.grading.submission import Submission
from helpers import require_backend

pytestmark = pytest.mark.native

UNITTEST_SPEC = '''
import unittest

from solution import add, parity


class TestAdd(unittest.TestCase):
    def test_small(self):
        self.assertEqual(add(1, 2), 3)

    def test_negative(self):
        """Negative numbers."""
        text = """a multi-line
        string"""
        self.assertTrue(text)
        self.assertEqual(add(-1, -2), -3, msg="negative")

    def test_parity(self):
        self.assertIn(parity(3), ("odd",))

    def test_loop(self):
        for i in range(3):
            self.assertEqual(add(i, i), 2 * i)
'''

PYTEST_SPEC = """
import pytest

from solution import add, parity


@pytest.fixture
def base():
    return 10


def test_small():
    assert add(1, 2) == 3


@pytest.mark.parametrize("a,b,total", [(-1, -2, -3), (-5, 0, -5)])
def test_negative(a, b, total):
    assert add(a, b) == total, "negative"


class TestMore:
    def test_parity(self, base):
        assert parity(base + 3) in ("odd",)

    def test_loop(self):
        for i in range(3):
            assert add(i, i) == 2 * i
"""

CORRECT = """
def add(a, b):
    return a + b


def parity(n):
    return "odd" if n % 2 else "even"
"""

# wrong for negative numbers only: test_negative fails (and its complement passes)
WRONG = """
def add(a, b):
    return abs(a) + abs(b)


def parity(n):
    return "odd" if n % 2 else "even"
"""

KINDS = ("python-unittest", "pytest")


def _package(root: Path, kind: str, *, anti_tamper: bool = True) -> Path:
    spec = UNITTEST_SPEC if kind == "python-unittest" else PYTEST_SPEC
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_solution.py").write_text(spec)
    (root / "assignment.toml").write_text(
        textwrap.dedent(
            f"""
            [assignment]
            name = "spec-{kind}"
            environment = "python3"

            [[tests]]
            name = "spec"
            kind = "{kind}"
            points = 4
            spec = "tests/test_solution.py"
            anti_tamper = {str(anti_tamper).lower()}
            per_test_timeout_s = 2.0
            """
        )
    )
    return root


def _grade(tmp_path: Path, kind: str, files: dict[str, str], **options: bool) -> GradeReport:
    require_backend("native")
    package = load_package(_package(tmp_path / "package", kind, **options))
    return grade(package, Submission.from_mapping(files), backend="native")


def _by_name(report: GradeReport) -> dict[str, str]:
    return {t.name.removeprefix("spec :: "): t.status for t in report.tests}


@pytest.mark.parametrize("kind", KINDS)
def test_a_correct_solution_gets_full_marks(tmp_path: Path, kind: str) -> None:
    report = _grade(tmp_path, kind, {"solution.py": CORRECT})
    assert report.status is ReportStatus.GRADED, report.staff_error
    assert [t.name for t in report.tests] == [
        "spec :: test_small",
        "spec :: test_negative",
        "spec :: test_parity",
        "spec :: test_loop",
    ]
    assert report.score == 4.0
    assert report.max_score == 4.0
    assert not report.tampered
    assert all(t.max_score == 1.0 for t in report.tests)


@pytest.mark.parametrize("kind", KINDS)
def test_a_wrong_solution_gets_exactly_the_tests_it_passes(tmp_path: Path, kind: str) -> None:
    report = _grade(tmp_path, kind, {"solution.py": WRONG})
    assert report.score == 3.0
    assert _by_name(report)["test_negative"] == TestStatus.FAILED
    assert not report.tampered  # failing a test and passing its complement is just wrong
    negative = next(t for t in report.tests if t.name.endswith("test_negative"))
    assert "negative" in negative.message


@pytest.mark.parametrize("kind", KINDS)
def test_without_anti_tamper_the_names_are_kept(tmp_path: Path, kind: str) -> None:
    report = _grade(tmp_path, kind, {"solution.py": WRONG}, anti_tamper=False)
    assert report.score == 3.0


@pytest.mark.parametrize("kind", KINDS)
def test_student_output_is_shown_and_never_read_as_results(tmp_path: Path, kind: str) -> None:
    noisy = CORRECT + '\nprint("hello from the solution")\n'
    report = _grade(tmp_path, kind, {"solution.py": noisy})
    assert report.score == 4.0
    assert "hello from the solution" in report.tests[0].output


@pytest.mark.parametrize("kind", KINDS)
def test_an_import_error_fails_every_test_with_its_message(tmp_path: Path, kind: str) -> None:
    report = _grade(tmp_path, kind, {"solution.py": "def add(a, b)\n    return a + b\n"})
    assert report.status is ReportStatus.GRADED
    assert report.score == 0.0
    assert len(report.tests) == 4
    assert all("SyntaxError" in t.message for t in report.tests)


@pytest.mark.parametrize("kind", KINDS)
def test_a_hanging_test_times_out_alone(tmp_path: Path, kind: str) -> None:
    hanging = CORRECT + "\n\ndef parity(n):\n    while True:\n        pass\n"
    report = _grade(tmp_path, kind, {"solution.py": hanging})
    statuses = _by_name(report)
    assert statuses["test_parity"] == TestStatus.TIMEOUT
    assert report.score == 3.0
