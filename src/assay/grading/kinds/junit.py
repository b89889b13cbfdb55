"""The ``junit`` kind: instructor JUnit 5 / JUnit 4 test classes against the student's Java.

One sandbox run per entry. ``harness/junit_runner.py`` (P, which never loads
student code) starts one JVM for all the test classes of the entry, running
Assay's runner (``harness/java``, compiled once per environment by
``junit_agent``). The runner compiles the instructor's sources in memory
against the student's classes (built by ``[build]``) and reports each test
method; P relays the reports on the spec runner's authenticated channel (see
``junit_runner`` for what each side guarantees). One outcome per test method;
points and visibility come from ``junit_plan``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from assay.grading.kinds.base import TestKind
from assay.grading.kinds.junit_agent import (
    SUPPORT_PACKAGE,
    agent_classes,
    java_sources,
    junit_classpath,
)
from assay.grading.kinds.junit_plan import JUnitOptions, PlannedTest, load_plan
from assay.grading.kinds.pyspec_channel import (
    Channel,
    HostKey,
    Record,
    channel_verdict,
    read_channel,
)
from assay.grading.outcome import TestOutcome, TestStatus, Timing, decode, describe_run
from assay.grading.outcome import status_of_run as forced_status
from assay.sandbox.result import RunResult, Termination
from assay.sandbox.spec import Limits, OutputPolicy

if TYPE_CHECKING:
    from assay.grading.context import GradingContext
    from assay.grading.package import AssignmentPackage
    from assay.grading.spec import TestSpec

RUNNER = "junit_runner.py"
CHANNEL_MODULE = "spec_runner.py"  # the runner imports the channel's code from it
PLAN_FILE = "plan.json"  # as spec_runner.PLAN_FILE (junit_runner reads it with read_plan)
NOTES_ID = "assay:notes"  # as junit_runner.NOTES_ID
MAX_STARTS = 3  # JVMs per run: the first, and one more after each of two early ends
OUTPUT_TAIL_BYTES = 4 * 1024
PER_TEST_OVERHEAD_S = 0.5
SIGKILL = 9
FIXED_JVM_OPTIONS = (
    "-XX:+DisableAttachMechanism",  # no other process of the student's attaches to read memory
    "-Djava.awt.headless=true",
)


class JUnitKind(TestKind[JUnitOptions]):
    name = "junit"
    Options = JUnitOptions

    # -- load time ---------------------------------------------------------------------
    def check(
        self, options: JUnitOptions, test: TestSpec, package: AssignmentPackage, *, key: str
    ) -> None:
        options._plan, options._classes = load_plan(options, test, package, key=key)

    def not_run(self, test: TestSpec, options: JUnitOptions, message: str) -> list[TestOutcome]:
        plan = options._plan or (PlannedTest("", test.name, 1.0, test.visibility),)
        return [replace(row, message=message) for row in _rows(test, plan)]

    # -- grading time ------------------------------------------------------------------
    def run(self, ctx: GradingContext, test: TestSpec, options: JUnitOptions) -> list[TestOutcome]:
        plan, classes = options._plan, options._classes  # made by ``check`` at load time
        if not plan:
            plan, classes = load_plan(options, test, ctx.package, key="tests")
        rows = _rows(test, plan)
        jars = junit_classpath(ctx)
        sources = {
            f"src/{PurePosixPath(rel).name}": ctx.package.path(rel).read_bytes()
            for rel in options.sources
        }  # names are unique (``load_plan``)
        sources.update({f"src/{rel}": data for rel, data in java_sources(SUPPORT_PACKAGE).items()})
        key = HostKey.new()
        ids = [p.key for p in plan]
        plan_data = {
            "ids": ids,
            "classes": list(classes),
            "classpath": ":".join([*jars, *(_in_workspace(c) for c in options.classpath)]),
            "java": ["java", *options.jvm_options, *FIXED_JVM_OPTIONS],
            "cwd": "/work",
            "timeout_s": options.per_test_timeout_s,
            "idle_timeout_s": options.startup_timeout_s,
            "max_starts": MAX_STARTS,
            "host_public": key.public_hex,
        }
        files = {
            **agent_classes(ctx),
            **sources,
            **_runner_files(),
            PLAN_FILE: json.dumps(plan_data).encode(),
        }
        harness = ctx.put_harness(files)
        result = ctx.run_student(
            ["python3", "-E", "-s", f"/work/{harness}/{RUNNER}", f"/work/{harness}"],
            limits=_limits(ctx.limits, len(ids), options),
            output_policy=OutputPolicy.TRUNCATE,
        )
        channel = read_channel(result.stdout, key, [*ids, NOTES_ID])
        notes = channel.records.pop(NOTES_ID, None)
        if notes is not None and notes.message:
            channel.notes.append(notes.message)
        output = decode(result.stderr[-OUTPUT_TAIL_BYTES:]) if result.stderr else ""
        outcomes = [
            _judge(replace(row, output=output), channel, result, planned.key)
            for row, planned in zip(rows, plan, strict=True)
        ]
        pipe_forged = notes is not None and notes.outcome == "failed"
        forged = (
            "lines without the run's token on the test JVM's report pipe" if pipe_forged else ""
        )
        return channel_verdict(outcomes, channel, result, also_forged=forged)


def _rows(test: TestSpec, plan: tuple[PlannedTest, ...]) -> list[TestOutcome]:
    total = sum(p.weight for p in plan)
    return [
        TestOutcome(
            name=f"{test.name} :: {p.name}",
            status=TestStatus.FAILED,
            score=0.0,
            max_score=test.points * p.weight / total if total else 0.0,
            kind="junit",
            visibility=p.visibility,
            group=test.group,
        )
        for p in plan
    ]


# -- files -------------------------------------------------------------------------------
def _in_workspace(path: str) -> str:
    return "/work" if path == "." else f"/work/{path}"


def _runner_files() -> dict[str, bytes]:
    harness = resources.files("assay.grading.harness")
    return {name: harness.joinpath(name).read_bytes() for name in (RUNNER, CHANNEL_MODULE)}


# -- verdicts -----------------------------------------------------------------------------
def _limits(limits: Limits, count: int, options: JUnitOptions) -> Limits:
    """The test's limits, with time for every JVM start and every test's timeout."""
    budget = MAX_STARTS * options.startup_timeout_s
    budget += count * (options.per_test_timeout_s + PER_TEST_OVERHEAD_S)
    return limits.replace(
        wall_time_s=max(limits.wall_time_s, budget), cpu_time_s=max(limits.cpu_time_s, budget)
    )


def _judge(row: TestOutcome, channel: Channel, result: RunResult, key: str) -> TestOutcome:
    record = channel.records.get(key)
    if record is None:
        status = forced_status(result) or TestStatus.FAILED
        return replace(
            row,
            status=status,
            message=f"no result: the test run ended early ({describe_run(result)})",
            staff_detail=f"no result on the channel for {key}",
        )
    timing = Timing(wall_s=record.wall_s, peak_memory_bytes=result.peak_memory_bytes)
    if record.outcome == "passed":
        return replace(row, status=TestStatus.PASSED, score=row.max_score, timing=timing)
    row = replace(row, timing=timing, staff_detail=f"{record.outcome}: {record.message}")
    return replace(row, status=_status(record, result), message=_message(record))


def _status(record: Record, result: RunResult) -> TestStatus:
    match record.outcome:
        case "timeout":
            return TestStatus.TIMEOUT
        case "crashed":
            oom = record.signal == SIGKILL and result.termination is Termination.MEMORY_LIMIT
            return TestStatus.MEMORY_LIMIT if oom else TestStatus.CRASHED
        case _:
            return TestStatus.FAILED


def _message(record: Record) -> str:
    if record.outcome == "skipped":
        return f"{record.message} (a skipped test counts as failed)"
    return record.message or record.outcome
