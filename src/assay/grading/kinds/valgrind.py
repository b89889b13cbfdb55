"""The ``valgrind`` test kind: run the program under memcheck, fail on leaks and memory errors.

Valgrind slows a program down (often 10-50x) and needs memory of its own, so
the run gets at least ``VALGRIND_MIN_MEMORY`` and its CPU and wall limits are
multiplied by ``time_factor`` (default 5). The report is read as untrusted
input (``assay.grading.valgrind``).
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from assay.errors import GradingError
from assay.grading.checkers import CheckerSpec, WhitespaceSpec
from assay.grading.kinds.base import KindOptions, TestKind
from assay.grading.kinds.io import (
    check_checker,
    check_input_files,
    check_output,
    checks_stdout,
    put_input_files,
    workspace_paths,
)
from assay.grading.kinds.options import Command, ExitCode, require_command
from assay.grading.outcome import (
    Finding,
    TestOutcome,
    TestStatus,
    Timing,
    decode,
    describe_run,
    status_of_run,
)
from assay.grading.valgrind import (
    DEFAULT_LEAK_KINDS,
    MemcheckReport,
    UnreadableReportError,
    leak_kinds,
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
    command: Command | None = None  # default: [run].command
    args: tuple[str, ...] = ()
    stdin: str | None = None
    stdin_file: str | None = None
    expected: str | None = None
    expected_file: str | None = None
    exit_code: ExitCode = 0
    leaks: bool = True  # leaks of leak_kinds fail the test
    # valgrind's --show-leak-kinds words: "definite,indirect", "all" (also possible and
    # still reachable), "none"
    leak_kinds: tuple[str, ...] = DEFAULT_LEAK_KINDS
    errors: bool = True  # invalid reads/writes/frees, uninitialised values fail the test
    fail_on: Literal["listed", "any"] = "listed"  # any: every error memcheck reports fails
    time_factor: float = Field(default=5.0, ge=1.0, le=100.0)
    input_files: dict[str, str] = Field(default_factory=dict)  # workspace path -> package path
    checker: CheckerSpec = WhitespaceSpec()  # for expected output, as in the io kind

    @field_validator("leak_kinds", mode="before")
    @classmethod
    def _leak_kinds(cls, value: Any) -> Any:
        return leak_kinds(value) if isinstance(value, str | list | tuple) else value

    @field_validator("input_files")
    @classmethod
    def _input_files(cls, value: dict[str, str]) -> dict[str, str]:
        return workspace_paths(value)

    @model_validator(mode="after")
    def _one_source_each(self) -> ValgrindOptions:
        if self.stdin is not None and self.stdin_file is not None:
            raise ValueError("give stdin or stdin_file, not both")
        if self.expected is not None and self.expected_file is not None:
            raise ValueError("give expected or expected_file, not both")
        if self.fail_on == "any":
            narrowed = {"leaks", "errors", "leak_kinds"} & self.model_fields_set
            if narrowed:
                raise ValueError(
                    f'fail_on = "any" counts every error and leak kind: leave out '
                    f"{', '.join(sorted(narrowed))}"
                )
        return self

    @property
    def counted_leak_kinds(self) -> tuple[str, ...]:
        """The leak kinds valgrind reports and that fail the test."""
        return leak_kinds("all") if self.fail_on == "any" else self.leak_kinds

    @property
    def checks_stdout(self) -> bool:
        return checks_stdout(self.expected, self.expected_file, self.checker)


class ValgrindKind(TestKind[ValgrindOptions]):
    name = "valgrind"
    Options = ValgrindOptions

    def check(
        self, options: ValgrindOptions, test: TestSpec, package: AssignmentPackage, *, key: str
    ) -> None:
        require_command(
            options.command,
            package,
            key,
            example='["./prog"]',
            problem="no command to run under valgrind",
        )
        for option in ("stdin_file", "expected_file"):
            rel = getattr(options, option)
            if rel is not None:
                package.path(rel, key=f"{key}.{option}")
        check_input_files(options.input_files, package, f"{key}.input_files")
        check_checker(options.checker, package, key)

    def run(
        self, ctx: GradingContext, test: TestSpec, options: ValgrindOptions
    ) -> list[TestOutcome]:
        package = ctx.package
        base = TestOutcome.failed(test)
        command = [*(options.command or package.spec.run.command or ()), *options.args]
        failure = put_input_files(ctx, options.input_files)
        if failure:
            return [replace(base, message=failure)]
        stderr_path = _stderr_file(ctx)
        stdin = _package_text(package, options.stdin_file, options.stdin)
        kinds = options.counted_leak_kinds
        result = ctx.run_student(
            memcheck_argv(stderr_path, command, kinds),
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
            report = parse_memcheck_xml(result.stderr, kinds=kinds)
        except UnreadableReportError as exc:
            unreadable = str(exc)
        forced = status_of_run(result)
        if forced is not None:
            message = describe_run(result)
            if report is not None and report.fatal_at:
                message += f" at {report.fatal_at}"
            findings = _counted(report, options) if report else ()
            return [replace(outcome, status=forced, message=message, findings=findings)]
        if report is None:
            first_line = decode(program_stderr, 300).strip().splitlines()
            detail = f"\n{first_line[0]}" if first_line else ""
            return [replace(outcome, message=unreadable + detail)]
        counted = _counted(report, options)
        outcome = replace(outcome, findings=counted)
        problems = []
        if counted:
            problems.append(_summary(counted))
        if options.exit_code not in ("any", result.exit_code):
            problems.append(f"expected exit status {options.exit_code}, got {result.exit_code}")
        expected = _package_text(package, options.expected_file, options.expected)
        if options.checks_stdout:
            checked = check_output(ctx, options.checker, result.stdout, expected or b"", stdin)
            if checked.error is not None:  # the instructor's checker failed: ours, not theirs
                return [
                    replace(
                        outcome,
                        status=TestStatus.ERROR,
                        message=checked.message,
                        staff_detail=checked.error,
                    )
                ]
            if not checked.accepted:
                problems.append("wrong output: " + checked.message)
                # shown only when they differ: a leak-only failure shows its findings
                outcome = replace(
                    outcome,
                    expected=None if expected is None else decode(expected, SHOWN_BYTES),
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


def _counted(report: MemcheckReport, options: ValgrindOptions) -> tuple[Finding, ...]:
    if options.fail_on == "any":
        return report.findings
    return report.counted(
        leaks=options.leaks, errors=options.errors, kinds=options.counted_leak_kinds
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


def _tail(data: bytes, limit: int) -> str:
    if len(data) <= limit:
        return decode(data)
    return "...\n" + data[-limit:].decode("utf-8", errors="replace")


__all__ = ["ValgrindKind", "ValgrindOptions", "valgrind_limits"]
