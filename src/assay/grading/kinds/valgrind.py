"""The ``valgrind`` test kind: run the program under memcheck, fail on leaks and memory errors.

Valgrind slows a program down (often 10-50x) and needs memory of its own, so
the run gets at least ``VALGRIND_MIN_MEMORY`` and its CPU and wall limits are
multiplied by ``time_factor`` (default 5). The report is read as untrusted
input (``assay.grading.valgrind``).
"""

from __future__ import annotations

import secrets
import shlex
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from assay.errors import GradingError, PackageError
from assay.grading.checkers import check_whitespace
from assay.grading.kinds.base import KindOptions, TestKind
from assay.grading.outcome import (
    Finding,
    TestOutcome,
    TestStatus,
    Timing,
    decode,
    describe_run,
    status_of_run,
)
from assay.grading.package import MANIFEST
from assay.grading.valgrind import (
    MemcheckReport,
    UnreadableReportError,
    memcheck_argv,
    parse_memcheck_xml,
)
from assay.sandbox.base import EntryKind, WorkspaceEntry
from assay.sandbox.result import RunResult
from assay.sandbox.spec import MIB, Limits

if TYPE_CHECKING:
    from assay.grading.context import GradingContext
    from assay.grading.package import AssignmentPackage
    from assay.grading.spec import TestSpec

VALGRIND_MIN_MEMORY = 512 * MIB
VALGRIND_MIN_OUTPUT = 8 * MIB  # the XML report shares the stderr stream's cap
SHOWN_BYTES = 8 * 1024
STDERR_SHOWN_BYTES = 2 * 1024


class ValgrindOptions(KindOptions):
    command: tuple[str, ...] | None = None  # default: [run].command
    args: tuple[str, ...] = ()
    stdin: str | None = None
    stdin_file: str | None = None
    expected: str | None = None
    expected_file: str | None = None
    exit_code: int | Literal["any"] = 0
    leaks: bool = True  # definite and indirect leaks fail the test
    errors: bool = True  # invalid reads/writes/frees, uninitialised values fail the test
    time_factor: float = Field(default=5.0, ge=1.0, le=100.0)

    @field_validator("command", mode="before")
    @classmethod
    def _command(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = shlex.split(value)
        if isinstance(value, list | tuple) and not value:
            raise ValueError("a command must not be empty")
        return value

    @field_validator("exit_code")
    @classmethod
    def _exit_code(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 0 <= value <= 255:
            raise ValueError('an exit code is between 0 and 255 (or "any")')
        return value

    @model_validator(mode="after")
    def _one_source_each(self) -> ValgrindOptions:
        if self.stdin is not None and self.stdin_file is not None:
            raise ValueError("give stdin or stdin_file, not both")
        if self.expected is not None and self.expected_file is not None:
            raise ValueError("give expected or expected_file, not both")
        return self


class ValgrindKind(TestKind[ValgrindOptions]):
    name = "valgrind"
    Options = ValgrindOptions

    def check(
        self, options: ValgrindOptions, test: TestSpec, package: AssignmentPackage, *, key: str
    ) -> None:
        if options.command is None and package.spec.run.command is None:
            raise PackageError(
                "no command to run under valgrind",
                file=MANIFEST,
                key=f"{key}.command",
                fix='set [run].command (e.g. ["./prog"]) or the test\'s command',
            )
        for option in ("stdin_file", "expected_file"):
            rel = getattr(options, option)
            if rel is not None:
                package.path(rel, key=f"{key}.{option}")

    def run(
        self, ctx: GradingContext, test: TestSpec, options: ValgrindOptions
    ) -> list[TestOutcome]:
        package = ctx.package
        base = TestOutcome.failed(test)
        command = [*(options.command or package.spec.run.command or ()), *options.args]
        stderr_path = _stderr_file(ctx)
        stdin = _package_text(package, options.stdin_file, options.stdin)
        result = ctx.run_student(
            memcheck_argv(stderr_path, command),
            stdin=stdin,
            limits=valgrind_limits(ctx.limits, options),
        )
        program_stderr = ctx.read_output(stderr_path, max_bytes=1 * MIB) or b""
        if _valgrind_missing(result, program_stderr):
            raise GradingError(
                f"valgrind is not installed in the {package.environment.name!r} environment"
            )
        outcome = replace(
            base, timing=Timing.of(result), output=_tail(program_stderr, STDERR_SHOWN_BYTES)
        )
        report: MemcheckReport | None = None
        unreadable = ""
        try:
            report = parse_memcheck_xml(result.stderr)
        except UnreadableReportError as exc:
            unreadable = str(exc)
        forced = status_of_run(result)
        if forced is not None:
            message = describe_run(result)
            if report is not None and report.fatal_at:
                message += f" at {report.fatal_at}"
            findings = report.counted(leaks=options.leaks, errors=options.errors) if report else ()
            return [replace(outcome, status=forced, message=message, findings=findings)]
        if report is None:
            first_line = decode(program_stderr, 300).strip().splitlines()
            detail = f"\n{first_line[0]}" if first_line else ""
            return [replace(outcome, message=unreadable + detail)]
        counted = report.counted(leaks=options.leaks, errors=options.errors)
        outcome = replace(outcome, findings=counted)
        problems = []
        if counted:
            problems.append(_summary(counted))
        if options.exit_code not in ("any", result.exit_code):
            problems.append(f"expected exit status {options.exit_code}, got {result.exit_code}")
        expected = _package_text(package, options.expected_file, options.expected)
        if expected is not None:
            checked = check_whitespace(_text(result.stdout), _text(expected))
            if not checked.accepted:
                problems.append("wrong output: " + checked.message)
                # shown only when they differ: a leak-only failure shows its findings
                outcome = replace(
                    outcome,
                    expected=decode(expected, SHOWN_BYTES),
                    actual=decode(result.stdout, SHOWN_BYTES),
                )
        if problems:
            return [replace(outcome, message="\n".join(problems))]
        return [
            replace(
                outcome, status=TestStatus.PASSED, score=test.points, message="no memory errors"
            )
        ]


def valgrind_limits(limits: Limits, options: ValgrindOptions) -> Limits:
    """The test's limits, widened for valgrind's own time, memory and report."""
    return limits.replace(
        cpu_time_s=limits.cpu_time_s * options.time_factor,
        wall_time_s=limits.wall_time_s * options.time_factor,
        memory_bytes=max(limits.memory_bytes, VALGRIND_MIN_MEMORY),
        output_bytes=max(limits.output_bytes, VALGRIND_MIN_OUTPUT),
    )


def _stderr_file(ctx: GradingContext) -> str:
    """A fresh file for the program's stderr, in a directory the student cannot rename."""
    directory = f".assay-vg-{secrets.token_hex(8)}"
    path = f"{directory}/stderr.txt"
    ctx.sandbox.add_entries(
        [
            WorkspaceEntry(directory, EntryKind.DIR, mode=0o755, owner_root=True),
            WorkspaceEntry(path, EntryKind.FILE, b"", mode=0o644),
        ]
    )
    return path


def _valgrind_missing(result: RunResult, program_stderr: bytes) -> bool:
    if result.exit_code != 127 or result.stderr.strip():
        return False
    first = program_stderr.split(b"\n", 1)[0]
    return first.startswith(b"sh:") and b"valgrind" in first


def _summary(findings: tuple[Finding, ...]) -> str:
    lines = [f"valgrind found {len(findings)} problem(s):"]
    lines += [f"- {f.message}" for f in findings[:10]]
    if len(findings) > 10:
        lines.append(f"- ... and {len(findings) - 10} more")
    return "\n".join(lines)


def _package_text(package: AssignmentPackage, rel: str | None, inline: str | None) -> bytes | None:
    if rel is not None:
        return package.path(rel).read_bytes()
    return None if inline is None else inline.encode("utf-8")


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _tail(data: bytes, limit: int) -> str:
    if len(data) <= limit:
        return decode(data)
    return "...\n" + data[-limit:].decode("utf-8", errors="replace")


__all__ = ["ValgrindKind", "ValgrindOptions", "valgrind_limits"]
