"""Per-test weights, visibility, numbers, partial credit and selection of the spec kinds.

Real runs on the native sandbox. The specs use Gradescope's decorators exactly as a
Gradescope autograder does (``from gradescope_utils.autograder_utils.decorators
import ...``); Assay ships its own module under that name and reads the values from
the spec's source, so a submission that changes them at run time changes nothing.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from assay.errors import PackageError
from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.outcome import TestStatus
from assay.grading.report import GradeReport, ReportStatus
from assay.grading.spec import Visibility
from assay.sandbox.backends import get_backend
from helpers import require_backend

pytestmark = pytest.mark.native

IMPORTS = (
    "from gradescope_utils.autograder_utils.decorators import "
    "weight, visibility, number, partial_credit, tags, leaderboard\n"
)

UNITTEST_SPEC = (
    IMPORTS
    + """
import unittest

from solution import add


class TestCalc(unittest.TestCase):
    @weight(2)
    @number("2")
    def test_add(self):
        self.assertEqual(add(1, 2), 3)

    @weight(1)
    @visibility("after_due_date")
    @number("1.10")
    def test_zero(self):
        self.assertEqual(add(0, 0), 0)

    @weight(3)
    @visibility("hidden")
    @number("1.2")
    @tags("negative")
    def test_negative(self):
        self.assertEqual(add(-1, -1), -2)

    @partial_credit(4)
    @number("3")
    def test_partial(self, set_score=None):
        right = sum(1 for a in (1, 2, 3, 4) if add(a, a) == 2 * a)
        set_score(right)

    @leaderboard("speed")
    def test_board(self, set_leaderboard_value=None):
        set_leaderboard_value(3)
        self.assertEqual(add(2, 2), 4)
"""
)

PYTEST_SPEC = (
    IMPORTS
    + """
from solution import add


@weight(2)
@number("2")
def test_add():
    assert add(1, 2) == 3


@weight(1)
@visibility("after_due_date")
@number("1.10")
def test_zero():
    assert add(0, 0) == 0


class TestMore:
    @weight(3)
    @visibility("hidden")
    @number("1.2")
    @tags("negative")
    def test_negative(self):
        assert add(-1, -1) == -2

    @partial_credit(4)
    @number("3")
    def test_partial(self, set_score=None):
        right = sum(1 for a in (1, 2, 3, 4) if add(a, a) == 2 * a)
        set_score(right)


@leaderboard("speed")
def test_board(set_leaderboard_value=None):
    set_leaderboard_value(3)
    assert add(2, 2) == 4
"""
)

CORRECT = "def add(a, b):\n    return a + b\n"
# wrong from 3 on: test_partial gets 2 of 4, everything else passes
WRONG = "def add(a, b):\n    return a + b if a < 3 else 0\n"
# WRONG, and while the tests run it calls every set_score it can find with the full
# weight, raises every function's __weight__ and makes everything visible
FORGING = (
    WRONG
    + """

import gc
import sys

_add = add


def add(a, b):
    frame = sys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if callable(value) and getattr(value, "__name__", "") == "_set_score":
                value(4)
        setter = frame.f_locals.get("set_score")
        if callable(setter):
            setter(4)
        frame = frame.f_back
    for obj in gc.get_objects():
        if callable(obj) and hasattr(obj, "__weight__"):
            try:
                obj.__weight__ = 100
                obj.__visibility__ = "visible"
            except AttributeError:
                pass
    return _add(a, b)
"""
)
# calls every set_score it can reach with the full weight, then aborts the test
ABORTING = """
import sys


def add(a, b):
    frame = sys._getframe(1)
    while frame is not None:
        setter = frame.f_locals.get("set_score")
        if callable(setter):
            setter(4)
            raise RuntimeError("the test stops here")
        frame = frame.f_back
    return a + b
"""
# the student's own gradescope_utils, hoping to be imported instead of Assay's
FAKE_DECORATORS = """
class weight:
    def __init__(self, val):
        self.val = 100
    def __call__(self, func):
        func.__weight__ = 100
        return func
visibility = number = tags = leaderboard = partial_credit = weight
"""

KINDS = ("python-unittest", "pytest")
ORDER = [
    "spec :: 1.2 test_negative",
    "spec :: 1.10 test_zero",
    "spec :: 2 test_add",
    "spec :: 3 test_partial",
    "spec :: test_board",
]


def _package(root: Path, kind: str, spec: str, extra: str = "") -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_calc.py").write_text(spec)
    (root / "assignment.toml").write_text(
        textwrap.dedent(
            f"""
            [assignment]
            name = "weights-{kind}"
            environment = "python3"

            [[tests]]
            name = "spec"
            kind = "{kind}"
            points = 10
            spec = "tests/test_calc.py"
            per_test_timeout_s = 3.0
            """
        )
        + textwrap.dedent(extra)
    )
    return root


def _grade(package_root: Path, files: dict[str, str]) -> GradeReport:
    require_backend("native")
    package = load_package(package_root)
    report = grade(package, FileSet.from_mapping(files), backend=get_backend("native"))
    assert report.status is ReportStatus.GRADED, report.staff_error
    return report


def _spec(kind: str) -> str:
    return UNITTEST_SPEC if kind == "python-unittest" else PYTEST_SPEC


@pytest.mark.parametrize("kind", KINDS)
def test_gradescope_decorators_set_points_visibility_and_order(tmp_path: Path, kind: str) -> None:
    report = _grade(_package(tmp_path, kind, _spec(kind)), {"solution.py": CORRECT})
    assert [t.name for t in report.tests] == ORDER
    assert [t.max_score for t in report.tests] == [3.0, 1.0, 2.0, 4.0, 0.0]
    assert report.score == report.max_score == 10.0
    visibility = {t.name: t.visibility for t in report.tests}
    assert visibility["spec :: 1.2 test_negative"] is Visibility.HIDDEN
    assert visibility["spec :: 1.10 test_zero"] is Visibility.AFTER_DUE
    assert visibility["spec :: 2 test_add"] is Visibility.VISIBLE
    partial = report.tests[3]
    assert partial.status is TestStatus.PASSED
    assert partial.message == "partial credit: 4 / 4"


@pytest.mark.parametrize("kind", KINDS)
def test_partial_credit_counts_what_the_test_set(tmp_path: Path, kind: str) -> None:
    report = _grade(_package(tmp_path, kind, _spec(kind)), {"solution.py": WRONG})
    partial = report.tests[3]
    assert partial.status is TestStatus.FAILED
    assert partial.score == 2.0
    assert partial.message == "partial credit: 2 / 4"
    assert report.score == 8.0


@pytest.mark.parametrize("kind", KINDS)
def test_a_student_cannot_set_the_score_or_change_weights(tmp_path: Path, kind: str) -> None:
    files = {
        "solution.py": FORGING,
        "gradescope_utils/__init__.py": "",
        "gradescope_utils/autograder_utils/__init__.py": "",
        "gradescope_utils/autograder_utils/decorators.py": FAKE_DECORATORS,
    }
    report = _grade(_package(tmp_path, kind, _spec(kind)), files)
    assert [t.name for t in report.tests] == ORDER
    assert [t.max_score for t in report.tests] == [3.0, 1.0, 2.0, 4.0, 0.0]
    assert report.tests[3].score == 2.0  # the test's own set_score came last
    assert report.score == 8.0
    assert report.tests[0].visibility is Visibility.HIDDEN


@pytest.mark.parametrize("kind", KINDS)
def test_a_score_set_by_the_students_code_does_not_count(tmp_path: Path, kind: str) -> None:
    report = _grade(_package(tmp_path, kind, _spec(kind)), {"solution.py": ABORTING})
    partial = report.tests[3]
    assert partial.score == 0.0
    assert partial.status is TestStatus.FAILED
    assert "the test stops here" in partial.message


GRADESCOPE = Path(__file__).resolve().parents[2] / "examples/gradescope/python-unittest"


@pytest.mark.parametrize(
    ("submission", "score"), [("correct", 10.0), ("wrong1", 7.0), ("wrong2", 6.0)]
)
def test_a_gradescope_spec_scores_as_on_gradescope(
    tmp_path: Path, submission: str, score: float
) -> None:
    # the Gradescope example's own test file (docs/gradescope.md has its scores there),
    # importing the decorators from gradescope-utils' path instead of its vendored copy
    spec = (GRADESCOPE / "autograder/tests/test_calc.py").read_text()
    spec = spec.replace(
        "from gsutils.decorators", "from " + "gradescope_utils.autograder_utils.decorators"
    )
    calc = (GRADESCOPE / "submissions" / submission / "calc.py").read_text()
    root = _package(tmp_path, "python-unittest", spec.replace("from solution", "from calc"))
    report = _grade(root, {"calc.py": calc})
    assert report.score == score
    assert [t.name for t in report.tests][:4] == [
        "spec :: 1 test_add",
        "spec :: 2 test_mean",
        "spec :: 3 test_primes",
        "spec :: 4 test_fizzbuzz",
    ]


def test_partial_credit_is_bounded_to_the_weight(tmp_path: Path) -> None:
    spec = IMPORTS + textwrap.dedent(
        """
        from solution import value


        @partial_credit(2)
        def test_high(set_score=None):
            set_score(value())


        @partial_credit(2)
        def test_low(set_score=None):
            set_score(-value())


        @partial_credit(2)
        def test_text(set_score=None):
            set_score(str(value()))
        """
    )
    report = _grade(
        _package(tmp_path, "pytest", spec), {"solution.py": "def value():\n    return 1e300\n"}
    )
    scores = {t.name: t.score for t in report.tests}
    share = pytest.approx(10 / 3, abs=1e-3)
    assert scores == {"spec :: test_high": share, "spec :: test_low": 0.0, "spec :: test_text": 0}
    assert report.tests[0].message == "partial credit: 2 / 2 (the test set 1e+09)"


TABLE_SPEC = """
import pytest

from solution import add


def test_add():
    assert add(1, 2) == 3


@pytest.mark.slow
def test_big():
    assert add(10**6, 1) == 10**6 + 1


class TestSigns:
    def test_negative(self):
        assert add(-1, -1) == -2

    def test_zero(self):
        assert add(0, 0) == 0
"""


def test_weights_visibility_and_numbers_from_assignment_toml(tmp_path: Path) -> None:
    extra = """
    weights = {"test_add" = 3, "TestSigns.test_negative" = 1, "test_zero" = 1}
    visibilities = {"test_negative" = "hidden", "test_zero" = "after_due"}
    numbers = {"test_zero" = "1", "test_add" = "2"}
    """
    report = _grade(_package(tmp_path, "pytest", TABLE_SPEC, extra), {"solution.py": WRONG})
    rows = {t.name: t for t in report.tests}
    assert list(rows) == [
        "spec :: 1 test_zero",
        "spec :: 2 test_add",
        "spec :: test_big",
        "spec :: test_negative",
    ]
    assert [t.max_score for t in report.tests] == [2.0, 6.0, 0.0, 2.0]
    assert rows["spec :: test_negative"].visibility is Visibility.HIDDEN
    assert rows["spec :: 1 test_zero"].visibility is Visibility.AFTER_DUE
    assert report.score == 10.0  # test_big fails but weighs 0


def test_without_weights_points_are_split_equally(tmp_path: Path) -> None:
    report = _grade(_package(tmp_path, "pytest", TABLE_SPEC), {"solution.py": CORRECT})
    assert [t.max_score for t in report.tests] == [2.5] * 4


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ('select = ["tests/test_calc.py::test_add"]', ["test_add"]),
        (
            'select = ["tests/test_calc.py::TestSigns::test_zero", "tests/test_calc.py::test_big"]',
            ["test_big", "test_zero"],
        ),
        ('keyword = "Signs and not zero"', ["test_negative"]),
        ('markers = "not slow"', ["test_add", "test_negative", "test_zero"]),
        ('keyword = "add or big"\nmarkers = "slow"', ["test_big"]),
    ],
)
def test_pytest_selection(tmp_path: Path, extra: str, names: list[str]) -> None:
    report = _grade(_package(tmp_path, "pytest", TABLE_SPEC, extra), {"solution.py": CORRECT})
    assert [t.name.removeprefix("spec :: ") for t in report.tests] == names
    assert report.score == report.max_score == 10.0


@pytest.mark.parametrize(
    ("kind", "spec", "extra", "words"),
    [
        ("pytest", TABLE_SPEC, 'select = ["tests/test_calc.py::test_nope"]', "test_nope"),
        ("pytest", TABLE_SPEC, 'select = ["other.py::test_add"]', "node id"),
        ("pytest", TABLE_SPEC, 'keyword = "add and ("', "ends too early"),
        ("pytest", TABLE_SPEC, 'markers = "fast"', "leaves no test"),
        ("pytest", TABLE_SPEC, 'weights = {"test_add" = -1}', "between 0"),
        ("pytest", TABLE_SPEC, 'visibilities = {"test_add" = "sometimes"}', "unknown visibility"),
        ("python-unittest", UNITTEST_SPEC, 'markers = "slow"', "unittest"),
        (
            "pytest",
            IMPORTS + "W = 2\n\n@weight(W)\ndef test_a():\n    assert True\n",
            "",
            "literal",
        ),
    ],
)
def test_bad_metadata_and_selections_are_package_errors(
    tmp_path: Path, kind: str, spec: str, extra: str, words: str
) -> None:
    with pytest.raises(PackageError, match=r"(?s).*" + words):
        load_package(_package(tmp_path, kind, spec, extra))
