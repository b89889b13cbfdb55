"""The ``python-unittest`` and ``pytest`` kinds: instructor spec tests in the sandbox.

The spec is transformed on the host (``assay.grading.tamper``: complements,
random names, shuffled order), copied with the runner into a read-only
harness directory, and run by ``harness/spec_runner.py`` against the
student's module. Results come back on the runner's authenticated channel,
never from the student's output. Points are split equally over the spec's
test functions, or in proportion to their weights (Gradescope's decorators
or ``weights`` in assignment.toml, see ``pyspec_meta``); a test passes only
if it passed and its complement (when it has one) failed by an assertion.
"""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field, PrivateAttr, model_validator

from assay.errors import PackageError
from assay.grading.gradescope.mapping import visibility as mapped_visibility
from assay.grading.harness.spec_runner import LIB_DIR, PLAN_FILE, PYTEST_INI
from assay.grading.kinds.base import KindOptions, TestKind
from assay.grading.kinds.options import WorkspaceDir
from assay.grading.kinds.pyspec_channel import (
    Channel,
    HostKey,
    Record,
    channel_verdict,
    read_channel,
)
from assay.grading.kinds.pyspec_meta import (
    MetaError,
    TestMeta,
    number_key,
    read_meta,
    select_tests,
    shares,
    with_tables,
)
from assay.grading.outcome import TestOutcome, TestStatus, Timing, decode, describe_run
from assay.grading.outcome import status_of_run as forced_status
from assay.grading.package import MANIFEST
from assay.grading.tamper import SpecMode, SpecTest, find_tests, transform
from assay.sandbox.result import RunResult, Termination
from assay.sandbox.spec import Limits, OutputPolicy

if TYPE_CHECKING:
    from assay.grading.context import GradingContext
    from assay.grading.package import AssignmentPackage
    from assay.grading.spec import TestSpec

RUNNER = "spec_runner.py"
DECORATORS = "gradescope_decorators.py"
# where the decorators go in the harness, so that Gradescope's import path works
DECORATOR_FILES = {
    f"{LIB_DIR}/gradescope_utils/__init__.py": b"",
    f"{LIB_DIR}/gradescope_utils/autograder_utils/__init__.py": b"",
}
DECORATORS_AT = f"{LIB_DIR}/gradescope_utils/autograder_utils/decorators.py"
EPSILON = 1e-9
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
    module_dir: WorkspaceDir = "."  # where the student's module is, in the workspace
    # per-test metadata by test name (``test_add`` or ``TestCalc.test_add``), over decorators
    weights: dict[str, float] = Field(default_factory=dict)
    visibilities: dict[str, str] = Field(default_factory=dict)
    numbers: dict[str, str] = Field(default_factory=dict)
    # selection, as pytest's node ids, -k and -m (all must hold)
    select: tuple[str, ...] = ()
    keyword: str | None = None
    markers: str | None = None
    _tests: tuple[SpecTest, ...] = PrivateAttr(default=())  # found by ``check``
    _meta: dict[str, TestMeta] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _short_tables(self) -> PySpecOptions:
        if max(len(self.weights), len(self.visibilities), len(self.numbers)) > 10_000:
            raise ValueError("a per-test table has too many entries")
        return self

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
        if options.markers is not None and self.mode is SpecMode.UNITTEST:
            raise PackageError(
                "markers selects pytest marks; a unittest spec has none",
                file=MANIFEST,
                key=f"{key}.markers",
                fix="use select or keyword, or the pytest kind",
            )
        try:
            selected, meta = self._planned(options, spec.read_text(encoding="utf-8"))
        except MetaError as exc:
            raise PackageError(
                str(exc),
                file=options.spec + (f":{exc.line}" if exc.line else "") if exc.line else MANIFEST,
                key=key,
                fix="give decorators literal values, and tables and selections names of the "
                "spec's test functions (docs/kinds-python.md)",
            ) from exc
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
        options._tests = selected
        options._meta = meta

    def _planned(
        self, options: PySpecOptions, source: str
    ) -> tuple[tuple[SpecTest, ...], dict[str, TestMeta]]:
        """The tests to run, in report order (by number), and their metadata."""
        tests = find_tests(source, self.mode, options.spec)
        meta = with_tables(
            read_meta(source, tests, options.spec),
            tests,
            weights=options.weights,
            visibilities=options.visibilities,
            numbers=options.numbers,
        )
        selected = select_tests(
            tests,
            meta,
            spec=options.spec,
            select=options.select,
            keyword=options.keyword,
            markers=options.markers,
        )
        ordered = sorted(selected, key=lambda t: number_key(meta[t.qualname].number))
        shares(1.0, ordered, meta)  # the weights must not add up to 0
        return tuple(ordered), meta

    def not_run(self, test: TestSpec, options: PySpecOptions, message: str) -> list[TestOutcome]:
        tests = options._tests or (SpecTest(test.name, 0, False),)
        meta = {t.qualname: options._meta.get(t.qualname, TestMeta()) for t in tests}
        points = shares(test.points, tests, meta)
        names = _display_names(tests)
        return [
            replace(
                self._row(test, points[t.qualname], names[t.qualname], meta[t.qualname]),
                status=TestStatus.SKIPPED,
                message=message,
            )
            for t in tests
        ]

    # -- grading time ------------------------------------------------------------------
    def run(self, ctx: GradingContext, test: TestSpec, options: PySpecOptions) -> list[TestOutcome]:
        source = ctx.package.path(options.spec).read_text(encoding="utf-8")
        tests, meta = self._planned(options, source)
        chosen = {t.qualname for t in tests}
        spec = transform(
            source, self.mode, rng=ctx.rng, anti_tamper=options.anti_tamper, filename=options.spec
        )
        key = HostKey.new()
        ids = [planned.id for planned in spec.plan if planned.original in chosen]
        harness = ctx.put_harness(self._files(ctx, options, spec.source, ids, key))
        result = ctx.run_student(
            ["python3", "-I", f"/work/{harness}/{RUNNER}", f"/work/{harness}"],
            cwd=options.module_dir,
            limits=_limits(ctx.limits, len(ids), options),
            output_policy=OutputPolicy.TRUNCATE,
        )
        channel = read_channel(result.stdout, key, ids)
        names = _display_names(tests)
        points = shares(test.points, tests, meta)
        output = decode(result.stderr[-OUTPUT_TAIL_BYTES:]) if result.stderr else ""
        outcomes = []
        for original in tests:
            planned = [p for p in spec.plan if p.original == original.qualname]
            main = next(p.id for p in planned if not p.complement)
            twin = next((p.id for p in planned if p.complement), None)
            own = meta[original.qualname]
            row = self._row(test, points[original.qualname], names[original.qualname], own)
            judged = _judge(replace(row, output=output), channel, result, main, twin)
            outcomes.append(_hide_errors(_partial(judged, channel.records.get(main), own), own))
        return channel_verdict(outcomes, channel, result)

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
        harness = resources.files("assay.grading.harness")
        files = {
            RUNNER: harness.joinpath(RUNNER).read_bytes(),
            PYTEST_INI: b"[pytest]\n",
            PLAN_FILE: json.dumps(plan).encode(),
            **DECORATOR_FILES,
            DECORATORS_AT: harness.joinpath(DECORATORS).read_bytes(),
        }
        for rel in options.files:
            inside = PurePosixPath(rel).relative_to(spec_rel.parent)
            files[f"spec/{inside}"] = ctx.package.path(rel).read_bytes()
        files[f"spec/{spec_rel.name}"] = source.encode()
        return files

    def _row(self, test: TestSpec, share: float, name: str, meta: TestMeta) -> TestOutcome:
        label = f"{meta.number} {name}" if meta.number else name
        return TestOutcome(
            name=f"{test.name} :: {label}",
            status=TestStatus.FAILED,
            score=0.0,
            max_score=share,
            kind=self.name,
            visibility=mapped_visibility(test.visibility, meta.visibility),
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


def _partial(row: TestOutcome, record: Record | None, meta: TestMeta) -> TestOutcome:
    """A partial-credit test's row with the score it set (clamped to 0..its weight).

    As on Gradescope, a score the test set counts whether it then passed, failed
    or raised (only calls from the spec's own files are reported: the runner
    ignores ``set_score`` called by the student's code); a test that set none
    scores its weight if it passed. A passed test whose complement did not
    confirm it, a timed-out or crashed one, or a tampered one keeps its 0.
    """
    if not meta.partial or record is None or record.score is None or row.tampered:
        return row
    if record.outcome not in ("passed", "failed", "error"):
        return row
    if record.outcome == "passed" and not row.passed:
        return row
    weight = meta.weight or 0.0
    got = min(max(record.score, 0.0), weight)
    score = row.max_score * got / weight if weight > 0 else 0.0
    full = record.outcome == "passed" and got >= weight - EPSILON
    note = f"partial credit: {got:g} / {weight:g}"
    if record.score != got:
        note += f" (the test set {record.score:g})"
    return replace(
        row,
        status=TestStatus.PASSED if full else TestStatus.FAILED,
        score=score,
        message=note if not row.message else f"{note}; {row.message}",
    )


def _hide_errors(row: TestOutcome, meta: TestMeta) -> TestOutcome:
    """``@hide_errors("text")``: students see the text, staff the failure."""
    if meta.hide_errors is None or row.passed or not row.message:
        return row
    staff = f"{row.message}\n{row.staff_detail or ''}".strip()
    return replace(row, message=meta.hide_errors, staff_detail=staff)
