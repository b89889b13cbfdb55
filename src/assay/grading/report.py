"""``GradeReport``: the documented JSON result of grading one submission.

The models are the JSON's shape (field order, the student view's ``None``s);
each is built from its outcome type in ``assay.grading.outcome`` by pydantic,
reading the fields of the same name (``from_attributes``), never by a copy
written out by hand. Numbers are rounded as they enter a model (times to 6
decimals, scores to 4), so a stored report loads to the same values.

The full report is the staff view. ``student_view`` removes what students
must not see: the contents of hidden tests (and of ``after_due`` tests before
the deadline), staff-only details and the tamper flag. See docs/reports.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assay.grading.outcome import BuildStatus, FailureCause, TestOutcome, TestStatus
from assay.grading.spec import StaticEffect, Visibility

SCHEMA_VERSION = 1


class ReportStatus(StrEnum):
    GRADED = "graded"  # every stage ran; the score stands
    ERROR = "error"  # our infrastructure (or the package) failed: retry, do not record the score


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class TimingModel(Model):
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_memory_bytes: int = 0

    @field_validator("wall_s", "cpu_s")
    @classmethod
    def _rounded(cls, value: float) -> float:
        return round(value, 6)


class DiagnosticModel(Model):
    file: str
    line: int | None = None
    column: int | None = None
    severity: str
    message: str
    tool: str = ""


class FindingModel(Model):
    kind: str
    message: str
    file: str | None = None
    line: int | None = None
    bytes: int | None = None
    stack: list[str] = Field(default_factory=list)


class StaticFindingModel(Model):
    name: str
    rule: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None


class BuildReport(Model):
    status: BuildStatus
    log: str = ""
    diagnostics: list[DiagnosticModel] = Field(default_factory=list)
    timing: TimingModel = TimingModel()


class TestReport(Model):
    __test__: ClassVar[bool] = False

    name: str
    kind: str = ""
    group: str = ""
    status: TestStatus
    score: float
    max_score: float
    visibility: Visibility
    message: str = ""
    output: str = ""
    expected: str | None = None
    actual: str | None = None
    findings: list[FindingModel] = Field(default_factory=list)
    timing: TimingModel = TimingModel()
    tampered: bool | None = None  # staff view only
    staff_detail: str | None = None  # staff view only
    # in-process only, for callers of the engine: not serialised, so stored reports keep
    # their shape
    cause: FailureCause | None = Field(default=None, exclude=True)

    @field_validator("score", "max_score")
    @classmethod
    def _rounded(cls, value: float) -> float:
        return round(value, 4)

    @classmethod
    def of(cls, outcome: TestOutcome) -> TestReport:
        return cls.model_validate(outcome)

    def hide_contents(self) -> TestReport:
        return self.model_copy(
            update={
                "message": "",
                "output": "",
                "expected": None,
                "actual": None,
                "findings": [],
                "tampered": None,
                "staff_detail": None,
                "cause": None,
            }
        )


class StaticReport(Model):
    effect: StaticEffect
    findings: list[StaticFindingModel] = Field(default_factory=list)
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
    tests: list[TestReport] = Field(default_factory=list)
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
            if hidden:
                tests.append(test.hide_contents())
            else:
                tests.append(test.model_copy(update={"tampered": None, "staff_detail": None}))
        return self.model_copy(update={"tests": tests, "tampered": None, "staff_error": None})

    def to_json(self, *, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)
