"""What grading stages produce: outcomes, diagnostics, findings, timings.

Frozen dataclasses inside the engine; ``assay.grading.report`` turns them into
the documented JSON. Text that came out of a sandbox is untrusted: it is kept
as (bounded) text and never interpreted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, ClassVar

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


@dataclass(frozen=True)
class Timing:
    """Resources one stage used (summed over its runs)."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
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


@dataclass(frozen=True)
class Diagnostic:
    """A compiler or interpreter message mapped to a place in the student's files."""

    file: str
    line: int | None
    column: int | None
    severity: Severity
    message: str
    tool: str = ""


@dataclass(frozen=True)
class Finding:
    """Something a checker tool found (valgrind: a leak, an invalid read)."""

    kind: str  # e.g. "Leak_DefinitelyLost", "InvalidRead"
    message: str
    file: str | None = None
    line: int | None = None
    bytes: int | None = None
    stack: tuple[str, ...] = ()


@dataclass(frozen=True)
class StaticFinding:
    """A use of a blacklisted (or not whitelisted) function or import."""

    name: str
    rule: str  # "blacklist" | "whitelist"
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True)
class TestOutcome:
    """The result of one test (a test kind may yield several, e.g. one per spec test).

    ``message`` and ``output`` are what the student may see of a visible test;
    ``staff_detail`` never reaches students.
    """

    __test__: ClassVar[bool] = False

    name: str
    status: TestStatus
    score: float
    max_score: float
    kind: str = ""
    visibility: Visibility = Visibility.VISIBLE
    group: str = ""
    message: str = ""
    output: str = ""
    expected: str | None = None
    actual: str | None = None
    staff_detail: str = ""
    timing: Timing = field(default_factory=Timing)
    findings: tuple[Finding, ...] = ()
    tampered: bool = False
    cause: FailureCause | None = None  # set by kinds that know why the test failed

    @classmethod
    def failed(cls, test: TestSpec, **fields: Any) -> TestOutcome:
        """A failed, 0-point outcome of ``test``: where every kind starts, ``fields`` changed."""
        base = cls(
            test.name,
            TestStatus.FAILED,
            0.0,
            test.points,
            kind=test.kind,
            visibility=test.visibility,
            group=test.group,
        )
        return replace(base, **fields) if fields else base

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
