"""The ``io`` test kind: stdin, arguments and input files in; stdout, exit code, files out.

The program's standard output is checked when the test gives ``expected`` or
``expected_file`` (or uses a custom checker); each of ``output_files`` is
checked against its answer with the same checker.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from assay.errors import PackageError, WorkspacePathError
from assay.grading.checkers import CheckerSpec, CheckResult, CustomSpec, RegexSpec, WhitespaceSpec
from assay.grading.custom_checker import program_problem, run_custom_checker
from assay.grading.kinds.base import KindOptions, TestKind
from assay.grading.outcome import (
    TestOutcome,
    TestStatus,
    Timing,
    decode,
    describe_run,
    status_of_run,
)
from assay.grading.package import MANIFEST
from assay.sandbox.base import EntryKind, WorkspaceEntry
from assay.sandbox.hostfiles import normalise_workspace_path
from assay.sandbox.result import RunResult

if TYPE_CHECKING:
    from pathlib import Path

    from assay.grading.context import GradingContext
    from assay.grading.package import AssignmentPackage
    from assay.grading.spec import TestSpec

SHOWN_BYTES = 8 * 1024  # expected and actual text kept for the report, each
STDERR_TAIL_BYTES = 2 * 1024
OUTPUT_FILE_MAX_BYTES = 16 * 1024 * 1024


class IoOptions(KindOptions):
    command: tuple[str, ...] | None = None  # default: [run].command
    args: tuple[str, ...] = ()
    stdin: str | None = None
    stdin_file: str | None = None
    expected: str | None = None
    expected_file: str | None = None
    exit_code: int | Literal["any"] = 0
    input_files: dict[str, str] = Field(default_factory=dict)  # workspace path -> package path
    output_files: dict[str, str] = Field(default_factory=dict)  # workspace path -> package answer
    checker: CheckerSpec = WhitespaceSpec()

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

    @field_validator("input_files", "output_files")
    @classmethod
    def _workspace_paths(cls, value: dict[str, str]) -> dict[str, str]:
        out = {}
        for path, source in value.items():
            try:
                clean = normalise_workspace_path(path)
            except WorkspacePathError as exc:
                raise ValueError(exc.message) from exc
            if clean == ".":
                raise ValueError(f"{path!r} is not a file path")
            out[clean] = source
        return out

    @model_validator(mode="after")
    def _one_source_each(self) -> IoOptions:
        if self.stdin is not None and self.stdin_file is not None:
            raise ValueError("give stdin or stdin_file, not both")
        if self.expected is not None and self.expected_file is not None:
            raise ValueError("give expected or expected_file, not both")
        return self

    @property
    def checks_stdout(self) -> bool:
        return (
            self.expected is not None
            or self.expected_file is not None
            or isinstance(self.checker, CustomSpec)
        )


class IoKind(TestKind[IoOptions]):
    name = "io"
    Options = IoOptions

    def concurrent_safe(self, options: IoOptions) -> bool:
        # stdin in, stdout out: nothing shared in the workspace, so runs may overlap
        return not options.input_files and not options.output_files

    def check(
        self, options: IoOptions, test: TestSpec, package: AssignmentPackage, *, key: str
    ) -> None:
        if options.command is None and package.spec.run.command is None:
            raise PackageError(
                "no command to run",
                file=MANIFEST,
                key=f"{key}.command",
                fix='set [run].command (e.g. ["python3", "main.py"]) or the test\'s command',
            )
        for option in ("stdin_file", "expected_file"):
            rel = getattr(options, option)
            if rel is not None:
                package.path(rel, key=f"{key}.{option}")
        for option in ("input_files", "output_files"):
            for path, rel in getattr(options, option).items():
                if not package.path(rel, key=f"{key}.{option}.{path}").is_file():
                    raise PackageError(
                        f"{rel!r} is not a file", file=MANIFEST, key=f"{key}.{option}"
                    )
        checker = options.checker
        if isinstance(checker, CustomSpec):
            program = package.path(checker.program, key=f"{key}.checker.program")
            problem = program_problem(program)
            if problem:
                raise PackageError(
                    f"{checker.program!r} {problem}",
                    file=MANIFEST,
                    key=f"{key}.checker.program",
                    fix="use a .py, .c, .cc or .cpp file, or make the program executable",
                )
        if isinstance(checker, RegexSpec):
            self._check_patterns(checker, options, package, key)

    @staticmethod
    def _check_patterns(
        checker: RegexSpec, options: IoOptions, package: AssignmentPackage, key: str
    ) -> None:
        patterns: list[tuple[str, str]] = []
        if options.expected is not None:
            patterns.append((f"{key}.expected", options.expected))
        if options.expected_file is not None:
            patterns.append((f"{key}.expected_file", _read(package.path(options.expected_file))))
        for path, rel in options.output_files.items():
            patterns.append((f"{key}.output_files.{path}", _read(package.path(rel))))
        for where, pattern in patterns:
            problem = checker.validate_pattern(pattern)
            if problem:
                raise PackageError(problem, file=MANIFEST, key=where, fix="correct the regex")

    # -- running ---------------------------------------------------------------------------
    def run(self, ctx: GradingContext, test: TestSpec, options: IoOptions) -> list[TestOutcome]:
        package = ctx.package
        base = TestOutcome.failed(test)
        command = options.command or package.spec.run.command or ()
        failure = _put_input_files(ctx, options)
        if failure:
            return [replace(base, message=failure)]
        if options.output_files:  # what an earlier test left must not count for this one
            ctx.run_student(["rm", "-rf", "--", *options.output_files])
        stdin = _stdin(package, options)
        result = ctx.run_student([*command, *options.args], stdin=stdin)
        outcome = replace(base, timing=Timing.of(result), output=_stderr_tail(result))
        expected = _expected(package, options)
        if expected is not None:
            outcome = replace(
                outcome, expected=_shown(expected), actual=decode(result.stdout, SHOWN_BYTES)
            )
        verdict = _run_verdict(result, options)
        if verdict is not None:
            return [replace(outcome, status=verdict[0], message=verdict[1])]
        notes = []
        if options.checks_stdout:
            checked = _check(ctx, options, result.stdout, expected or b"", stdin)
            if not checked.accepted:
                return [_rejected(outcome, checked, "")]
            notes.append(checked.message)
        for path, rel in options.output_files.items():
            want = package.path(rel).read_bytes()
            data = ctx.read_output(path, max_bytes=OUTPUT_FILE_MAX_BYTES)
            if data is None:
                limit = OUTPUT_FILE_MAX_BYTES // (1024 * 1024)
                message = (
                    f"your program did not write the file {path} "
                    f"(or it is not a regular file of at most {limit} MiB)"
                )
                return [replace(outcome, message=message)]
            checked = _check(ctx, options, data, want, stdin)
            if not checked.accepted:
                shown = replace(outcome, expected=_shown(want), actual=decode(data, SHOWN_BYTES))
                return [_rejected(shown, checked, f"{path}: ")]
            notes.append(checked.message)
        message = "\n".join(n for n in notes if n)
        return [replace(outcome, status=TestStatus.PASSED, score=test.points, message=message)]


def _stdin(package: AssignmentPackage, options: IoOptions) -> bytes | None:
    if options.stdin_file is not None:
        return package.path(options.stdin_file).read_bytes()
    return None if options.stdin is None else options.stdin.encode("utf-8")


def _read(path: Path) -> str:
    return _text(path.read_bytes())


def _shown(data: bytes) -> str:
    return decode(data, SHOWN_BYTES)


def _stderr_tail(result: RunResult) -> str:
    err = result.stderr
    if len(err) <= STDERR_TAIL_BYTES:
        return decode(err)
    return "...\n" + err[-STDERR_TAIL_BYTES:].decode("utf-8", errors="replace")


def _expected(package: AssignmentPackage, options: IoOptions) -> bytes | None:
    if options.expected_file is not None:
        return package.path(options.expected_file).read_bytes()
    return None if options.expected is None else options.expected.encode("utf-8")


def _put_input_files(ctx: GradingContext, options: IoOptions) -> str:
    """Copy the test's input files in, fresh and student-owned; a message if that failed."""
    if not options.input_files:
        return ""
    entries = [
        WorkspaceEntry(path, EntryKind.FILE, ctx.package.path(rel).read_bytes(), mode=0o644)
        for path, rel in options.input_files.items()
    ]
    try:
        ctx.sandbox.add_entries(entries)
    except WorkspacePathError:
        # only the submission's own code (the build, an earlier test) can have blocked the path
        names = ", ".join(options.input_files)
        return f"the input file(s) {names} could not be put in place: your program changed them"
    return ""


def _run_verdict(result: RunResult, options: IoOptions) -> tuple[TestStatus, str] | None:
    """The status a run forces before any output is checked, or ``None``."""
    forced = status_of_run(result)
    if forced is not None:
        message = describe_run(result)
        if forced is TestStatus.CRASHED and result.stderr.strip():
            message += "\n" + _stderr_tail(result)
        return forced, message
    want = options.exit_code
    if want in ("any", result.exit_code):
        return None
    if want == 0:
        tail = _stderr_tail(result)
        return TestStatus.CRASHED, describe_run(result) + (f"\n{tail}" if tail.strip() else "")
    return TestStatus.FAILED, f"expected exit status {want}, got {result.exit_code}"


def _check(
    ctx: GradingContext, options: IoOptions, output: bytes, expected: bytes, stdin: bytes | None
) -> CheckResult:
    checker = options.checker
    if isinstance(checker, CustomSpec):
        return run_custom_checker(
            ctx, checker, input_data=stdin or b"", answer=expected, output=output
        )
    return checker.check(_text(output), _text(expected))


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _rejected(outcome: TestOutcome, checked: CheckResult, prefix: str) -> TestOutcome:
    if checked.error is not None:
        return replace(
            outcome,
            status=TestStatus.ERROR,
            message=checked.message,
            staff_detail=checked.error,
        )
    return replace(outcome, status=TestStatus.FAILED, message=prefix + checked.message)
