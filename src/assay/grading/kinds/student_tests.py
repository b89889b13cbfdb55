"""The ``student-tests`` kind: the student's own tests, judged against wrong implementations.

As in CS50P's ``test_*.py`` problems: the student submits tests
(``test_plates.py``) for a module the instructor also wrote. The tests run
(pytest or unittest) against the instructor's reference implementation, where
they must pass, and against each instructor-written mutant (a wrong
implementation), which they *catch* when they fail on it.

Every run happens in a sandbox of its own for this entry (never the student's
build workspace), emptied before each run, so no run can leave files for the
next. The reference runs first; the mutants run only if the tests passed
there (else nothing they show would count), in a random order. The implementations' files are put
where the reference has them, under the reference's names, so the tests import
the module as the reference names it. Students see, per mutant, caught or not
and the mutant's hint; never its code, and not the runs' output (tests can
print the module they import). Only the exit status of the test runner is
read: a run passes when the runner exits 0 and ran at least one test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from pydantic import Field, PrivateAttr, field_validator

from assay.errors import PackageError, WorkspacePathError
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
from assay.sandbox.result import RunResult, Termination
from assay.sandbox.session import Sandbox
from assay.sandbox.spec import OutputPolicy

if TYPE_CHECKING:
    from assay.grading.context import GradingContext
    from assay.grading.package import AssignmentPackage
    from assay.grading.spec import TestSpec

HINT_FILE = "hint.txt"
MAX_HINT_CHARS = 500
MAX_FILE_BYTES = 1024 * 1024
STAFF_OUTPUT_BYTES = 8 * 1024
PYTEST_NO_TESTS = 5  # pytest's exit status when it collected nothing
EPSILON = 1e-9
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_RAN = re.compile(rb"^Ran (\d+) tests? in ", re.MULTILINE)


class Runner(StrEnum):
    PYTEST = "pytest"
    UNITTEST = "unittest"


class StudentTestsOptions(KindOptions):
    student_tests: tuple[str, ...] = Field(min_length=1)  # the student's test files
    runner: Runner = Runner.PYTEST
    reference: str = "reference"  # package directory: the right implementation
    mutants: str = "mutants"  # package directory: one subdirectory per wrong implementation
    reference_points: float | None = Field(default=None, ge=0)
    per_run_timeout_s: float = Field(default=20.0, gt=0, le=600)
    _implementation: tuple[str, ...] = PrivateAttr(default=())  # relative file names
    _mutants: tuple[str, ...] = PrivateAttr(default=())
    _hints: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("student_tests")
    @classmethod
    def _workspace_files(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for path in value:
            try:
                normal = normalise_workspace_path(path)
            except WorkspacePathError as exc:
                raise ValueError(exc.message) from exc
            if not normal.endswith(".py") or normal == ".":
                raise ValueError(f"{path!r}: a student test file is a .py file")
            out.append(normal)
        return tuple(out)


@dataclass(frozen=True)
class _Run:
    """How the student's tests did on one implementation."""

    passed: bool
    why: str  # student-facing, says nothing of the implementation
    result: RunResult

    @property
    def status(self) -> TestStatus:
        """Passed, else how the run was stopped (timeout, memory limit...), else failed."""
        if self.passed:
            return TestStatus.PASSED
        return status_of_run(self.result) or TestStatus.FAILED


def _files_of(directory: Path) -> dict[str, Path]:
    """A directory's files by relative path, the hint aside (links refused)."""
    found: dict[str, Path] = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if path.is_symlink():
            raise ValueError(f"{rel} is a symbolic link")
        if path.is_file() and rel != HINT_FILE and "__pycache__" not in rel:
            found[rel] = path
    return found


class StudentTestsKind(TestKind[StudentTestsOptions]):
    name = "student-tests"
    Options = StudentTestsOptions

    # -- load time ---------------------------------------------------------------------
    def check(
        self, options: StudentTestsOptions, test: TestSpec, package: AssignmentPackage, *, key: str
    ) -> None:
        reference = package.path(options.reference, key=f"{key}.reference")
        mutants = package.path(options.mutants, key=f"{key}.mutants")
        for where, directory in (("reference", reference), ("mutants", mutants)):
            if not directory.is_dir():
                raise PackageError(
                    f"{directory.name!r} is not a directory", file=MANIFEST, key=f"{key}.{where}"
                )
        try:
            implementation = _files_of(reference)
        except ValueError as exc:
            raise PackageError(str(exc), file=options.reference, key=f"{key}.reference") from exc
        if not implementation:
            raise PackageError(
                f"{options.reference}/ has no files",
                file=MANIFEST,
                key=f"{key}.reference",
                fix="put the reference implementation (e.g. plates.py) in it",
            )
        clash = set(implementation) & set(options.student_tests)
        if clash:
            raise PackageError(
                f"{sorted(clash)[0]} is both a student test file and a reference file",
                file=MANIFEST,
                key=f"{key}.student_tests",
            )
        names: list[str] = []
        hints: dict[str, str] = {}
        for sub in sorted(p for p in mutants.iterdir() if p.is_dir()):
            where = f"{options.mutants}/{sub.name}"
            if not _NAME.fullmatch(sub.name):
                raise PackageError(
                    f"{where}: a mutant's name is letters, digits, '_', '-' and '.'",
                    file=where,
                    key=f"{key}.mutants",
                )
            try:
                files = _files_of(sub)
            except ValueError as exc:
                raise PackageError(str(exc), file=where, key=f"{key}.mutants") from exc
            stray = sorted(set(files) - set(implementation))
            if not files or stray:
                raise PackageError(
                    f"{where} must hold files of the reference "
                    f"({', '.join(sorted(implementation))}), "
                    + (f"not {stray[0]}" if stray else "and holds none"),
                    file=where,
                    key=f"{key}.mutants",
                    fix="a mutant is the reference with a mistake: the same file names",
                )
            hint = sub / HINT_FILE
            text = " ".join(hint.read_text(encoding="utf-8").split()) if hint.is_file() else ""
            if len(text) > MAX_HINT_CHARS:
                raise PackageError(
                    f"{where}/{HINT_FILE} is longer than {MAX_HINT_CHARS} characters",
                    file=f"{where}/{HINT_FILE}",
                    key=f"{key}.mutants",
                )
            hints[sub.name] = text
            names.append(sub.name)
        if not names:
            raise PackageError(
                f"{options.mutants}/ has no mutants",
                file=MANIFEST,
                key=f"{key}.mutants",
                fix="add one subdirectory per wrong implementation, e.g. mutants/no-digits/",
            )
        if options.reference_points is not None and options.reference_points > test.points:
            raise PackageError(
                f"reference_points ({options.reference_points:g}) is more than the entry's "
                f"points ({test.points:g})",
                file=MANIFEST,
                key=f"{key}.reference_points",
            )
        options._implementation = tuple(sorted(implementation))
        options._mutants = tuple(names)
        options._hints = hints

    # -- rows --------------------------------------------------------------------------
    def _shares(self, test: TestSpec, options: StudentTestsOptions) -> tuple[float, float]:
        count = max(1, len(options._mutants))  # check() found at least one
        reference = options.reference_points
        if reference is None:
            reference = test.points / (count + 1)
        return reference, (test.points - reference) / count

    def _rows(self, test: TestSpec, options: StudentTestsOptions) -> list[TestOutcome]:
        reference, each = self._shares(test, options)
        rows = [
            TestOutcome.failed(
                test, name=f"{test.name} :: your tests pass on the reference", max_score=reference
            )
        ]
        rows += [
            TestOutcome.failed(test, name=f"{test.name} :: mutant {name}", max_score=each)
            for name in options._mutants
        ]
        return rows

    def not_run(
        self, test: TestSpec, options: StudentTestsOptions, message: str
    ) -> list[TestOutcome]:
        return [
            replace(row, status=TestStatus.SKIPPED, message=message)
            for row in self._rows(test, options)
        ]

    # -- grading time ------------------------------------------------------------------
    def run(
        self, ctx: GradingContext, test: TestSpec, options: StudentTestsOptions
    ) -> list[TestOutcome]:
        rows = self._rows(test, options)
        student: dict[str, bytes] = {}
        for path in options.student_tests:
            data = ctx.read_output(path, max_bytes=MAX_FILE_BYTES)
            if data is None:
                message = f"your test file {path} is missing"
                return [replace(row, message=message) for row in rows]
            student[path] = data
        reference_dir = ctx.package.path(options.reference)
        implementations = {"": reference_dir} | {
            name: ctx.package.path(f"{options.mutants}/{name}") for name in options._mutants
        }
        order = list(options._mutants)
        ctx.rng.shuffle(order)  # the tests cannot tell the mutants apart by their order
        runs: dict[str, _Run] = {}
        with Sandbox(ctx.package.environment, backend=ctx.backend, limits=ctx.limits) as box:
            for name in ["", *order]:
                if name and not runs[""].passed:
                    break  # nothing a mutant run shows would count
                files = {
                    rel: (implementations[name] / rel)
                    if (implementations[name] / rel).is_file()
                    else reference_dir / rel
                    for rel in options._implementation
                }
                runs[name] = self._run_once(box, ctx, options, student, files)
        return self._judge(rows, runs, options)

    def _run_once(
        self,
        box: Sandbox,
        ctx: GradingContext,
        options: StudentTestsOptions,
        student: dict[str, bytes],
        implementation: dict[str, Path],
    ) -> _Run:
        box.reset()
        entries: list[WorkspaceEntry] = []
        dirs: set[str] = set()
        for rel in [*student, *implementation]:
            parents = PurePosixPath(rel).parents
            for parent in reversed(list(parents)[:-1]):
                if str(parent) not in dirs:
                    dirs.add(str(parent))
                    entries.append(WorkspaceEntry(str(parent), EntryKind.DIR))
        entries += [WorkspaceEntry(rel, EntryKind.FILE, data) for rel, data in student.items()]
        entries += [
            WorkspaceEntry(rel, EntryKind.FILE, path.read_bytes(), mode=0o444, owner_root=True)
            for rel, path in implementation.items()
        ]
        box.add_entries(entries)
        limits = ctx.limits.replace(
            wall_time_s=options.per_run_timeout_s,
            cpu_time_s=min(ctx.limits.cpu_time_s, options.per_run_timeout_s),
        )
        result = box.run(_argv(options), limits=limits, output_policy=OutputPolicy.TRUNCATE)
        return _verdict(options.runner, result)

    def _judge(
        self, rows: list[TestOutcome], runs: dict[str, _Run], options: StudentTestsOptions
    ) -> list[TestOutcome]:
        reference = runs[""]
        first = rows[0]
        out = [
            replace(
                first,
                status=reference.status,
                score=first.max_score if reference.passed else 0.0,
                message="passed" if reference.passed else reference.why,
                timing=_timing(reference.result),
                staff_detail=_staff(reference.result),
            )
        ]
        for row, name in zip(rows[1:], options._mutants, strict=True):
            run = runs.get(name)
            if run is None:
                message = "not run: your tests must pass on the reference first"
                out.append(replace(row, status=TestStatus.SKIPPED, message=message))
                continue
            hint = options._hints.get(name, "")
            caught = not run.passed
            if caught:
                message = "caught: your tests fail on this wrong implementation"
            else:
                message = "not caught: your tests pass on this wrong implementation"
            if hint and not caught:
                message += f". Hint: {hint}"
            out.append(
                replace(
                    row,
                    status=TestStatus.PASSED if caught else TestStatus.FAILED,
                    score=row.max_score if caught else 0.0,
                    message=message,
                    timing=_timing(run.result),
                    staff_detail=f"run: {run.why}\n{_staff(run.result)}",
                )
            )
        return out


def _argv(options: StudentTestsOptions) -> list[str]:
    if options.runner is Runner.PYTEST:
        return [
            "python3",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            "/work",
            *options.student_tests,
        ]
    modules = [path.removesuffix(".py").replace("/", ".") for path in options.student_tests]
    return ["python3", "-m", "unittest", *modules]


def _verdict(runner: Runner, result: RunResult) -> _Run:
    """Passed: the runner exited 0 and ran at least one test (else the reason, for students)."""
    if result.termination is not Termination.EXITED:
        return _Run(False, f"your tests did not finish: {describe_run(result)}", result)
    if runner is Runner.PYTEST and result.exit_code == PYTEST_NO_TESTS:
        return _Run(False, "no tests were collected from your test files", result)
    if runner is Runner.UNITTEST:
        ran = _RAN.findall(result.stderr[-4096:])
        if result.exit_code == PYTEST_NO_TESTS or (ran and int(ran[-1]) == 0):
            return _Run(False, "no tests ran from your test files", result)
    if result.exit_code != 0:
        return _Run(False, f"your tests failed (exit status {result.exit_code})", result)
    return _Run(True, "passed", result)


def _timing(result: RunResult) -> Timing:
    return Timing(wall_s=result.wall_time_s, peak_memory_bytes=result.peak_memory_bytes)


def _staff(result: RunResult) -> str:
    out = decode(result.stdout[-STAFF_OUTPUT_BYTES:])
    err = decode(result.stderr[-STAFF_OUTPUT_BYTES:])
    return f"exit: {describe_run(result)}\nstdout:\n{out}\nstderr:\n{err}".strip()
