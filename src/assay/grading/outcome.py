"""What grading stages produce: outcomes, diagnostics, findings, timings.

Frozen dataclasses inside the engine, and the very entries of the documented
JSON (``assay.grading.report`` holds them as they are): each field is declared
once, here, in the JSON's order. What the JSON adds is pydantic metadata, read
only when a value enters a report or a stored report is loaded (the dataclasses
are revalidated then): times are rounded to 6 decimals and scores to 4, and
``TestOutcome.cause`` is never serialised. Constructing one in the engine
validates nothing and rounds nothing, so sums of timings stay exact.

Text that came out of a sandbox is untrusted: it is kept as (bounded) text and
never interpreted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, ConfigDict, Field, with_config

from assay.grading.spec import TestSpec, Visibility
from assay.sandbox.result import RunResult, Termination


class TestStatus(StrEnum):
    """The verdict of one test."""

    __test__ = False  # not a pytest test class

    PASSED = "passed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    CRASHED = "crashed"
    ERROR = "error"  # our infrastructure or the instructor's files failed: never the student's
    SKIPPED = "skipped"  # not run (the build or a test it depends on failed): scores nothing


NOT_RUN_PREFIX = "not run:"  # every skipped test's message starts so
BUILD_NOT_RUN = "not run: the build failed"  # the build's own failure is shown once, in the build


class BuildStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # nothing to build
    ERROR = "error"


class FailureCause(StrEnum):
    """Why a test failed, where grading knows it as a fact and not only as a message."""

    COMPILE = "compile"  # the test's own program (e.g. C asserts) does not compile with the code


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


def _seconds(value: float) -> float:
    return round(value, 6)


def _points(value: float) -> float:
    return round(value, 4)


Seconds = Annotated[float, AfterValidator(_seconds)]  # 6 decimals in a report
Points = Annotated[float, AfterValidator(_points)]  # 4 decimals in a report

# in a report, an outcome is validated again (values coerced and rounded), never taken as is
_IN_A_REPORT = ConfigDict(revalidate_instances="always")


@with_config(_IN_A_REPORT)
@dataclass(frozen=True)
class Timing:
    """Resources one stage used (summed over its runs)."""

    wall_s: Seconds = 0.0
    cpu_s: Seconds = 0.0
    peak_memory_bytes: int = 0

    @classmethod
    def of(cls, result: RunResult) -> Timing:
        return cls(result.wall_time_s, result.cpu_time_s, result.peak_memory_bytes)

    def __add__(self, other: Timing) -> Timing:
        return Timing(
            self.wall_s + other.wall_s,
            self.cpu_s + other.cpu_s,
            max(self.peak_memory_bytes, other.peak_memory_bytes),
        )


@with_config(_IN_A_REPORT)
@dataclass(frozen=True)
class Diagnostic:
    """A compiler or interpreter message mapped to a place in the student's files."""

    file: str
    line: int | None
    column: int | None
    severity: Severity
    message: str
    tool: str = ""


@with_config(_IN_A_REPORT)
@dataclass(frozen=True)
class Finding:
    """Something a checker tool found (valgrind: a leak, an invalid read)."""

    kind: str  # e.g. "Leak_DefinitelyLost", "InvalidRead"
    message: str
    file: str | None = None
    line: int | None = None
    bytes: int | None = None
    stack: tuple[str, ...] = ()


@with_config(_IN_A_REPORT)
@dataclass(frozen=True)
class StaticFinding:
    """A use of a blacklisted (or not whitelisted) function or import."""

    name: str
    rule: str  # "blacklist" | "whitelist"
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None


@with_config(_IN_A_REPORT)
@dataclass(frozen=True, kw_only=True)
class TestOutcome:
    """The result of one test (a test kind may yield several, e.g. one per spec test).

    ``message`` and ``output`` are what the student may see of a visible test;
    ``staff_detail`` never reaches students. The fields are in the report's
    order; ``tampered`` and ``staff_detail`` are ``None`` only in a student view.
    """

    __test__: ClassVar[bool] = False

    name: str
    kind: str = ""
    group: str = ""
    status: TestStatus
    score: Points
    max_score: Points
    visibility: Visibility = Visibility.VISIBLE
    message: str = ""
    output: str = ""
    expected: str | None = None
    actual: str | None = None
    findings: tuple[Finding, ...] = ()
    timing: Timing = field(default_factory=Timing)
    tampered: bool | None = False  # staff view only
    staff_detail: str | None = ""  # staff view only
    # set by kinds that know why the test failed; for callers of the engine only, never
    # serialised, so stored reports keep their shape
    cause: Annotated[FailureCause | None, Field(exclude=True)] = None

    @classmethod
    def failed(cls, test: TestSpec, **fields: Any) -> TestOutcome:
        """A failed, 0-point outcome of ``test``: where every kind starts, ``fields`` changed."""
        base = cls(
            name=test.name,
            status=TestStatus.FAILED,
            score=0.0,
            max_score=test.points,
            kind=test.kind,
            visibility=test.visibility,
            group=test.group,
        )
        return replace(base, **fields) if fields else base

    @classmethod
    def skipped(cls, test: TestSpec, message: str, **fields: Any) -> TestOutcome:
        """A test of ``test`` that was not run: 0 points, ``message`` says why ("not run: ...")."""
        return cls.failed(test, status=TestStatus.SKIPPED, message=message, **fields)

    @property
    def passed(self) -> bool:
        return self.status is TestStatus.PASSED


def status_of_run(result: RunResult) -> TestStatus | None:
    """The verdict a stopped or crashed run forces, or ``None`` if it simply exited."""
    match result.termination:
        case Termination.CPU_TIME_LIMIT | Termination.WALL_TIME_LIMIT:
            return TestStatus.TIMEOUT
        case Termination.MEMORY_LIMIT:
            return TestStatus.MEMORY_LIMIT
        case Termination.OUTPUT_LIMIT:
            return TestStatus.OUTPUT_LIMIT
        case Termination.SIGNALED:
            return TestStatus.CRASHED
        case _:
            return None


def describe_run(result: RunResult) -> str:
    """A one-line, student-facing description of how a run ended."""
    match result.termination:
        case Termination.CPU_TIME_LIMIT:
            return f"CPU time limit exceeded ({result.cpu_time_s:.2f} s)"
        case Termination.WALL_TIME_LIMIT:
            return f"time limit exceeded ({result.wall_time_s:.2f} s wall)"
        case Termination.MEMORY_LIMIT:
            return "memory limit exceeded"
        case Termination.OUTPUT_LIMIT:
            return "output limit exceeded"
        case Termination.SIGNALED:
            return f"crashed: killed by {result.signal_name}"
        case _:
            return f"exited with status {result.exit_code}"


def decode(data: bytes, limit: int = 64 * 1024) -> str:
    """Untrusted bytes as text for a report: decoded leniently and bounded."""
    text = data[:limit].decode("utf-8", errors="replace")
    if len(data) > limit:
        text += f"\n... ({len(data) - limit} more bytes not shown)"
    return text
