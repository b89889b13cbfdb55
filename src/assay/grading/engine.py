"""The grading pipeline: static checks, build once, run every test, report.

One sandbox session per submission: the build's output stays in the
workspace for every test (build once, test many). A student's failure is an
outcome; an exception from our side turns the report's status to ``error``
so it is retried, never recorded as a score.
"""

from __future__ import annotations

import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from assay.config import DEFAULT_GRADING_PARALLEL_RUNS
from assay.errors import AssayError
from assay.files.fileset import FileSet
from assay.grading import depends, scoring, static
from assay.grading.context import GradingContext, NullProgress, Progress
from assay.grading.diagnostics import parse_diagnostics
from assay.grading.hookplan import PlannedTest
from assay.grading.hookrun import HookResult, HookSandbox, PhaseResult
from assay.grading.kinds import get_kind
from assay.grading.outcome import (
    BUILD_NOT_RUN,
    BuildStatus,
    Diagnostic,
    StaticFinding,
    TestOutcome,
    TestStatus,
    Timing,
    decode,
    describe_run,
    status_of_run,
)
from assay.grading.package import AssignmentPackage
from assay.grading.report import BuildReport, GradeReport, ReportStatus, StaticReport, Timings
from assay.grading.spec import TestSpec
from assay.grading.stages import Stage
from assay.sandbox.base import EntryKind, SandboxBackend, WorkspaceEntry
from assay.sandbox.hostfiles import entries_from_host
from assay.sandbox.session import Sandbox

log = logging.getLogger(__name__)

BUILD_LOG_LIMIT = 256 * 1024
INTERNAL_ERROR = "grading failed on our side, not because of your submission; it will be retried"
TEST_FAILED_ON_OUR_SIDE = "this test could not be run (an internal error, not your fault)"


class _Build:
    def __init__(self) -> None:
        self.status = BuildStatus.SKIPPED
        self.log = ""
        self.timing = Timing()
        self.diagnostics: list[Diagnostic] = []
        self.failure = ""


def grade(
    package: AssignmentPackage,
    submission: FileSet,
    *,
    backend: SandboxBackend,
    parallel_runs: int = DEFAULT_GRADING_PARALLEL_RUNS,
    progress: Progress | None = None,
    seed: int | None = None,
) -> GradeReport:
    """Grade one submission against a loaded package.

    ``backend``: the caller's backend object (the platform's; the CLI makes one from
    its settings). ``parallel_runs``:
    independent tests run this many at a time where the sandbox allows it
    (``settings.grading_parallel_runs``, passed in by the caller).
    """
    grading = _Grading(
        package, submission, backend, progress or NullProgress(), seed, parallel_runs=parallel_runs
    )
    return grading.run()


class _Grading:
    def __init__(
        self,
        package: AssignmentPackage,
        submission: FileSet,
        backend: SandboxBackend,
        progress: Progress,
        seed: int | None,
        *,
        parallel_runs: int,
    ) -> None:
        self.package = package
        self.submission = submission
        self.backend = backend
        self.parallel_runs = parallel_runs
        self.progress = progress
        self.rng = random.Random(seed)  # noqa: S311 - shuffling tests, not cryptography
        self.build = _Build()
        self.outcomes: list[TestOutcome] = []
        self.static_findings: list[StaticFinding] = []
        self.timings = {"setup": 0.0, "build": 0.0, "tests": 0.0}
        self.staff_error: str | None = None
        self.hook_box: HookSandbox | None = None

    def run(self) -> GradeReport:
        started = time.monotonic()
        try:
            self._static_sources()
            self.progress.stage(Stage.SETUP)
            box = Sandbox(
                self.package.environment, backend=self.backend, limits=self.package.limits
            )
            with box:
                ctx = GradingContext(
                    self.package,
                    box,
                    self.backend,
                    self.package.limits,
                    rng=self.rng,
                    progress=self.progress,
                )
                try:
                    self._setup(box)
                    self.timings["setup"] = time.monotonic() - started
                    self._build(ctx)
                    if self.build.status is BuildStatus.PASSED:
                        # before any test: student code that runs could remove the objects
                        self.static_findings += static.check_build(
                            self.package.spec.static, self.package.environment.family, ctx
                        )
                    self._tests(ctx)
                finally:
                    ctx.close()
                    if self.hook_box is not None:
                        self.hook_box.close()
        except AssayError as exc:
            log.exception("grading %s failed", self.package.spec.assignment.name)
            self.staff_error = f"{type(exc).__name__}: {exc.message}"
        self.progress.stage(Stage.DONE)
        return self._report(time.monotonic() - started)

    # -- stages --------------------------------------------------------------
    def _static_sources(self) -> None:
        spec = self.package.spec.static
        if spec.enabled:
            self.progress.stage(Stage.STATIC)
            self.static_findings += static.check_sources(
                spec, self.package.environment.family, self.submission.as_mapping()
            )

    def _setup(self, box: Sandbox) -> None:
        entries = [
            WorkspaceEntry(f.path, EntryKind.FILE, f.data, mode=0o755 if f.executable else 0o644)
            for f in self.submission.files
        ]
        box.add_entries(_with_parents(entries))
        support = self.package.optional_dir(self.package.spec.paths.support)
        if support is not None:
            box.add_entries(list(entries_from_host(support, ".", owner_root=True, read_only=True)))

    def _build(self, ctx: GradingContext) -> None:
        spec = self.package.spec.build
        present = {f.path for f in self.submission.files}
        missing = [name for name in spec.required_files if name not in present]
        if missing:
            self.build.status = BuildStatus.FAILED
            self.build.failure = "missing required file(s): " + ", ".join(missing)
            self.build.log = self.build.failure + "\n"
            return
        hooks = self.package.hooks
        if not spec.commands and not (hooks and hooks.builds):
            return
        self.progress.stage(Stage.BUILDING)
        started = time.monotonic()
        self.build.status = BuildStatus.PASSED
        logs: list[str] = []
        for argv in spec.commands:
            logs.append("$ " + " ".join(argv) + "\n")
            result = ctx.run_student(argv, limits=self.package.build_limits)
            self.build.timing += Timing.of(result)
            logs.append(decode(result.stdout + result.stderr, BUILD_LOG_LIMIT))
            if not result.ok:
                self.build.status = BuildStatus.FAILED
                self.build.failure = f"the build failed: {' '.join(argv)}: {describe_run(result)}"
                logs.append(f"[{describe_run(result)}]\n")
                break
        if self.build.status is BuildStatus.PASSED and hooks and hooks.builds:
            self._build_hooks(ctx, self._hooks(ctx).run_phase(ctx, {"phase": "build"}, ()), logs)
        self.build.log = "".join(logs)[-BUILD_LOG_LIMIT:]
        self.build.diagnostics = parse_diagnostics(
            self.build.log, self.package.environment.family, sources=self.submission.as_mapping()
        )
        self.timings["build"] = time.monotonic() - started

    def _hooks(self, ctx: GradingContext) -> HookSandbox:
        """The grading's hook sandbox (opened on first use)."""
        if self.hook_box is None:
            planned = self.package.hooks.tests if self.package.hooks else ()
            self.hook_box = HookSandbox(self.package, ctx, len(planned))
        return self.hook_box

    def _build_hooks(self, ctx: GradingContext, phase: PhaseResult, logs: list[str]) -> None:
        for result in phase.builds:
            if result.error is not None:
                self.build.status = BuildStatus.ERROR
                self.staff_error = "build hook raised:\n" + result.error
                self.build.failure = "the build hook failed"
                return
            logs.append(result.text)
            if not result.passed:
                self.build.status = BuildStatus.FAILED
                self.build.failure = "the build failed"
                return
        expected = self.package.hooks.builds if self.package.hooks else 0
        if phase.failure is not None or len(phase.builds) < expected:
            self.build.status = BuildStatus.ERROR
            self.staff_error = phase.failure or "the build hooks did not all report"
            self.build.failure = "the build hooks failed"

    def _tests(self, ctx: GradingContext) -> None:
        tests = list(self.package.spec.tests)
        hooks = self.package.hooks
        hook_tests = list(hooks.tests) if hooks else []
        total = len(tests) + len(hook_tests)
        started = time.monotonic()
        parallel = self.parallel_runs if ctx.sandbox.concurrent_runs else 1
        order = depends.run_order(tests)  # each test after the tests it depends on
        results: dict[str, list[TestOutcome]] = {}
        with ThreadPoolExecutor(parallel, thread_name_prefix="assay-test") as pool:
            index = 0
            while index < len(order):
                batch = [order[index]]
                if parallel > 1 and self._concurrent(order[index]):
                    # a batch runs at once: no test in it may depend on another in it
                    while index + len(batch) < len(order) and self._joins(
                        order[index + len(batch)], batch
                    ):
                        batch.append(order[index + len(batch)])
                numbered = list(enumerate(batch, index + 1))
                for test, outcomes in zip(
                    batch,
                    pool.map(
                        lambda item: self._one_test(ctx, item[0], item[1], total, results),
                        numbered,
                    ),
                    strict=True,
                ):
                    results[test.name] = outcomes
                index += len(batch)
        for test in tests:  # reported in the manifest's order
            self.outcomes += results[test.name]
        if hook_tests:
            self.outcomes += self._hook_tests(ctx, hook_tests, len(tests), total)
        self.timings["tests"] = time.monotonic() - started

    def _concurrent(self, test: TestSpec) -> bool:
        return get_kind(test.kind).concurrent_safe(self.package.options[test.name])

    def _joins(self, test: TestSpec, batch: list[TestSpec]) -> bool:
        names = {t.name for t in batch}
        return self._concurrent(test) and not names.intersection(test.depends)

    def _one_test(
        self,
        ctx: GradingContext,
        number: int,
        test: TestSpec,
        total: int,
        results: dict[str, list[TestOutcome]],
    ) -> list[TestOutcome]:
        self.progress.stage(Stage.TESTING, test.name, number, total)
        kind = get_kind(test.kind)
        options = self.package.options[test.name]
        if self.build.status not in (BuildStatus.PASSED, BuildStatus.SKIPPED):
            # the build's failure is shown once, in the build; the tests are "not run"
            return kind.not_run(test, options, BUILD_NOT_RUN)
        blocked = depends.blocked_by(test, results)
        if blocked is not None:
            return kind.not_run(test, options, blocked)
        ctx = replace(ctx, limits=self.package.test_limits(test))
        try:
            outcomes = kind.run(ctx, test, options)
        except AssayError as exc:
            log.exception("test %r failed on our side", test.name)
            return [
                TestOutcome.failed(
                    test,
                    status=TestStatus.ERROR,
                    message=TEST_FAILED_ON_OUR_SIDE,
                    staff_detail=f"{type(exc).__name__}: {exc.message}",
                )
            ]
        return [scoring.clamped(o) for o in outcomes]

    def _hook_tests(
        self, ctx: GradingContext, planned: list[PlannedTest], before: int, total: int
    ) -> list[TestOutcome]:
        if self.build.status not in (BuildStatus.PASSED, BuildStatus.SKIPPED):
            return [
                replace(_hook_base(t), status=TestStatus.SKIPPED, message=BUILD_NOT_RUN)
                for t in planned
            ]
        numbers = {t.name: number for number, t in enumerate(planned, before + 1)}

        def progress(name: str) -> None:
            if name in numbers:
                self.progress.stage(Stage.TESTING, name, numbers[name], total)

        ctx = replace(ctx, limits=self.package.limits)
        names = [t.name for t in planned]
        job = {"phase": "tests", "tests": names}
        try:
            phase = self._hooks(ctx).run_phase(ctx, job, names, progress)
        except AssayError as exc:
            log.exception("the hook sandbox of %s failed", self.package.spec.assignment.name)
            phase = PhaseResult(failure=f"{type(exc).__name__}: {exc.message}")
        return [_hook_outcome(t, phase.tests.get(t.name), phase.failure) for t in planned]

    # -- report --------------------------------------------------------------
    def _report(self, total_s: float) -> GradeReport:
        spec = self.package.spec.static
        findings = self.static_findings if spec.enabled else []
        verdict = scoring.apply_static(spec, findings, self.outcomes)
        outcomes = verdict.outcomes
        max_score = self.package.max_score
        infra_failed = (
            self.staff_error is not None
            or self.build.status is BuildStatus.ERROR
            or any(o.status is TestStatus.ERROR for o in outcomes)
        )
        return GradeReport(
            assignment=self.package.spec.assignment.name,
            assignment_version=self.package.spec.assignment.version,
            status=ReportStatus.ERROR if infra_failed else ReportStatus.GRADED,
            score=scoring.submission_score(
                outcomes, max_score, deducted=verdict.deducted, fail_all=verdict.fail_all
            ),
            max_score=round(max_score, 4),
            build=BuildReport(
                status=self.build.status,
                log=self.build.log,
                diagnostics=self.build.diagnostics,
                timing=self.build.timing,
            ),
            tests=outcomes,
            static=(
                StaticReport(effect=spec.effect, findings=findings, deducted=verdict.deducted)
                if spec.enabled
                else None
            ),
            tampered=any(o.tampered for o in outcomes),
            error=INTERNAL_ERROR if infra_failed else None,
            staff_error=self.staff_error,
            backend=self.backend.name,
            environment=self.package.environment.name,
            timings=Timings(
                total_s=round(total_s, 6),
                setup_s=round(self.timings["setup"], 6),
                build_s=round(self.timings["build"], 6),
                tests_s=round(self.timings["tests"], 6),
            ),
        )


def _hook_base(planned: PlannedTest) -> TestOutcome:
    return TestOutcome(
        name=planned.name,
        status=TestStatus.FAILED,
        score=0.0,
        max_score=planned.points,
        kind="hook",
        visibility=planned.visibility,
        group=planned.group,
    )


def _hook_outcome(
    planned: PlannedTest, result: HookResult | None, failure: str | None
) -> TestOutcome:
    """A hook test's outcome: its failure (or the runner's) is an error of ours."""
    base = _hook_base(planned)
    if result is None or result.error is not None:
        detail = (
            "test hook raised:\n" + result.error
            if result is not None and result.error is not None
            else failure or "the hook runner did not report this test"
        )
        return replace(
            base, status=TestStatus.ERROR, message=TEST_FAILED_ON_OUR_SIDE, staff_detail=detail
        )
    score = result.score if result.score is not None else (planned.points if result.passed else 0.0)
    return scoring.clamped(
        replace(
            base,
            status=TestStatus.PASSED if result.passed else TestStatus.FAILED,
            score=score,
            message=result.text,
            output=result.output,
            timing=Timing(wall_s=result.wall_s),
        )
    )


def _with_parents(entries: list[WorkspaceEntry]) -> list[WorkspaceEntry]:
    dirs: dict[str, WorkspaceEntry] = {}
    for entry in entries:
        parts = entry.path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            path = "/".join(parts[:depth])
            dirs.setdefault(path, WorkspaceEntry(path, EntryKind.DIR, mode=0o755))
    return [*dirs.values(), *entries]


__all__ = ["grade", "status_of_run"]
