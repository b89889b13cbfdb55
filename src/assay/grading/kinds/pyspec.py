"""The ``python-unittest`` and ``pytest`` kinds: instructor spec tests in the sandbox.

The spec is transformed on the host (``assay.grading.tamper``: complements,
random names, shuffled order), copied with the runner into a read-only
harness directory, and run by ``harness/spec_runner.py`` against the
student's module. Results come back on the runner's authenticated channel,
never from the student's output. Points are split equally over the spec's
test functions; a test passes only if it passed and its complement (when it
has one) failed by an assertion.
"""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field, PrivateAttr, field_validator

from assay.errors import PackageError, WorkspacePathError
from assay.grading.harness.spec_runner import PLAN_FILE, PYTEST_INI
from assay.grading.kinds.base import KindOptions, TestKind
from assay.grading.kinds.pyspec_channel import Channel, HostKey, Record, read_channel
from assay.grading.outcome import TestOutcome, TestStatus, Timing, decode, describe_run
from assay.grading.outcome import status_of_run as forced_status
from assay.grading.package import MANIFEST
from assay.grading.tamper import SpecMode, SpecTest, find_tests, transform
from assay.sandbox.hostfiles import normalise_workspace_path
from assay.sandbox.result import RunResult, Termination
from assay.sandbox.spec import Limits, OutputPolicy

if TYPE_CHECKING:
    from assay.grading.context import GradingContext
    from assay.grading.package import AssignmentPackage
    from assay.grading.spec import TestSpec

RUNNER = "spec_runner.py"
OUTPUT_TAIL_BYTES = 4 * 1024
STARTUP_S = 5.0  # interpreter, pytest import, handshake
PER_TEST_OVERHEAD_S = 0.5  # fork, clean-up, reporting
SIGKILL = 9
UNCONFIRMED = (
    "failed (the result could not be confirmed: does your code answer the same each time?)"
)


class PySpecOptions(KindOptions):
    spec: str  # the instructor's test file, in the package
    files: tuple[str, ...] = ()  # more package files the spec needs, put next to it
    anti_tamper: bool = True
    per_test_timeout_s: float = Field(default=5.0, gt=0, le=600)
    module_dir: str = "."  # where the student's module is, in the workspace
    _tests: tuple[SpecTest, ...] = PrivateAttr(default=())  # found by ``check``

    @field_validator("module_dir")
    @classmethod
    def _workspace_dir(cls, value: str) -> str:
        try:
            return normalise_workspace_path(value)
        except WorkspacePathError as exc:
            raise ValueError(exc.message) from exc

    @property
    def load_timeout_s(self) -> float:
        return max(10.0, 2 * self.per_test_timeout_s)


class _PySpecKind(TestKind[PySpecOptions]):
    Options = PySpecOptions
    mode: ClassVar[SpecMode]

    # -- load time ---------------------------------------------------------------------
    def check(
        self, options: PySpecOptions, test: TestSpec, package: AssignmentPackage, *, key: str
    ) -> None:
        spec = package.path(options.spec, key=f"{key}.spec")
        if not spec.is_file():
            raise PackageError(f"{options.spec!r} is not a file", file=MANIFEST, key=f"{key}.spec")
        try:
            tests = find_tests(spec.read_text(encoding="utf-8"), self.mode, options.spec)
        except (SyntaxError, ValueError) as exc:
            line = getattr(exc, "lineno", None)
            raise PackageError(
                f"the spec does not parse: {exc}",
                file=options.spec + (f":{line}" if line else ""),
                key=f"{key}.spec",
                fix="correct the Python syntax of the spec file",
            ) from exc
        if not tests:
            raise PackageError(
                f"no test functions found in {options.spec}",
                file=options.spec,
                key=f"{key}.spec",
                fix=_NO_TESTS_FIX[self.mode],
            )
        base = PurePosixPath(options.spec).parent
        for index, rel in enumerate(options.files):
            where = f"{key}.files[{index}]"
            if not package.path(rel, key=where).is_file():
                raise PackageError(f"{rel!r} is not a file", file=MANIFEST, key=where)
            if not PurePosixPath(rel).is_relative_to(base) or PurePosixPath(rel).name == "":
                raise PackageError(
                    f"{rel!r} is not in the spec's directory ({base})",
                    file=MANIFEST,
                    key=where,
                    fix="keep the files a spec needs in its directory (or below it)",
                )
        options._tests = tests

    def not_run(self, test: TestSpec, options: PySpecOptions, message: str) -> list[TestOutcome]:
        tests = options._tests or (SpecTest(test.name, 0, False),)
        share = test.points / len(tests)
        return [
            replace(self._row(test, share, name), status=TestStatus.SKIPPED, message=message)
            for name in _display_names(tests).values()
        ]

    # -- grading time ------------------------------------------------------------------
    def run(self, ctx: GradingContext, test: TestSpec, options: PySpecOptions) -> list[TestOutcome]:
        source = ctx.package.path(options.spec).read_text(encoding="utf-8")
        tests = find_tests(source, self.mode, options.spec)
        spec = transform(
            source, self.mode, rng=ctx.rng, anti_tamper=options.anti_tamper, filename=options.spec
        )
        key = HostKey.new()
        ids = [planned.id for planned in spec.plan]
        harness = ctx.put_harness(self._files(ctx, options, spec.source, ids, key))
        result = ctx.run_student(
            ["python3", "-I", f"/work/{harness}/{RUNNER}", f"/work/{harness}"],
            cwd=options.module_dir,
            limits=_limits(ctx.limits, len(ids), options),
            output_policy=OutputPolicy.TRUNCATE,
        )
        channel = read_channel(result.stdout, key, ids)
        names = _display_names(tests)
        share = test.points / len(tests)
        output = decode(result.stderr[-OUTPUT_TAIL_BYTES:]) if result.stderr else ""
        outcomes = []
        for original in tests:
            planned = [p for p in spec.plan if p.original == original.qualname]
            main = next(p.id for p in planned if not p.complement)
            twin = next((p.id for p in planned if p.complement), None)
            row = replace(self._row(test, share, names[original.qualname]), output=output)
            outcomes.append(_judge(row, channel, result, main, twin))
        return _channel_verdict(outcomes, channel, result)

    def _files(
        self,
        ctx: GradingContext,
        options: PySpecOptions,
        source: str,
        ids: list[str],
        key: HostKey,
    ) -> dict[str, bytes]:
        spec_rel = PurePosixPath(options.spec)
        module_dir = "/work" if options.module_dir == "." else f"/work/{options.module_dir}"
        plan = {
            "mode": self.mode.value,
            "spec": f"spec/{spec_rel.name}",
            "module_dir": module_dir,
            "ids": ids,
            "timeout_s": options.per_test_timeout_s,
            "load_timeout_s": options.load_timeout_s,
            "host_public": key.public_hex,
        }
        files = {
            RUNNER: resources.files("assay.grading.harness").joinpath(RUNNER).read_bytes(),
            PYTEST_INI: b"[pytest]\n",
            PLAN_FILE: json.dumps(plan).encode(),
        }
        for rel in options.files:
            inside = PurePosixPath(rel).relative_to(spec_rel.parent)
            files[f"spec/{inside}"] = ctx.package.path(rel).read_bytes()
        files[f"spec/{spec_rel.name}"] = source.encode()
        return files

    def _row(self, test: TestSpec, share: float, name: str) -> TestOutcome:
        return TestOutcome(
            name=f"{test.name} :: {name}",
            status=TestStatus.FAILED,
            score=0.0,
            max_score=share,
            kind=self.name,
            visibility=test.visibility,
            group=test.group,
        )


class UnittestKind(_PySpecKind):
    name = "python-unittest"
    mode = SpecMode.UNITTEST


class PytestKind(_PySpecKind):
    name = "pytest"
    mode = SpecMode.PYTEST


_NO_TESTS_FIX = {
    SpecMode.UNITTEST: "write test* methods in a unittest.TestCase subclass",
    SpecMode.PYTEST: "write test* functions, or test* methods in Test* classes",
}


def _display_names(tests: tuple[SpecTest, ...]) -> dict[str, str]:
    """The function's name, or ``Class.name`` where two classes share a name."""
    counts: dict[str, int] = {}
    for t in tests:
        counts[t.name] = counts.get(t.name, 0) + 1
    return {t.qualname: t.name if counts[t.name] == 1 else t.qualname for t in tests}


def _limits(limits: Limits, count: int, options: PySpecOptions) -> Limits:
    """The test's limits, with time enough for every spec test to use its timeout."""
    budget = STARTUP_S + options.load_timeout_s
    budget += count * (options.per_test_timeout_s + PER_TEST_OVERHEAD_S)
    return limits.replace(
        wall_time_s=max(limits.wall_time_s, budget), cpu_time_s=max(limits.cpu_time_s, budget)
    )


def _missing(row: TestOutcome, result: RunResult, what: str) -> TestOutcome:
    status = forced_status(result) or TestStatus.FAILED
    return replace(
        row,
        status=status,
        message=f"no result: the test run ended early ({describe_run(result)})",
        staff_detail=f"no result on the channel for {what}",
    )


def _failed(row: TestOutcome, record: Record, result: RunResult) -> TestOutcome:
    timing = Timing(wall_s=record.wall_s, peak_memory_bytes=result.peak_memory_bytes)
    row = replace(row, timing=timing, staff_detail=f"{record.outcome}: {record.message}")
    match record.outcome:
        case "timeout":
            return replace(row, status=TestStatus.TIMEOUT, message=record.message)
        case "crashed":
            oom = record.signal == SIGKILL and result.termination is Termination.MEMORY_LIMIT
            status = TestStatus.MEMORY_LIMIT if oom else TestStatus.CRASHED
            return replace(row, status=status, message=record.message)
        case "skipped":
            return replace(row, message=f"{record.message} (a skipped test counts as failed)")
        case _:
            return replace(row, message=record.message or record.outcome)


def _judge(
    row: TestOutcome, channel: Channel, result: RunResult, main: str, twin: str | None
) -> TestOutcome:
    record = channel.records.get(main)
    if record is None:
        return _missing(row, result, main)
    if record.outcome != "passed":
        return _failed(row, record, result)
    timing = Timing(wall_s=record.wall_s, peak_memory_bytes=result.peak_memory_bytes)
    passed = replace(row, status=TestStatus.PASSED, score=row.max_score, timing=timing)
    if twin is None:
        return passed
    complement = channel.records.get(twin)
    if complement is not None and complement.outcome == "failed" and complement.assertion:
        return passed
    if complement is not None and complement.outcome == "passed":
        return replace(
            row,
            timing=timing,
            message="failed",
            tampered=True,
            staff_detail=(
                f"tampering: passed both {main} and its complement {twin} (the last assertion "
                "flipped); the tests were changed, or values compare equal to anything"
            ),
        )
    how = "no result" if complement is None else f"{complement.outcome}: {complement.message}"
    return replace(
        row,
        timing=timing,
        message=UNCONFIRMED,
        staff_detail=f"passed {main}, but its complement {twin} did not fail by an assertion "
        f"({how})",
    )


def _channel_verdict(
    outcomes: list[TestOutcome], channel: Channel, result: RunResult
) -> list[TestOutcome]:
    notes = list(channel.notes)
    if not channel.done and result.termination is Termination.EXITED:
        notes.append("the runner did not finish its report")
    if channel.forged:
        forged = (
            f"tampering: {channel.forged} forged line(s) on the result channel; "
            "every test of this entry scores 0"
        )
        return [
            replace(
                o,
                status=TestStatus.FAILED if o.passed else o.status,
                score=0.0,
                message="failed" if o.passed else o.message,
                tampered=True,
                staff_detail="\n".join([forged, *notes, o.staff_detail or ""]).strip(),
            )
            for o in outcomes
        ]
    if notes:
        note = "\n".join(notes)
        return [replace(o, staff_detail=f"{o.staff_detail}\n{note}".strip()) for o in outcomes]
    return outcomes
