"""A small Kattis problem, imported and graded on the real native sandbox."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.kattis import import_kattis
from assay.grading.loader import load_package
from assay.grading.report import GradeReport, ReportStatus
from assay.grading.spec import Visibility
from assay.sandbox.backends import get_backend
from helpers import require_backend

pytestmark = pytest.mark.native

# (a, b) -> hypot(a, b); two samples, three secret cases (one in a group)
CASES = {
    "sample/1": (3, 4, "5.0"),
    "sample/2": (1, 1, "1.4142135623730951"),
    "secret/01": (6, 8, "10.0"),
    "secret/02": (2, 3, "3.605551275463989"),
    "secret/big/03": (5, 12, "13.0"),
}

CORRECT = "import math\na, b = map(int, input().split())\nprint(math.hypot(a, b))\n"
# off by 4e-7: inside the absolute tolerance 1e-6 (an exact checker would refuse it)
IMPRECISE = "import math\na, b = map(int, input().split())\nprint(math.hypot(a, b) + 4e-7)\n"
# two decimals: right only where the answer is a whole number (3 4, 6 8, 5 12)
ROUNDED = 'import math\na, b = map(int, input().split())\nprint(f"{math.hypot(a, b):.2f}")\n'
SUM = "a, b = map(int, input().split())\nprint(a + b)\n"

VALIDATOR = """
import sys
judge_in, judge_ans, feedback = sys.argv[1:4]
flags = sys.argv[4:]
tolerance = float(flags[flags.index("tolerance") + 1])
want = float(open(judge_ans).read())
try:
    got = float(sys.stdin.read())
except ValueError:
    got = None
if got is not None and abs(got - want) <= tolerance:
    sys.exit(42)
with open(feedback + "judgemessage.txt", "w") as f:
    f.write(f"your answer {got} is not within {tolerance} of the hypotenuse")
sys.exit(43)
"""


def write_problem(root: Path, problem_yaml: str, *, validator: bool = False) -> Path:
    files = {
        "problem.yaml": problem_yaml,
        "problem_statement/problem.en.md": "Print the hypotenuse of a right triangle.\n",
        "submissions/accepted/hypot.py": CORRECT,
        "submissions/wrong_answer/sum.py": SUM,
    }
    for name, (a, b, answer) in CASES.items():
        files[f"data/{name}.in"] = f"{a} {b}\n"
        files[f"data/{name}.ans"] = f"{answer}\n"
    if validator:
        files["output_validators/hypot_check/hypot_check.py"] = VALIDATOR
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    return root


def grade_main(package_dir: Path, main_py: str) -> GradeReport:
    require_backend("native")
    with load_package(package_dir) as package:
        report = grade(
            package, FileSet.from_mapping({"main.py": main_py}), backend=get_backend("native")
        )
    assert report.status is ReportStatus.GRADED, report.staff_error
    return report


@pytest.fixture(scope="module")
def default_validator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    problem = write_problem(
        tmp_path_factory.mktemp("kattis") / "hypot",
        "name: Hypotenuse\nvalidator_flags: float_tolerance 1e-6\nlimits:\n  memory: 256\n",
    )
    return import_kattis(problem, tmp_path_factory.mktemp("assignment"))


@pytest.fixture(scope="module")
def custom_validator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    problem = write_problem(
        tmp_path_factory.mktemp("kattis") / "hypotcustom",
        "name: Hypotenuse (custom)\nvalidation: custom\nvalidator_flags: tolerance 0.01\n",
        validator=True,
    )
    return import_kattis(problem, tmp_path_factory.mktemp("assignment"))


def test_the_import_has_visible_samples_and_hidden_secret_tests(default_validator: Path) -> None:
    with load_package(default_validator) as package:
        visibility = {t.name: t.visibility for t in package.spec.tests}
        assert package.spec.assignment.title == "Hypotenuse"
        assert package.limits.memory_bytes == 256 * 1024 * 1024
    assert visibility == {
        "sample/1": Visibility.VISIBLE,
        "sample/2": Visibility.VISIBLE,
        "secret/01": Visibility.HIDDEN,
        "secret/02": Visibility.HIDDEN,
        "secret/big/03": Visibility.HIDDEN,
    }
    assert (default_validator / "solution" / "hypot.py").read_text() == CORRECT
    assert (default_validator / "bad" / "wrong_answer" / "sum-py" / "sum.py").read_text() == SUM


def test_correct_solution_gets_full_marks(default_validator: Path) -> None:
    report = grade_main(default_validator, CORRECT)
    assert report.score == report.max_score == 5.0


def test_imprecise_but_within_tolerance_gets_full_marks(default_validator: Path) -> None:
    report = grade_main(default_validator, IMPRECISE)
    assert report.score == 5.0, [(t.name, t.message) for t in report.tests]


def test_wrong_answers_get_exactly_the_cases_they_solve(default_validator: Path) -> None:
    report = grade_main(default_validator, ROUNDED)
    passed = sorted(t.name for t in report.tests if t.status.value == "passed")
    assert passed == ["sample/1", "secret/01", "secret/big/03"]
    assert report.score == 3.0
    sample = next(t for t in report.tests if t.name == "sample/2")
    assert sample.message == (
        "token 1 (line 1): expected 1.4142135623730951, got '1.41' "
        "(difference 0.00421, allowed: absolute 1e-06 or relative 1e-06)"
    )
    assert grade_main(default_validator, SUM).score == 0.0


def test_custom_validator_judges_with_the_problems_flags(custom_validator: Path) -> None:
    with load_package(custom_validator) as package:
        checker = package.options["sample/1"].checker  # type: ignore[attr-defined]
        assert checker.program == "checkers/hypot_check/hypot_check.py"
        assert checker.args == ("tolerance", "0.01")
    assert grade_main(custom_validator, CORRECT).score == 5.0
    assert grade_main(custom_validator, ROUNDED).score == 5.0  # 0.005 off at most: within 0.01
    report = grade_main(custom_validator, SUM)
    assert report.score == 0.0
    sample = next(t for t in report.tests if t.name == "sample/1")
    assert sample.status.value == "failed"
    assert sample.message == "your answer 7.0 is not within 0.01 of the hypotenuse"
