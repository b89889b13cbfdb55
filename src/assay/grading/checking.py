"""``assay assignment check``: prove a package against its own submissions.

The reference solution and every known-good submission must get full marks;
every known-bad submission must not (and must get exactly its ``score`` when
one is given, and fail as its ``expect`` says: the first test it does not pass,
in the manifest's order and skipped tests aside, ends with that status, or its
build fails for ``build_failed``). A report with
status ``error`` fails the check whatever its score: the package (or the
host) is broken, not the submission.
"""

from __future__ import annotations

from dataclasses import dataclass

from assay.config import DEFAULT_GRADING_PARALLEL_RUNS
from assay.errors import PackageError, SubmissionError
from assay.grading.context import Progress
from assay.grading.engine import grade
from assay.grading.outcome import BuildStatus, TestStatus
from assay.grading.package import AssignmentPackage
from assay.grading.report import GradeReport, ReportStatus
from assay.grading.spec import Expect
from assay.grading.stages import Stage
from assay.grading.submission import load_submission
from assay.sandbox.base import SandboxBackend

SCORE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class CheckEntry:
    """One submission of the package, what it had to score and what it scored."""

    label: str  # "solution" or the known-good / known-bad path
    expectation: str  # e.g. "full marks", "not full marks", "exactly 0", "timeout"
    report: GradeReport | None
    problem: str = ""  # empty when the expectation holds

    @property
    def ok(self) -> bool:
        return not self.problem


@dataclass(frozen=True)
class CheckReport:
    assignment: str
    max_score: float
    entries: tuple[CheckEntry, ...]
    problems: tuple[str, ...] = ()  # about the package as a whole

    @property
    def ok(self) -> bool:
        return not self.problems and all(e.ok for e in self.entries)

    @property
    def reasons(self) -> list[str]:
        return [*self.problems, *(f"{e.label}: {e.problem}" for e in self.entries if e.problem)]


def check_package(
    package: AssignmentPackage,
    backend: SandboxBackend,
    *,
    parallel_runs: int = DEFAULT_GRADING_PARALLEL_RUNS,
    progress: Progress | None = None,
    seed: int | None = 0,
) -> CheckReport:
    """Grade the reference solution and every known-bad submission of ``package``
    (``backend`` and ``parallel_runs`` as for ``engine.grade``)."""
    problems = []
    if package.max_score <= 0:
        problems.append("the package has no points to earn: add [[tests]] with points")
    targets: list[_Target] = [_Target("solution", package.spec.paths.solution, "paths.solution")]
    for index, good in enumerate(package.spec.known_good):
        targets.append(_Target(good.path, good.path, f"known_good[{index}].path"))
    for index, bad in enumerate(package.spec.known_bad):
        key = f"known_bad[{index}].path"
        targets.append(_Target(bad.path, bad.path, key, False, bad.score, bad.expect))
    entries = []
    for number, target in enumerate(targets, 1):
        if progress is not None:
            progress.stage(Stage.CHECKING, target.label, number, len(targets))
        expectation = target.expectation
        try:
            submission = load_submission(package.path(target.relative, key=target.key))
        except (PackageError, SubmissionError) as exc:
            entries.append(
                CheckEntry(target.label, expectation, None, f"cannot load: {exc.message}")
            )
            continue
        report = grade(
            package,
            submission,
            backend=backend,
            parallel_runs=parallel_runs,
            progress=progress,
            seed=seed,
        )
        entries.append(CheckEntry(target.label, expectation, report, target.problem(report)))
    return CheckReport(
        package.spec.assignment.name, package.max_score, tuple(entries), tuple(problems)
    )


_EXPECTED_STATUS = {
    Expect.WRONG: TestStatus.FAILED,
    Expect.TIMEOUT: TestStatus.TIMEOUT,
    Expect.CRASHED: TestStatus.CRASHED,
    Expect.MEMORY_LIMIT: TestStatus.MEMORY_LIMIT,
    Expect.OUTPUT_LIMIT: TestStatus.OUTPUT_LIMIT,
}


@dataclass(frozen=True)
class _Target:
    """A submission to check and what it must score."""

    label: str
    relative: str  # its path in the package
    key: str  # where the manifest names it
    good: bool = True  # full marks (the solution, known-good) or not (known-bad)
    exact: float | None = None
    expect: Expect | None = None

    @property
    def expectation(self) -> str:
        if self.good:
            return "full marks"
        if self.exact is not None and self.expect is not None:
            return f"{self.expect.value}, exactly {self.exact:g}"
        if self.exact is not None:
            return f"exactly {self.exact:g}"
        if self.expect is not None:
            return self.expect.value
        return "not full marks"

    def problem(self, report: GradeReport) -> str:
        """What is wrong with ``report`` for this target ("" when it is as expected)."""
        score = f"{report.score:g} / {report.max_score:g}"
        if report.status is ReportStatus.ERROR:
            return _grading_failed(report)
        if self.good:
            if report.full_marks:
                return ""
            lost = [f"{t.name} ({t.status.value})" for t in report.tests if t.score < t.max_score]
            build = "" if report.build.status.value != "failed" else "; the build failed"
            who = "the reference solution" if self.label == "solution" else "it"
            return f"{who} got {score}{build}; lost points on: " + (
                ", ".join(lost) or "static checks"
            )
        return _bad_problem(report, score, self.exact, self.expect)


def _bad_problem(
    report: GradeReport, score: str, exact: float | None, expect: Expect | None
) -> str:
    if report.full_marks:
        return f"a known-bad submission got full marks ({score})"
    if exact is not None and abs(report.score - exact) > SCORE_TOLERANCE:
        return f"expected exactly {exact:g}, got {score}"
    if expect is not None and (got := failure_of(report)) != expect.value:
        return f"expected it to fail with {expect.value}, it failed with {got}"
    return ""


def _grading_failed(report: GradeReport) -> str:
    detail = report.staff_error or report.error or "a test could not run"
    failed = [t.name for t in report.tests if t.status.value == "error"]
    where = f" (tests: {', '.join(failed)})" if failed else ""
    last = detail.strip().splitlines()[-1] if detail.strip() else ""
    return f"grading failed{where}: {last}"


def failure_of(report: GradeReport) -> str:
    """How ``report``'s submission failed, as an ``expect`` value: ``build_failed``, or the
    status of its first test not passed (skipped ones aside); "none" if every test passed."""
    if report.build.status is BuildStatus.FAILED:
        return Expect.BUILD_FAILED.value
    for test in report.tests:
        if test.status.value in ("passed", "skipped"):  # skipped: a test it depends on failed
            continue
        for expect, status in _EXPECTED_STATUS.items():
            if test.status is status:
                return expect.value
        return test.status.value
    return "none"
