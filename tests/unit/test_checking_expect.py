"""``known_bad.expect`` and ``[[known_good]]``: how check judges a submission's failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.grading import checking
from assay.grading.checking import check_package, failure_of
from assay.grading.loader import load_package
from assay.grading.outcome import BuildStatus, TestOutcome, TestStatus
from assay.grading.report import BuildReport, GradeReport
from assay.grading.scaffold import scaffold_package
from assay.grading.spec import Visibility
from assay.sandbox.backends import get_backend


def report(*statuses: TestStatus, build: BuildStatus = BuildStatus.PASSED) -> GradeReport:
    tests = [
        TestOutcome(
            name=f"t{number}",
            status=status,
            score=1.0 if status is TestStatus.PASSED else 0.0,
            max_score=1.0,
            visibility=Visibility.VISIBLE,
        )
        for number, status in enumerate(statuses, 1)
    ]
    return GradeReport.model_validate(
        {
            "assignment": "sum",
            "status": "graded",
            "score": sum(t.score for t in tests),
            "max_score": len(tests),
            "build": BuildReport(status=build),
            "tests": tests,
        }
    )


P, F, T, C, S = (
    TestStatus.PASSED,
    TestStatus.FAILED,
    TestStatus.TIMEOUT,
    TestStatus.CRASHED,
    TestStatus.SKIPPED,
)


@pytest.mark.parametrize(
    ("graded", "failure"),
    [
        (report(P, P), "none"),
        (report(P, F, T), "wrong"),  # the first test not passed decides, as Kattis' first error
        (report(P, T, F), "timeout"),
        (report(S, C, T), "crashed"),  # skipped tests aside
        (report(TestStatus.MEMORY_LIMIT), "memory_limit"),
        (report(TestStatus.OUTPUT_LIMIT), "output_limit"),
        (report(S, S, build=BuildStatus.FAILED), "build_failed"),
    ],
)
def test_failure_of(graded: GradeReport, failure: str) -> None:
    assert failure_of(graded) == failure


def run_check(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    manifest_tail: str,
    by_file: dict[str, GradeReport],
) -> checking.CheckReport:
    path = scaffold_package("sum", "python", tmp_path)
    for name in ("slow", "fine"):
        (path / "extra" / name).mkdir(parents=True)
        (path / "extra" / name / "main.py").write_text(f"# {name}\n")
    with (path / "assignment.toml").open("a") as manifest:
        manifest.write(manifest_tail)

    def fake_grade(package: object, submission: object, **kwargs: object) -> GradeReport:
        text = submission.as_mapping()["main.py"].decode()  # type: ignore[attr-defined]
        return next((r for k, r in by_file.items() if k in text), by_file["solution"])

    monkeypatch.setattr(checking, "grade", fake_grade)
    with load_package(path) as package:
        return check_package(package, get_backend("native"))


TAIL = """
[[known_bad]]
path = "extra/slow"
expect = "timeout"

[[known_good]]
path = "extra/fine"
"""


def test_expectations_that_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_check(
        tmp_path,
        monkeypatch,
        TAIL,
        {
            "solution": report(P, P),
            "a - b": report(F, F),
            "slow": report(P, T),
            "fine": report(P, P),
        },
    )
    assert result.ok, result.reasons
    assert [(e.label, e.expectation) for e in result.entries] == [
        ("solution", "full marks"),
        ("extra/fine", "full marks"),
        ("bad/wrong-answer", "exactly 0"),
        ("extra/slow", "timeout"),
    ]


def test_a_wrong_failure_and_a_failing_known_good_are_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_check(
        tmp_path,
        monkeypatch,
        TAIL,
        {
            "solution": report(P, P),
            "a - b": report(F, F),
            "slow": report(P, F),
            "fine": report(P, C),
        },
    )
    assert result.reasons == [
        "extra/fine: it got 1 / 2; lost points on: t2 (crashed)",
        "extra/slow: expected it to fail with timeout, it failed with wrong",
    ]
