"""The ``junit`` kind: instructor JUnit 5 / JUnit 4 test classes against the student's Java.

Two sandbox runs. First ``javac`` compiles the instructor's sources (and
Assay's small runner, ``harness/java``) against the student's classes (built
by ``[build]``); the class files are read back and put, with the runner, in
a read-only harness directory the student's code cannot change. Then
``harness/junit_runner.py`` (P) starts one JVM for all the test classes of
the entry and reports each test method on the spec runner's authenticated
channel (see that module for what it guarantees). One outcome per test
method; points and visibility come from ``junit_plan``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from assay.errors import WorkspacePathError
from assay.grading.kinds.base import TestKind
from assay.grading.kinds.junit_plan import JUnitOptions, PlannedTest, load_plan
from assay.grading.kinds.pyspec_channel import Channel, HostKey, Record, read_channel
from assay.grading.outcome import TestOutcome, TestStatus, Timing, decode, describe_run
from assay.grading.outcome import status_of_run as forced_status
from assay.sandbox.envs.builtin import JAVA_CLASSPATH
from assay.sandbox.result import RunResult, Termination
from assay.sandbox.spec import Limits, OutputPolicy

if TYPE_CHECKING:
    from assay.grading.context import GradingContext
    from assay.grading.package import AssignmentPackage
    from assay.grading.spec import TestSpec

RUNNER = "junit_runner.py"
CHANNEL_MODULE = "spec_runner.py"  # the runner imports the channel's code from it
PLAN_FILE = "plan.json"  # as junit_runner.PLAN_FILE
NOTES_ID = "assay:notes"  # as junit_runner.NOTES_ID
MAX_STARTS = 3  # JVMs per run: the first, and one more after each of two early ends
MAX_CLASS_FILES = 2000
MAX_CLASS_BYTES = 8 * 1024 * 1024
COMPILE_CPU_S = 60.0
COMPILE_WALL_S = 120.0
OUTPUT_TAIL_BYTES = 4 * 1024
COMPILE_ERROR_CHARS = 3000
PER_TEST_OVERHEAD_S = 0.5
SIGKILL = 9


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
        plan, classes = load_plan(options, test, ctx.package, key="tests")
        rows = _rows(test, plan)
        jars = _junit_classpath(ctx)
        compiled = _compile(ctx, options, jars)
        if isinstance(compiled, str):
            return [replace(r, message=compiled) for r in rows]
        key = HostKey.new()
        ids = [p.key for p in plan]
        plan_data = {
            "ids": ids,
            "classes": list(classes),
            "classpath": ":".join([*jars, *(_in_workspace(c) for c in options.classpath)]),
            "java": ["java", *options.jvm_options],
            "cwd": "/work",
            "timeout_s": options.per_test_timeout_s,
            "idle_timeout_s": options.startup_timeout_s,
            "max_starts": MAX_STARTS,
            "host_public": key.public_hex,
        }
        files = {**compiled, **_runner_files(), PLAN_FILE: json.dumps(plan_data).encode()}
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
        if notes is not None and notes.outcome == "failed":
            channel.forged += 1  # a line without the run's token on the test JVM's report pipe
        output = decode(result.stderr[-OUTPUT_TAIL_BYTES:]) if result.stderr else ""
        outcomes = [
            _judge(replace(row, output=output), channel, result, planned.key)
            for row, planned in zip(rows, plan, strict=True)
        ]
        return _channel_verdict(outcomes, channel, result)


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


# -- compiling -----------------------------------------------------------------------------
def _in_workspace(path: str) -> str:
    return "/work" if path == "." else f"/work/{path}"


def _junit_classpath(ctx: GradingContext) -> list[str]:
    """The environment's JUnit jars (its ``CLASSPATH`` without ``.``)."""
    value = ctx.sandbox.environment.env.get("CLASSPATH") or JAVA_CLASSPATH
    return [entry for entry in value.split(":") if entry and entry != "."]


def _agent_sources() -> dict[str, bytes]:
    """Assay's runner classes and its ``@GradedTest``, as ``java/<package path>``."""
    found: dict[str, bytes] = {}
    pending: list[tuple[str, Traversable]] = [
        ("java", resources.files("assay.grading.harness").joinpath("java"))
    ]
    while pending:
        rel, node = pending.pop()
        for child in node.iterdir():
            if child.is_dir():
                pending.append((f"{rel}/{child.name}", child))
            elif child.name.endswith(".java"):
                found[f"{rel}/{child.name}"] = child.read_bytes()
    return found


def _runner_files() -> dict[str, bytes]:
    harness = resources.files("assay.grading.harness")
    return {name: harness.joinpath(name).read_bytes() for name in (RUNNER, CHANNEL_MODULE)}


def _compile(ctx: GradingContext, options: JUnitOptions, jars: list[str]) -> dict[str, bytes] | str:
    """The compiled test and runner classes (``classes/...``), or what javac said."""
    sources = {
        f"src/{PurePosixPath(rel).name}": ctx.package.path(rel).read_bytes()
        for rel in options.sources
    }  # names are unique (``load_plan``)
    sources.update(_agent_sources())
    harness = ctx.put_harness(sources)
    out = f".assay-junit-{secrets.token_hex(8)}"
    classpath = ":".join([*(_in_workspace(c) for c in options.classpath), *jars])
    argv = [
        "javac",
        "-J-XX:TieredStopAtLevel=1",
        "-J-XX:+UseSerialGC",
        "-encoding",
        "UTF-8",
        "-proc:none",  # no annotation processors (the student's class path could name one)
        "-implicit:none",
        "-nowarn",
        "-sourcepath",
        f"/work/{harness}/src",  # never the student's .java files: their classes only
        "-d",
        f"/work/{out}",
        "-cp",
        classpath,
        *(f"/work/{harness}/{rel}" for rel in sorted(sources)),
    ]
    limits = ctx.limits.replace(
        cpu_time_s=max(ctx.limits.cpu_time_s, COMPILE_CPU_S),
        wall_time_s=max(ctx.limits.wall_time_s, COMPILE_WALL_S),
    )
    result = ctx.run_student(argv, limits=limits, output_policy=OutputPolicy.TRUNCATE)
    if not result.ok:
        said = decode(result.stderr or result.stdout)
        said = said.replace(f"/work/{harness}/src/", "").replace(f"/work/{harness}/", "")
        if len(said) > COMPILE_ERROR_CHARS:
            said = said[:COMPILE_ERROR_CHARS] + "\n..."
        if result.termination is not Termination.EXITED:
            return f"the tests could not be compiled ({describe_run(result)})"
        return f"the tests do not compile against your code:\n{said.strip()}"
    return _class_files(ctx, out)


def _class_files(ctx: GradingContext, out: str) -> dict[str, bytes]:
    """Every ``.class`` javac wrote under ``out``, as ``classes/<path>``."""
    found: dict[str, bytes] = {}
    pending = [""]
    while pending:
        rel = pending.pop()
        for name in ctx.sandbox.list_files(f"{out}/{rel}" if rel else out):
            path = f"{rel}/{name}" if rel else name
            if name.endswith(".class"):
                data = ctx.sandbox.read_file(f"{out}/{path}", max_bytes=MAX_CLASS_BYTES)
                found[f"classes/{path}"] = data
                if len(found) > MAX_CLASS_FILES:
                    raise WorkspacePathError(f"more than {MAX_CLASS_FILES} class files")
            else:
                pending.append(path)
    return found


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
