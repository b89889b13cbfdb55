"""The ``io`` test kind: stdin, arguments and input files in; stdout, exit code, files out.

The program's standard output is checked when the test gives ``expected`` or
``expected_file`` (or uses a custom checker); each of ``output_files`` is
checked against its answer with the same checker.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from assay.errors import PackageError, WorkspacePathError
from assay.grading.checkers import CheckerSpec, CheckResult, CustomSpec, RegexSpec, WhitespaceSpec
from assay.grading.custom_checker import program_problem, run_custom_checker
from assay.grading.kinds.base import KindOptions, TestKind
from assay.grading.kinds.options import Command, ExitCode, require_command, workspace_file
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
from assay.sandbox.result import RunResult

if TYPE_CHECKING:
    from pathlib import Path

    from assay.grading.context import GradingContext
    from assay.grading.package import AssignmentPackage
    from assay.grading.spec import TestSpec

SHOWN_BYTES = 8 * 1024  # expected and actual text kept for the report, each
STDERR_TAIL_BYTES = 2 * 1024
OUTPUT_FILE_MAX_BYTES = 16 * 1024 * 1024
MAX_RUNS = 100


class IoRun(KindOptions):
    """One run of a test with several (``runs = [...]``): what it gives and expects.

    A key a run leaves out is the test's own (``command``, ``checker``, files).
    """

    args: tuple[str, ...] | None = None
    stdin: str | None = None
    stdin_file: str | None = None
    expected: str | None = None
    expected_file: str | None = None
    expected_stderr: str | None = None
    expected_stderr_file: str | None = None
    exit_code: ExitCode | None = None

    @model_validator(mode="after")
    def _one_source_each(self) -> IoRun:
        _one_source_each(self)
        return self


class IoOptions(KindOptions):
    command: Command | None = None  # default: [run].command
    args: tuple[str, ...] = ()
    stdin: str | None = None
    stdin_file: str | None = None
    expected: str | None = None
    expected_file: str | None = None
    expected_stderr: str | None = None  # checked with the same checker as stdout
    expected_stderr_file: str | None = None
    exit_code: ExitCode = 0
    input_files: dict[str, str] = Field(default_factory=dict)  # workspace path -> package path
    output_files: dict[str, str] = Field(default_factory=dict)  # workspace path -> package answer
    checker: CheckerSpec = WhitespaceSpec()
    runs: tuple[IoRun, ...] = Field(default=(), max_length=MAX_RUNS)  # all must pass
    message: str | None = Field(default=None, max_length=2000)  # shown to students on failure

    @field_validator("input_files", "output_files")
    @classmethod
    def _workspace_paths(cls, value: dict[str, str]) -> dict[str, str]:
        return workspace_paths(value)

    @model_validator(mode="after")
    def _one_source_each(self) -> IoOptions:
        _one_source_each(self)
        return self

    @property
    def checks_stdout(self) -> bool:
        return checks_stdout(self.expected, self.expected_file, self.checker)

    @property
    def checks_stderr(self) -> bool:
        return self.expected_stderr is not None or self.expected_stderr_file is not None

    def each_run(self) -> list[IoOptions]:
        """The test's runs, each as the options of a one-run test (a run's keys win)."""
        if not self.runs:
            return [self]
        out = []
        for run in self.runs:
            given = run.model_dump(exclude_unset=True)
            for inline, file in _SOURCES:  # a run's stdin replaces the test's stdin_file
                if inline in given or file in given:
                    given.setdefault(inline, None)
                    given.setdefault(file, None)
            out.append(self.model_copy(update={**given, "runs": ()}))
        return out


_SOURCES = (
    ("stdin", "stdin_file"),
    ("expected", "expected_file"),
    ("expected_stderr", "expected_stderr_file"),
)


def checks_stdout(expected: str | None, expected_file: str | None, checker: CheckerSpec) -> bool:
    """Whether a run's stdout is checked: an expected output, or a custom checker."""
    return expected is not None or expected_file is not None or isinstance(checker, CustomSpec)


def _one_source_each(options: IoRun | IoOptions) -> None:
    for inline, file in _SOURCES:
        if getattr(options, inline) is not None and getattr(options, file) is not None:
            raise ValueError(f"give {inline} or {file}, not both")


def workspace_paths(value: dict[str, str]) -> dict[str, str]:
    """Workspace paths of input/output files, normalised; a ``ValueError`` for a bad one."""
    return {workspace_file(path): source for path, source in value.items()}


class IoKind(TestKind[IoOptions]):
    name = "io"
    Options = IoOptions

    def concurrent_safe(self, options: IoOptions) -> bool:
        # stdin in, stdout out: nothing shared in the workspace, so runs may overlap
        return not options.input_files and not options.output_files

    def check(
        self, options: IoOptions, test: TestSpec, package: AssignmentPackage, *, key: str
    ) -> None:
        require_command(options.command, package, key)
        check_files(options, package, key)
        for number, run in enumerate(options.each_run() if options.runs else []):
            check_files(run, package, f"{key}.runs[{number}]", files=False)
        check_checker(options.checker, package, key)
        if isinstance(options.checker, RegexSpec):
            for number, run in enumerate(options.each_run()):
                where = f"{key}.runs[{number}]" if options.runs else key
                self._check_patterns(options.checker, run, package, where)

    @staticmethod
    def _check_patterns(
        checker: RegexSpec, options: IoOptions, package: AssignmentPackage, key: str
    ) -> None:
        patterns: list[tuple[str, str]] = []
        for inline, file in _SOURCES[1:]:
            if getattr(options, inline) is not None:
                patterns.append((f"{key}.{inline}", getattr(options, inline)))
            if getattr(options, file) is not None:
                patterns.append((f"{key}.{file}", _read(package.path(getattr(options, file)))))
        for path, rel in options.output_files.items():
            patterns.append((f"{key}.output_files.{path}", _read(package.path(rel))))
        for where, pattern in patterns:
            problem = checker.validate_pattern(pattern)
            if problem:
                raise PackageError(problem, file=MANIFEST, key=where, fix="correct the regex")

    # -- running ---------------------------------------------------------------------------
    def run(self, ctx: GradingContext, test: TestSpec, options: IoOptions) -> list[TestOutcome]:
        runs = options.each_run()
        timing = Timing()
        outcome = TestOutcome.failed(test)
        for number, run in enumerate(runs, 1):
            outcome = self._run_once(ctx, test, run)
            timing += outcome.timing
            if not outcome.passed:
                if len(runs) > 1:  # the first failing run is the one shown
                    prefix = f"run {number} of {len(runs)}" + _described(run)
                    outcome = replace(outcome, message=f"{prefix}: {outcome.message}".rstrip())
                return [replace(_with_message(outcome, options.message), timing=timing)]
        return [replace(outcome, timing=timing)]

    def _run_once(self, ctx: GradingContext, test: TestSpec, options: IoOptions) -> TestOutcome:
        package = ctx.package
        base = TestOutcome.failed(test)
        command = options.command or package.spec.run.command or ()
        failure = put_input_files(ctx, options.input_files)
        if failure:
            return replace(base, message=failure)
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
            return replace(outcome, status=verdict[0], message=verdict[1])
        return self._checked(ctx, test, options, outcome, result=result, stdin=stdin)

    @staticmethod
    def _checked(
        ctx: GradingContext,
        test: TestSpec,
        options: IoOptions,
        outcome: TestOutcome,
        *,
        result: RunResult,
        stdin: bytes | None,
    ) -> TestOutcome:
        """The run's outputs checked: stdout, stderr, then each output file."""
        package = ctx.package
        expected = _expected(package, options)
        notes = []
        if options.checks_stdout:
            checked = check_output(ctx, options.checker, result.stdout, expected or b"", stdin)
            if not checked.accepted:
                return _rejected(outcome, checked, "")
            notes.append(checked.message)
        if options.checks_stderr:
            want = _package_bytes(package, options.expected_stderr_file, options.expected_stderr)
            checked = check_output(ctx, options.checker, result.stderr, want or b"", stdin)
            if not checked.accepted:
                shown = replace(
                    outcome,
                    expected=_shown(want or b""),
                    actual=decode(result.stderr, SHOWN_BYTES),
                )
                return _rejected(shown, checked, "standard error: ")
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
                return replace(outcome, message=message)
            checked = check_output(ctx, options.checker, data, want, stdin)
            if not checked.accepted:
                shown = replace(outcome, expected=_shown(want), actual=decode(data, SHOWN_BYTES))
                return _rejected(shown, checked, f"{path}: ")
            notes.append(checked.message)
        message = "\n".join(n for n in notes if n)
        return replace(outcome, status=TestStatus.PASSED, score=test.points, message=message)


def check_files(
    options: IoOptions, package: AssignmentPackage, key: str, *, files: bool = True
) -> None:
    """Load time: the package files the options name exist (input/output files too)."""
    for option in ("stdin_file", "expected_file", "expected_stderr_file"):
        rel = getattr(options, option)
        if rel is not None:
            package.path(rel, key=f"{key}.{option}")
    if not files:
        return
    check_input_files(options.input_files, package, f"{key}.input_files")
    check_input_files(options.output_files, package, f"{key}.output_files")


def check_input_files(files: dict[str, str], package: AssignmentPackage, key: str) -> None:
    """Load time: each package file of ``files`` (workspace path -> package path) is a file."""
    for path, rel in files.items():
        if not package.path(rel, key=f"{key}.{path}").is_file():
            raise PackageError(f"{rel!r} is not a file", file=MANIFEST, key=key)


def check_checker(checker: CheckerSpec, package: AssignmentPackage, key: str) -> None:
    """Load time: a custom checker's program exists and can be run."""
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


def _described(run: IoOptions) -> str:
    """How a run is named when it fails: its arguments or input, briefly."""
    if run.args:
        return " (arguments: " + " ".join(run.args)[:60] + ")"
    if run.stdin is not None:
        first = run.stdin.strip().splitlines()[:1]
        return f" (input: {first[0][:60]})" if first else " (empty input)"
    return f" (input: {run.stdin_file})" if run.stdin_file else ""


def _with_message(outcome: TestOutcome, message: str | None) -> TestOutcome:
    """The instructor's failure message first, then what went wrong (an error stays ours)."""
    if not message or outcome.status is TestStatus.ERROR:
        return outcome
    return replace(outcome, message=f"{message}\n{outcome.message}" if outcome.message else message)


def _package_bytes(package: AssignmentPackage, rel: str | None, inline: str | None) -> bytes | None:
    if rel is not None:
        return package.path(rel).read_bytes()
    return None if inline is None else inline.encode("utf-8")


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


def put_input_files(ctx: GradingContext, input_files: dict[str, str]) -> str:
    """Copy the test's input files in, fresh and student-owned; a message if that failed."""
    if not input_files:
        return ""
    entries = [
        WorkspaceEntry(path, EntryKind.FILE, ctx.package.path(rel).read_bytes(), mode=0o644)
        for path, rel in input_files.items()
    ]
    try:
        ctx.sandbox.add_entries(entries)
    except WorkspacePathError:
        # only the submission's own code (the build, an earlier test) can have blocked the path
        names = ", ".join(input_files)
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


def check_output(
    ctx: GradingContext, checker: CheckerSpec, output: bytes, expected: bytes, stdin: bytes | None
) -> CheckResult:
    """``output`` against ``expected`` with ``checker`` (a custom one runs in its sandbox)."""
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
