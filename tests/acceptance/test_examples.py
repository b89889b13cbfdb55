"""Acceptance: every example assignment grades every one of its submissions exactly.

The expected scores are written here, not read back from the packages, so a
package (or the engine) that drifts makes this fail. All submissions are
graded once per session, two at a time, on the native backend.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from assay.grading.engine import grade
from assay.grading.exports import to_gradescope
from assay.grading.loader import load_package
from assay.grading.outcome import TestOutcome
from assay.grading.report import GradeReport, ReportStatus
from assay.grading.spec import Visibility
from assay.grading.submission import load_submission
from assay.sandbox.backends import get_backend
from helpers import require_backend

pytestmark = [pytest.mark.native, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "assignments"
ASSAY = Path(sys.executable).with_name("assay")
SEED = 20240917  # shuffles the anti-tamper tests the same way every run
WORKERS = 2


@dataclass(frozen=True)
class Case:
    example: str
    submission: str  # "solution", "starter" or "bad/<name>"
    score: float
    max_score: float
    tampered: bool = False

    @property
    def id(self) -> str:
        return f"{self.example}:{self.submission}"


CASES = (
    Case("python-io", "solution", 10, 10),
    Case("python-io", "starter", 1, 10),
    Case("python-io", "bad/wrong-answer", 7, 10),
    Case("python-io", "bad/crash", 8, 10),
    Case("python-io", "bad/timeout", 9, 10),
    Case("python-unittest", "solution", 16, 16),
    Case("python-unittest", "starter", 0, 16),
    Case("python-unittest", "bad/wrong-answer", 13, 16),
    Case("python-unittest", "bad/crash", 12, 16),
    Case("python-unittest", "bad/tamper", 0, 16, tampered=True),
    Case("python-unittest", "bad/tamper-eq", 3, 16, tampered=True),
    Case("python-unittest", "bad/tamper-shadow", 0, 16),  # nothing to flag: the shadows are ignored
    Case("c-make", "solution", 9, 9),
    Case("c-make", "starter", 1, 9),
    Case("c-make", "bad/wrong-answer", 4, 9),
    Case("c-make", "bad/leak", 6, 9),
    Case("c-make", "bad/uses-system", 0, 9),
    Case("c-make", "bad/crash", 7, 9),
    Case("cpp-io", "solution", 7, 7),
    Case("cpp-io", "starter", 1, 7),
    Case("cpp-io", "bad/wrong-answer", 3, 7),
    Case("cpp-io", "bad/crash", 5, 7),
    Case("cpp-io", "bad/timeout", 6, 7),
    Case("java-io", "solution", 7, 7),
    Case("java-io", "starter", 1, 7),
    Case("java-io", "bad/wrong-answer", 1, 7),
    Case("java-io", "bad/crash", 4, 7),
    Case("java-junit", "solution", 14, 14),
    Case("java-junit", "starter", 0, 14),
    Case("java-junit", "bad/wrong-reduce", 5, 14),
    Case("java-junit", "bad/exits", 12, 14),
    Case("java-junit", "bad/loops", 9, 14),
    Case("java-junit", "bad/forges", 0, 14, tampered=True),
    Case("python-interactive", "solution", 4, 4),
    Case("python-interactive", "starter", 0, 4),
    Case("python-interactive", "bad/linear", 1, 4),
    Case("python-interactive", "bad/chatty", 0, 4),
    Case("python-interactive", "bad/crash", 0, 4),
    Case("python-student-tests", "solution", 10, 10),
    Case("python-student-tests", "starter", 2, 10),
    Case("python-student-tests", "bad/catch-nothing", 2, 10),
    Case("python-student-tests", "bad/fails-reference", 0, 10),
    Case("python-student-tests", "bad/no-tests", 0, 10),
    Case("python-student-tests", "bad/half", 6, 10),
)
EXAMPLE_NAMES = sorted({case.example for case in CASES})

# Where each failing known-bad submission must lose its points: test name -> status.
LOST = {
    "python-io:bad/timeout": {"scores-from-a-file": "timeout"},
    "c-make:bad/leak": {"no-leaks-or-invalid-accesses": "failed"},
    "c-make:bad/crash": {"pop": "crashed", "empty-list": "crashed"},
    "cpp-io:bad/crash": {"fewer-words-than-k": "crashed", "no-words": "crashed"},
    "cpp-io:bad/timeout": {"no-words": "timeout"},
    "java-junit:bad/exits": {"fraction :: 5 multiplies and compares": "failed"},
    "java-junit:bad/loops": {"fraction :: 4 adds": "timeout", "legacy :: bigValues": "timeout"},
}


def _grade(case: Case) -> GradeReport | BaseException:
    try:
        with load_package(EXAMPLES / case.example) as package:
            submission = load_submission(EXAMPLES / case.example / case.submission)
            return grade(package, submission, backend=get_backend("native"), seed=SEED)
    except Exception as exc:  # noqa: BLE001 - reported by the test of this case
        return exc


@pytest.fixture(scope="module")
def reports() -> Iterator[dict[str, GradeReport | BaseException]]:
    """Every case graded once, two at a time (2 cores)."""
    for environment in ("python3", "c", "cpp", "java"):
        require_backend("native", environment)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = dict(zip([c.id for c in CASES], pool.map(_grade, CASES), strict=True))
    yield results


def _report(reports: dict[str, GradeReport | BaseException], case: Case) -> GradeReport:
    result = reports[case.id]
    if isinstance(result, BaseException):
        pytest.fail(f"grading {case.id} raised {type(result).__name__}: {result}")
    return result


def _summary(report: GradeReport) -> str:
    lines = [f"score {report.score} / {report.max_score}, build {report.build.status.value}"]
    if report.staff_error:
        lines.append(f"staff_error: {report.staff_error[-1500:]}")
    if report.static and report.static.findings:
        lines.append(f"static: {[f.message for f in report.static.findings]}")
    for test in report.tests:
        detail = (test.message or test.staff_detail or "")[:300]
        lines.append(f"  {test.name}: {test.status.value} {test.score}/{test.max_score} {detail!r}")
    return "\n".join(lines)


# -- scores ----------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_submission_gets_its_exact_score(
    reports: dict[str, GradeReport | BaseException], case: Case
) -> None:
    report = _report(reports, case)
    assert report.status is ReportStatus.GRADED, _summary(report)
    assert report.max_score == pytest.approx(case.max_score), _summary(report)
    assert report.score == pytest.approx(case.score, abs=1e-6), _summary(report)
    assert bool(report.tampered) is case.tampered, _summary(report)
    if case.submission == "solution":
        assert report.full_marks, _summary(report)
        assert all(t.status.value == "passed" for t in report.tests), _summary(report)
    else:
        assert not report.full_marks, _summary(report)


@pytest.mark.parametrize("case_id", sorted(LOST))
def test_known_bad_loses_points_where_and_how_expected(
    reports: dict[str, GradeReport | BaseException], case_id: str
) -> None:
    case = next(c for c in CASES if c.id == case_id)
    report = _report(reports, case)
    statuses = {t.name: t.status.value for t in report.tests if t.score < t.max_score}
    assert statuses == LOST[case_id], _summary(report)


def test_uses_system_fails_only_by_the_static_rule(
    reports: dict[str, GradeReport | BaseException],
) -> None:
    report = _report(reports, Case("c-make", "bad/uses-system", 0, 9))
    assert all(t.status.value == "passed" for t in report.tests), _summary(report)
    assert report.static is not None, _summary(report)
    names = {f.name for f in report.static.findings}
    assert names == {"system"}, _summary(report)
    assert any(f.file == "main.c" for f in report.static.findings), _summary(report)


def test_leak_is_reported_with_its_place(reports: dict[str, GradeReport | BaseException]) -> None:
    report = _report(reports, Case("c-make", "bad/leak", 6, 9))
    (test,) = [t for t in report.tests if t.kind == "valgrind"]
    assert test.findings, _summary(report)
    assert any(f.file == "list.c" and f.line for f in test.findings), test.findings
    assert any((f.bytes or 0) > 0 for f in test.findings), test.findings


# -- tampering -------------------------------------------------------------------
TAMPER_CASES = [c for c in CASES if c.tampered]


@pytest.mark.parametrize("case", TAMPER_CASES, ids=[c.id for c in TAMPER_CASES])
def test_tampering_is_flagged_for_staff_and_never_pays(
    reports: dict[str, GradeReport | BaseException], case: Case
) -> None:
    report = _report(reports, case)
    assert report.tampered is True, _summary(report)
    assert any(t.tampered for t in report.tests), _summary(report)
    assert report.score < report.max_score, _summary(report)
    flagged = [t for t in report.tests if t.tampered]
    assert all(t.score == 0 for t in flagged), _summary(report)
    view = report.student_view()
    assert view.tampered is None
    assert all(t.tampered is None for t in view.tests)


def _spec_test(entry: str, function: str) -> str:
    return f"{entry}-spec :: test_{function}"


def test_patched_asserts_are_flagged_and_early_exits_fail(
    reports: dict[str, GradeReport | BaseException],
) -> None:
    """bad/tamper: its no-op assertions pass test and complement (flagged); the tests that
    call ``remove`` end in ``os._exit(0)``, which is a missing result, not a pass. Its
    "OK", "PASSED" and JSON lines on stdout count for nothing."""
    report = _report(reports, Case("python-unittest", "bad/tamper", 0, 16, tampered=True))
    assert len(report.tests) == 16, _summary(report)  # one result per spec test function
    assert all(t.score == 0 for t in report.tests), _summary(report)
    exited = {t.name for t in report.tests if not t.tampered}
    assert exited == {
        _spec_test("visible", "item_gone_after_removing_all"),
        _spec_test("visible", "removing_too_many_raises_and_keeps_stock"),
        _spec_test("hidden", "restock_after_selling_out"),
        _spec_test("hidden", "total_after_mixed_operations"),
    }, _summary(report)


def test_always_equal_values_earn_only_honest_points(
    reports: dict[str, GradeReport | BaseException],
) -> None:
    report = _report(reports, Case("python-unittest", "bad/tamper-eq", 3, 16, tampered=True))
    passed = {t.name for t in report.tests if t.score > 0}
    assert passed == {
        _spec_test("visible", "total_is_an_int"),  # Anything is an int: honest
        _spec_test("visible", "add_rejects_non_positive_quantities"),
        _spec_test("hidden", "most_stocked_after_adding"),
    }, _summary(report)
    flagged = {t.name for t in report.tests if t.tampered}
    assert len(flagged) == 8 and not flagged & passed, _summary(report)


# -- hidden tests ----------------------------------------------------------------
def _texts(test: TestOutcome) -> list[str]:
    values = [test.message, test.output, test.expected, test.actual, test.staff_detail]
    values += [f.message for f in test.findings]
    return [v.strip() for v in values if v and len(v.strip()) >= 8]


def _strings(value: object) -> list[str]:
    """Every string in a JSON-like value: what a student can read in it."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in [str(key), *_strings(item)]]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _strings(item)]
    return []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_student_view_hides_what_hidden_tests_contain(
    reports: dict[str, GradeReport | BaseException], case: Case
) -> None:
    """Nothing staff see of a hidden test (and no visible test shows) reaches the student
    view or the Gradescope export."""
    report = _report(reports, case)
    view = report.student_view()
    for test in view.tests:
        if test.visibility is Visibility.HIDDEN:
            assert (test.message, test.output, test.expected, test.actual) == ("", "", None, None)
            assert test.findings == () and test.staff_detail is None
    visible_texts = {
        text for t in report.tests if t.visibility is not Visibility.HIDDEN for text in _texts(t)
    }
    secrets = {
        text
        for t in report.tests
        if t.visibility is Visibility.HIDDEN
        for text in _texts(t)
        if not any(text in shown for shown in visible_texts)
    }
    shown = _strings(view.model_dump(mode="json")) + _strings(to_gradescope(report))
    leaked = [secret for secret in secrets if any(secret in text for text in shown)]
    assert not leaked, leaked


# examples with hidden tests (python-student-tests has none: its rows are all visible)
WITH_HIDDEN = [e for e in EXAMPLE_NAMES if e != "python-student-tests"]


@pytest.mark.parametrize("example", WITH_HIDDEN)
def test_hidden_failures_have_staff_detail_the_student_never_sees(
    reports: dict[str, GradeReport | BaseException], example: str
) -> None:
    """Proves the check above has something to find: staff see why hidden tests failed."""
    found = []
    for case in CASES:
        if case.example != example or not case.submission.startswith("bad/"):
            continue
        report = _report(reports, case)
        for test in report.tests:
            if test.visibility is Visibility.HIDDEN and test.score < test.max_score:
                found += _texts(test)
    assert found, f"no known-bad submission of {example} fails a hidden test with a message"


def test_hidden_spec_assertion_message_reaches_staff_only(
    reports: dict[str, GradeReport | BaseException],
) -> None:
    report = _report(reports, Case("python-unittest", "bad/wrong-answer", 13, 16))
    marker = "SECRET-HIDDEN-CHECK"
    assert marker in report.to_json(), _summary(report)
    assert marker not in report.student_view().to_json()


# -- the packages themselves -----------------------------------------------------
def _manifest(example: str) -> dict[str, Any]:
    return tomllib.loads((EXAMPLES / example / "assignment.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_every_bad_submission_is_listed_with_the_score_asserted_here(example: str) -> None:
    manifest = _manifest(example)
    listed = {bad["path"]: bad.get("score") for bad in manifest.get("known_bad", [])}
    on_disk = {f"bad/{d.name}" for d in (EXAMPLES / example / "bad").iterdir() if d.is_dir()}
    here = {
        c.submission: c.score
        for c in CASES
        if c.example == example and c.submission.startswith("bad/")
    }
    assert set(listed) == on_disk == set(here)
    assert listed == here
    package_dir = EXAMPLES / example
    for part in ("statement.md", "starter", "solution"):
        assert (package_dir / part).exists(), part
    assert len((package_dir / "statement.md").read_text(encoding="utf-8")) > 500


def test_python_io_has_ten_io_tests_of_every_sort() -> None:
    tests = _manifest("python-io")["tests"]
    assert len(tests) == 10 and all(t.get("kind", "io") == "io" for t in tests)
    visibility = {t.get("visibility", "visible") for t in tests}
    assert visibility == {"visible", "hidden"}
    checkers = [t.get("checker") for t in tests]
    assert "tokens" in checkers
    assert any(isinstance(c, dict) and c.get("type") == "float" for c in checkers)
    assert any(t.get("args") and t.get("input_files") for t in tests)


def test_python_unittest_starter_has_the_visible_spec() -> None:
    package_dir = EXAMPLES / "python-unittest"
    assert (package_dir / "starter" / "test_inventory.py").read_bytes() == (
        package_dir / "tests" / "test_inventory.py"
    ).read_bytes()


# -- the CLI ---------------------------------------------------------------------
def _check(example: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ASSAY), "assignment", "check", str(EXAMPLES / example)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_assignment_check_passes_on_every_example() -> None:
    for environment in ("python3", "c", "cpp", "java"):
        require_backend("native", environment)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = dict(zip(EXAMPLE_NAMES, pool.map(_check, EXAMPLE_NAMES), strict=True))
    failed = {
        name: f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        for name, proc in results.items()
        if proc.returncode != 0
    }
    assert not failed, "\n\n".join(f"{name}: {text}" for name, text in failed.items())
