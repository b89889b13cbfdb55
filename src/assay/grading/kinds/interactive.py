"""The ``interactive`` test kind: the submission talks to the instructor's judge.

Kattis ``validation: custom interactive`` and DOMjudge ``type: interactive``
problems. The judge (a Kattis output validator / interactor) runs in a
sandbox session of its own, never the student's, as
``judge input_file answer_file feedback_dir/ [judge_args]``; the host relays
the submission's standard output to the judge's standard input and back
(``interactive_relay``). Exit status 42 accepts, 43 rejects, anything else
is the judge's failure (``error``, never the student's). The verdict follows
problemtools (``interactive_verdict``). ``feedback_dir/teammessage.txt`` is
shown to the student, ``judgemessage.txt`` to staff only.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from assay.errors import PackageError, UnknownEnvironmentError, WorkspacePathError
from assay.grading.interaction import format_interaction, interaction_problem
from assay.grading.kinds.base import KindOptions, TestKind
from assay.grading.kinds.interactive_judge import (
    judge_environment,
    prepare_judge,
    read_judge,
)
from assay.grading.kinds.interactive_relay import PairResult, run_pair
from assay.grading.kinds.interactive_verdict import PairVerdict, decide
from assay.grading.kinds.options import Command, require_command
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
from assay.sandbox.environments import get_environment
from assay.sandbox.result import RunResult
from assay.sandbox.session import WORKSPACE, Sandbox
from assay.sandbox.spec import MIB, Dialogue, Limits, OutputPolicy

if TYPE_CHECKING:
    from assay.grading.context import GradingContext
    from assay.grading.package import AssignmentPackage
    from assay.grading.spec import TestSpec

JUDGE_GRACE_S = 3.0  # the judge's wall time beyond the pair's: to see the end of its input
JUDGE_OUTPUT_BYTES = 16 * MIB
MESSAGE_READ_BYTES = 64 * 1024
MESSAGE_CHARS = 2000
DETAIL_CHARS = 4000
STDERR_TAIL_CHARS = 2000
TEAM_MESSAGE = "teammessage.txt"
JUDGE_MESSAGE = "judgemessage.txt"
JUDGE_FAILED = "the judge of this test failed (not because of your submission)"


class InteractiveOptions(KindOptions):
    judge: str
    judge_args: tuple[str, ...] = ()
    judge_environment: str | None = None
    input_file: str
    answer_file: str | None = None
    command: Command | None = None  # default: [run].command
    args: tuple[str, ...] = ()
    pair_wall_time_s: float | None = Field(default=None, gt=0, le=3600)
    sample_interaction: str | None = None

    @field_validator("judge_args", mode="before")
    @classmethod
    def _judge_args(cls, value: Any) -> Any:
        return value.split() if isinstance(value, str) else value


class InteractiveKind(TestKind[InteractiveOptions]):
    name = "interactive"
    Options = InteractiveOptions

    def check(
        self, options: InteractiveOptions, test: TestSpec, package: AssignmentPackage, *, key: str
    ) -> None:
        require_command(options.command, package, key)
        judge = read_judge(package.path(options.judge, key=f"{key}.judge"), package.root)
        if isinstance(judge, str):
            raise PackageError(
                f"the judge {options.judge!r} {judge}",
                file=MANIFEST,
                key=f"{key}.judge",
                fix="name a .py, .c, .cc or .cpp file, an executable, or a directory of them",
            )
        if options.judge_environment is not None:
            try:
                get_environment(options.judge_environment)
            except UnknownEnvironmentError as exc:
                raise PackageError(
                    exc.message, file=MANIFEST, key=f"{key}.judge_environment"
                ) from exc
        for option in ("input_file", "answer_file", "sample_interaction"):
            rel = getattr(options, option)
            if rel is not None and not package.path(rel, key=f"{key}.{option}").is_file():
                raise PackageError(f"{rel!r} is not a file", file=MANIFEST, key=f"{key}.{option}")
        if options.sample_interaction is not None:
            text = package.path(options.sample_interaction).read_text("utf-8", errors="replace")
            problem = interaction_problem(text)
            if problem:
                raise PackageError(
                    f"{options.sample_interaction!r} {problem}",
                    file=MANIFEST,
                    key=f"{key}.sample_interaction",
                    fix="write the judge's lines as '<line' and the program's as '>line'",
                )

    # -- running ---------------------------------------------------------------------------
    def run(
        self, ctx: GradingContext, test: TestSpec, options: InteractiveOptions
    ) -> list[TestOutcome]:
        base = TestOutcome.failed(test)
        package = ctx.package
        program = read_judge(package.path(options.judge), package.root)
        if isinstance(program, str):  # the package changed under us: the instructor's files
            return [_judge_error(base, f"the judge {options.judge!r} {program}")]
        box = ctx.trusted_sandbox(
            judge_environment(program, options.judge_environment, package.environment)
        )
        prepared = prepare_judge(ctx, box, program)
        if prepared.error is not None:
            return [_judge_error(base, prepared.error)]
        slot, feedback = _judge_files(ctx, box, options)
        pair_s = options.pair_wall_time_s or ctx.limits.wall_time_s
        student_limits = ctx.limits.replace(wall_time_s=min(ctx.limits.wall_time_s, pair_s))
        judge_limits = package.limits.replace(
            cpu_time_s=pair_s + JUDGE_GRACE_S,
            wall_time_s=pair_s + JUDGE_GRACE_S,
            output_bytes=max(JUDGE_OUTPUT_BYTES, student_limits.output_bytes),
        )
        judge_argv = (
            *prepared.argv,
            f"{WORKSPACE}/{slot}/input",
            f"{WORKSPACE}/{slot}/answer",
            f"{WORKSPACE}/{feedback}/",
            *options.judge_args,
        )
        command = (*(options.command or package.spec.run.command or ()), *options.args)

        def run_judge(dialogue: Dialogue) -> RunResult:
            return box.run(
                judge_argv,
                stdin=dialogue,
                cwd=prepared.folder,
                limits=judge_limits,
                output_policy=OutputPolicy.KILL,
            )

        def run_student(dialogue: Dialogue) -> RunResult:
            return ctx.run_student(command, stdin=dialogue, limits=student_limits)

        pair = run_pair(
            run_judge,
            run_student,
            judge_bytes=judge_limits.output_bytes,
            student_bytes=student_limits.output_bytes,
        )
        team = _message(box, f"{feedback}/{TEAM_MESSAGE}")
        judge_message = _message(box, f"{feedback}/{JUDGE_MESSAGE}")
        verdict = decide(
            pair.judge, pair.student, judge_first=pair.judge_first, limits=student_limits
        )
        outcome = replace(
            base,
            timing=Timing.of(pair.student),
            output=_transcript(pair),
            staff_detail=_staff_detail(pair, judge_message),
        )
        return [
            _outcome(
                outcome, verdict, pair=pair, team=team, limits=student_limits, points=test.points
            )
        ]


def _judge_files(ctx: GradingContext, box: Sandbox, options: InteractiveOptions) -> tuple[str, str]:
    """This test's input and answer (read-only) and a fresh feedback directory, in the
    judge's sandbox; a slot per thread (tests of a submission may overlap)."""
    package = ctx.package
    slot = f"interactive/{threading.get_ident()}"
    feedback = f"{slot}/feedback-{secrets.token_hex(6)}"
    answer = b"" if options.answer_file is None else package.path(options.answer_file).read_bytes()
    box.add_entries(
        [
            WorkspaceEntry("interactive", EntryKind.DIR, mode=0o755),
            WorkspaceEntry(slot, EntryKind.DIR, mode=0o755),
            WorkspaceEntry(
                f"{slot}/input",
                EntryKind.FILE,
                package.path(options.input_file).read_bytes(),
                mode=0o444,
            ),
            WorkspaceEntry(f"{slot}/answer", EntryKind.FILE, answer, mode=0o444),
            WorkspaceEntry(feedback, EntryKind.DIR, mode=0o755),
        ]
    )
    return slot, feedback


def _message(box: Sandbox, path: str) -> str:
    try:
        data = box.read_file(path, max_bytes=MESSAGE_READ_BYTES)
    except WorkspacePathError:
        return ""  # not written (or absurdly long, or not a file): no message
    return decode(data, MESSAGE_CHARS).strip()


def _transcript(pair: PairResult) -> str:
    text = format_interaction(pair.transcript)
    return text + (
        "... (the rest of the conversation is not shown)\n" if pair.transcript_cut else ""
    )


def _tail(data: bytes) -> str:
    return decode(data[-STDERR_TAIL_CHARS:], STDERR_TAIL_CHARS)


def _staff_detail(pair: PairResult, judge_message: str) -> str:
    judge = pair.judge
    lines = [
        f"judge: {describe_run(judge)}, {judge.wall_time_s:.2f} s wall; "
        f"ended {'before' if pair.judge_first else 'after'} the submission"
    ]
    if judge_message:
        lines.append(f"{JUDGE_MESSAGE}: {judge_message}")
    if judge.stderr.strip():
        lines.append("judge's stderr:\n" + _tail(judge.stderr))
    return "\n".join(lines)[:DETAIL_CHARS]


def _judge_error(base: TestOutcome, detail: str) -> TestOutcome:
    return replace(base, status=TestStatus.ERROR, message=JUDGE_FAILED, staff_detail=detail)


def _outcome(
    outcome: TestOutcome,
    verdict: PairVerdict,
    *,
    pair: PairResult,
    team: str,
    limits: Limits,
    points: float,
) -> TestOutcome:
    student = pair.student
    match verdict:
        case PairVerdict.JUDGE_ERROR:
            judge = pair.judge
            why = (
                f"the judge {describe_run(judge)} "
                f"(expected exit status 42 or 43)\n{outcome.staff_detail}"
            )
            return replace(outcome, status=TestStatus.ERROR, message=JUDGE_FAILED, staff_detail=why)
        case PairVerdict.WRONG_ANSWER:
            return replace(outcome, status=TestStatus.FAILED, message=team or "wrong answer")
        case PairVerdict.TIME_LIMIT:
            message = (
                describe_run(student)
                if student.timed_out
                else f"time limit exceeded ({student.cpu_time_s:.2f} s CPU, "
                f"limit {limits.cpu_time_s:g} s)"
            )
            return replace(outcome, status=TestStatus.TIMEOUT, message=message)
        case PairVerdict.RUN_ERROR:
            status = status_of_run(student) or TestStatus.CRASHED
            message = describe_run(student)
            if student.stderr.strip():
                message += "\n" + _tail(student.stderr)
            return replace(outcome, status=status, message=message)
        case PairVerdict.ACCEPTED:
            return replace(outcome, status=TestStatus.PASSED, score=points, message=team)
