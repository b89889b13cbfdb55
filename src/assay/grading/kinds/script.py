"""The ``script`` test kind: an instructor command run in the student's sandbox after the build.

``files`` are put read-only in a fresh harness directory; ``{harness}`` in the
command is its absolute path inside the sandbox. Without ``results_file`` the
test passes on exit status 0. With it, the score comes from the file the
script writes (JSON or TAP, ``script_results``); the file is emptied before
the run so nothing an earlier step left there counts. The script shares the
sandbox with the student's code, so its results are only as trustworthy as
the script's own care (see docs/kinds-asserts-script-valgrind.md).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Literal

from pydantic import field_validator

from assay.errors import PackageError, WorkspacePathError
from assay.grading.kinds.base import KindOptions, TestKind
from assay.grading.kinds.options import Command, workspace_file
from assay.grading.kinds.script_results import (
    MAX_RESULTS_BYTES,
    ScriptResults,
    parse_json_results,
    parse_tap,
)
from assay.grading.outcome import (
    TestOutcome,
    TestStatus,
    Timing,
    decode,
    describe_run,
    status_of_run,
)
from assay.grading.package import MANIFEST
from assay.grading.results_json import ResultsError
from assay.sandbox.base import EntryKind, WorkspaceEntry

if TYPE_CHECKING:
    from pathlib import Path

    from assay.grading.context import GradingContext
    from assay.grading.package import AssignmentPackage
    from assay.grading.spec import TestSpec

HARNESS = "{harness}"
WORKSPACE = "/work"
OUTPUT_SHOWN_BYTES = 8 * 1024
MAX_HARNESS_FILES = 200


class ScriptOptions(KindOptions):
    command: Command
    files: tuple[str, ...] = ()  # package files or directories, put in {harness}
    results_file: str | None = None  # workspace path the script writes
    format: Literal["auto", "json", "tap"] = "auto"

    @field_validator("results_file")
    @classmethod
    def _results_file(cls, value: str | None) -> str | None:
        return None if value is None else workspace_file(value)

    @property
    def results_format(self) -> Literal["json", "tap"]:
        if self.format != "auto":
            return self.format
        return "tap" if (self.results_file or "").endswith(".tap") else "json"


class ScriptKind(TestKind[ScriptOptions]):
    name = "script"
    Options = ScriptOptions

    def check(
        self, options: ScriptOptions, test: TestSpec, package: AssignmentPackage, *, key: str
    ) -> None:
        harness_files(package, options, key=key)

    def run(self, ctx: GradingContext, test: TestSpec, options: ScriptOptions) -> list[TestOutcome]:
        base = TestOutcome.failed(test)
        files, executable = harness_files(ctx.package, options)
        harness = f"{WORKSPACE}/{ctx.put_harness(files, executable=executable)}"
        argv = [arg.replace(HARNESS, harness) for arg in options.command]
        if options.results_file is not None:
            problem = _reset(ctx, options.results_file)
            if problem:
                return [replace(base, message=problem)]
        result = ctx.run_student(argv)
        output = decode(result.stdout + result.stderr, OUTPUT_SHOWN_BYTES)
        outcome = replace(base, timing=Timing.of(result), output=output)
        forced = status_of_run(result)
        if forced is not None:
            return [
                replace(outcome, status=forced, message=f"the test script {describe_run(result)}")
            ]
        if options.results_file is None:
            if result.ok:
                return [replace(outcome, status=TestStatus.PASSED, score=test.points)]
            return [replace(outcome, message=f"the test script {describe_run(result)}")]
        try:
            results = _results(ctx, options)
        except ResultsError as exc:
            return [replace(outcome, message=f"{options.results_file}: {exc}")]
        score = test.points * results.fraction
        status = TestStatus.PASSED if results.complete else TestStatus.FAILED
        return [replace(outcome, status=status, score=score, message=results.summary())]


def harness_files(
    package: AssignmentPackage, options: ScriptOptions, *, key: str = "tests"
) -> tuple[dict[str, bytes], set[str]]:
    """The harness: each listed file by its name, each directory as a tree under its name."""
    files: dict[str, bytes] = {}
    executable: set[str] = set()
    for index, rel in enumerate(options.files):
        where = f"{key}.files[{index}]"
        path = package.path(rel, key=where)
        members = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for member in members:
            name = _harness_name(path, member)
            if name in files:
                raise PackageError(
                    f"two harness files would both be named {name!r}",
                    file=MANIFEST,
                    key=where,
                    fix="rename one of them or put them in a directory",
                )
            files[name] = member.read_bytes()
            if member.stat().st_mode & 0o111:
                executable.add(name)
    if len(files) > MAX_HARNESS_FILES:
        raise PackageError(
            f"more than {MAX_HARNESS_FILES} harness files", file=MANIFEST, key=f"{key}.files"
        )
    return files, executable


def _harness_name(root: Path, member: Path) -> str:
    if member == root:
        return root.name
    return str(PurePosixPath(root.name, *member.relative_to(root).parts))


def _reset(ctx: GradingContext, path: str) -> str:
    """Put an empty, student-owned results file in place; a message if that was blocked."""
    try:
        ctx.sandbox.add_entries([WorkspaceEntry(path, EntryKind.FILE, b"", mode=0o644)])
    except WorkspacePathError:
        return f"the results file {path} could not be prepared: the submission changed its path"
    return ""


def _results(ctx: GradingContext, options: ScriptOptions) -> ScriptResults:
    path = options.results_file or ""
    try:
        data = ctx.sandbox.read_file(path, max_bytes=MAX_RESULTS_BYTES)
    except WorkspacePathError as exc:
        raise ResultsError(
            f"the test script wrote no readable results file ({exc.message})"
        ) from exc
    if options.results_format == "tap":
        return parse_tap(data)
    return parse_json_results(data)
