"""``GradeReport``: the documented JSON result of grading one submission.

The models here are what only a report has (the build, static checks, the
totals); its entries are the outcome types of ``assay.grading.outcome`` held as
they are (a test is a ``TestOutcome``, a timing a ``Timing``, ...), so each
field is declared once. An outcome is validated again as it enters a report,
where times are rounded to 6 decimals and scores to 4, so a stored report
loads to the same values.

The full report is the staff view. ``student_view`` removes what students
must not see: the contents of hidden tests (and of ``after_due`` tests before
the deadline), staff-only details and the tamper flag. See docs/reports.md.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from assay.grading.outcome import BuildStatus, Diagnostic, StaticFinding, TestOutcome, Timing
from assay.grading.spec import StaticEffect, Visibility

SCHEMA_VERSION = 1


class ReportStatus(StrEnum):
    GRADED = "graded"  # every stage ran; the score stands
    ERROR = "error"  # our infrastructure (or the package) failed: retry, do not record the score


class Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class BuildReport(Model):
    status: BuildStatus
    log: str = ""
    diagnostics: list[Diagnostic] = Field(default_factory=list)
    timing: Timing = Timing()


class StaticReport(Model):
    effect: StaticEffect
    findings: list[StaticFinding] = Field(default_factory=list)
    deducted: float = 0.0


class Timings(Model):
    total_s: float = 0.0
    setup_s: float = 0.0
    build_s: float = 0.0
    tests_s: float = 0.0


class GradeReport(Model):
    schema_version: int = SCHEMA_VERSION
    assignment: str
    assignment_version: str = "1"
    status: ReportStatus
    score: float
    max_score: float
    build: BuildReport
    tests: list[TestOutcome] = Field(default_factory=list)
    static: StaticReport | None = None
    tampered: bool | None = False  # staff view only (None in the student view)
    error: str | None = None  # student-safe explanation when status is "error"
    staff_error: str | None = None  # staff view only: what failed
    backend: str = ""
    environment: str = ""
    timings: Timings = Timings()
    graded_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def full_marks(self) -> bool:
        return self.status is ReportStatus.GRADED and self.score >= self.max_score - 1e-9

    def student_view(self, *, after_due: bool = False) -> GradeReport:
        """What a student may see: hidden contents, staff details and tamper flag removed."""
        tests = []
        for test in self.tests:
            hidden = test.visibility is Visibility.HIDDEN or (
                test.visibility is Visibility.AFTER_DUE and not after_due
            )
            tests.append(_contents_hidden(test) if hidden else _staff_only_removed(test))
        return self.model_copy(update={"tests": tests, "tampered": None, "staff_error": None})

    def to_json(self, *, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)


def _staff_only_removed(test: TestOutcome) -> TestOutcome:
    return replace(test, tampered=None, staff_detail=None)


def _contents_hidden(test: TestOutcome) -> TestOutcome:
    return replace(
        test,
        message="",
        output="",
        expected=None,
        actual=None,
        findings=(),
        tampered=None,
        staff_detail=None,
        cause=None,
    )
