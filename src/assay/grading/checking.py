"""``assay assignment check``: prove a package against its own submissions.

The reference solution must get full marks; every known-bad submission must
not (and must get exactly its ``score`` when one is given). A report with
status ``error`` fails the check whatever its score: the package (or the
host) is broken, not the submission.
"""

from __future__ import annotations

from dataclasses import dataclass

from assay.config import DEFAULT_GRADING_PARALLEL_RUNS
from assay.errors import PackageError, SubmissionError
from assay.grading.context import Progress
from assay.grading.engine import grade
from assay.grading.package import AssignmentPackage
from assay.grading.report import GradeReport, ReportStatus
from assay.grading.stages import Stage
from assay.grading.submission import load_submission
from assay.sandbox.base import SandboxBackend

SCORE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class CheckEntry:
    """One submission of the package, what it had to score and what it scored."""

    label: str  # "solution" or the known-bad path
    expectation: str  # e.g. "full marks", "not full marks", "exactly 0"
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
    targets: list[tuple[str, str, float | None, str]] = [
        ("solution", package.spec.paths.solution, None, "paths.solution")
    ]
    for index, bad in enumerate(package.spec.known_bad):
        targets.append((bad.path, bad.path, bad.score, f"known_bad[{index}].path"))
    entries = []
    for number, (label, relative, exact, key) in enumerate(targets, 1):
        if progress is not None:
            progress.stage(Stage.CHECKING, label, number, len(targets))
        is_solution = number == 1
        expectation = _expectation(is_solution, exact)
        try:
            submission = load_submission(package.path(relative, key=key))
        except (PackageError, SubmissionError) as exc:
            entries.append(CheckEntry(label, expectation, None, f"cannot load: {exc.message}"))
            continue
        report = grade(
            package,
            submission,
            backend=backend,
            parallel_runs=parallel_runs,
            progress=progress,
            seed=seed,
        )
        entries.append(CheckEntry(label, expectation, report, _problem(report, is_solution, exact)))
    return CheckReport(
        package.spec.assignment.name, package.max_score, tuple(entries), tuple(problems)
    )


def _expectation(is_solution: bool, exact: float | None) -> str:
    if is_solution:
        return "full marks"
    if exact is not None:
        return f"exactly {exact:g}"
    return "not full marks"


def _problem(report: GradeReport, is_solution: bool, exact: float | None) -> str:
    score = f"{report.score:g} / {report.max_score:g}"
    if report.status is ReportStatus.ERROR:
        detail = report.staff_error or report.error or "a test could not run"
        failed = [t.name for t in report.tests if t.status.value == "error"]
        where = f" (tests: {', '.join(failed)})" if failed else ""
        return f"grading failed{where}: {detail.strip().splitlines()[-1] if detail else ''}"
    if is_solution:
        if report.full_marks:
            return ""
        lost = [f"{t.name} ({t.status.value})" for t in report.tests if t.score < t.max_score]
        build = "" if report.build.status.value != "failed" else "; the build failed"
        return f"the reference solution got {score}{build}; lost points on: " + (
            ", ".join(lost) or "static checks"
        )
    if report.full_marks:
        return f"a known-bad submission got full marks ({score})"
    if exact is not None and abs(report.score - exact) > SCORE_TOLERANCE:
        return f"expected exactly {exact:g}, got {score}"
    return ""
