"""The ``dialogue`` test kind: a scripted conversation with a program on a terminal.

The program runs on a pseudo-terminal of its own in the student's sandbox
(``RunSpec.terminal``), as under CS50's check50, so a prompt printed without
a newline reaches us; ``steps`` (``dialogue_steps``) say what to type and
what to expect, with check50's semantics (``dialogue_script``). The report
carries the conversation as far as it went (``output``), the failing step
(``message``) and, for an expectation, what was expected against what was
seen (``expected``/``actual``).
"""

from __future__ import annotations

import shlex
import signal
from dataclasses import replace
from typing import TYPE_CHECKING

from assay.errors import GradingError
from assay.grading.kinds.base import TestKind
from assay.grading.kinds.dialogue_script import Conversation, StepResult, Who
from assay.grading.kinds.dialogue_steps import DialogueOptions
from assay.grading.kinds.options import require_command
from assay.grading.outcome import TestOutcome, TestStatus, Timing, describe_run, status_of_run
from assay.sandbox.result import RunResult, Termination

if TYPE_CHECKING:
    from assay.grading.context import GradingContext
    from assay.grading.package import AssignmentPackage
    from assay.grading.spec import TestSpec

SLACK_S = 5.0  # wall time beyond the steps' own timeouts (start-up, the end of the run)
DONE_WAIT_S = 10.0  # the conversation ends within this once the run is over
MAX_SHOWN_LINE = 2000


class DialogueKind(TestKind[DialogueOptions]):
    name = "dialogue"
    Options = DialogueOptions

    def concurrent_safe(self, options: DialogueOptions) -> bool:
        return True  # its own terminal in, its own terminal out: nothing shared

    def check(
        self, options: DialogueOptions, test: TestSpec, package: AssignmentPackage, *, key: str
    ) -> None:
        require_command(options.command, package, key, example='["./hello"]')

    def run(
        self, ctx: GradingContext, test: TestSpec, options: DialogueOptions
    ) -> list[TestOutcome]:
        command = options.command or ctx.package.spec.run.command or ()
        argv = [*command, *options.args]
        conversation = Conversation(options.steps)
        # the run lasts as long as the steps may wait, whatever the test's wall time
        wall = max(ctx.limits.wall_time_s, options.budget_s + SLACK_S)
        result = ctx.sandbox.run(
            argv,
            stdin=conversation,
            limits=ctx.limits.replace(wall_time_s=wall),
            terminal=True,
        )
        conversation.hang_up()  # nothing more comes (the sandbox said so too)
        if conversation.started and not conversation.done.wait(DONE_WAIT_S):
            raise GradingError("a dialogue test's steps did not end after the run")
        return [judge(TestOutcome.failed(test), argv, conversation, result)]


def judge(
    base: TestOutcome, argv: list[str], conversation: Conversation, result: RunResult
) -> TestOutcome:
    """The outcome of a test from its conversation and how the run ended."""
    outcome = replace(base, timing=Timing.of(result))
    failure = conversation.failure
    ending = ""
    exit_step = conversation.exit_step
    if failure is None and exit_step is not None:
        failure, ending = _judge_exit(exit_step, result)
    elif result.termination is Termination.EXITED:
        ending = f"exit status {result.exit_code}"
    transcript = render(argv, conversation, failure, ending)
    forced = status_of_run(result)
    limited = forced not in (None, TestStatus.CRASHED)
    complete = conversation.started and len(conversation.results) == len(conversation.steps)
    if failure is None and not limited and complete:
        return replace(outcome, status=TestStatus.PASSED, score=base.max_score, output=transcript)
    if failure is None:  # every step passed, but a limit stopped the run (or it never started)
        return replace(
            outcome,
            status=forced or TestStatus.ERROR,
            message=describe_run(result),
            output=transcript,
        )
    message = f"step {failure.index + 1} ({failure.step.describe()}): {failure.message}"
    status = TestStatus.FAILED
    if limited and forced is not None:
        status, message = forced, f"{describe_run(result)}; {message}"
    elif forced is TestStatus.CRASHED and not conversation.ended_first:
        status, message = forced, f"{message} ({describe_run(result)})"
    return replace(
        outcome,
        status=status,
        message=message,
        output=transcript,
        expected=failure.expected,
        actual=failure.seen if failure.expected is not None else None,
    )


def _judge_exit(step: StepResult, result: RunResult) -> tuple[StepResult | None, str]:
    """check50's ``exit(code)``: a segmentation fault fails, then the status is compared."""
    want = step.step.exit
    if result.signal == signal.SIGSEGV:
        failed = replace(step, passed=False, message="the program crashed (segmentation fault)")
        return failed, "killed by SIGSEGV"
    code = result.exit_code
    ending = f"exit status {code}" if code is not None else describe_run(result)
    if want in ("any", code):
        return None, ending
    got = code if code is not None else f"none ({describe_run(result)})"
    return replace(step, passed=False, message=f"expected exit status {want}, not {got}"), ending


def render(
    argv: list[str], conversation: Conversation, failure: StepResult | None, ending: str
) -> str:
    """The conversation as a student reads it: who said what, and where it went wrong."""
    lines = ["$ " + shlex.join(argv)]
    exchanges = conversation.transcript
    for i, exchange in enumerate(exchanges):
        if exchange.who is Who.PROGRAM:
            text = exchange.text.replace("\r\n", "\n")
            parts = text.split("\n")
            if text.endswith("\n"):
                parts.pop()
            lines += ["[program] " + part[:MAX_SHOWN_LINE] for part in parts]
            at_end = i + 1 < len(exchanges) and exchanges[i + 1].who is Who.END
            if at_end and not text.endswith("\n"):
                lines[-1] += "   (no newline at the end)"
        elif exchange.who is Who.SENT:
            typed = exchange.text or "end of input (Ctrl-D)"
            lines.append("[sent]    " + typed[:MAX_SHOWN_LINE])
        else:
            lines.append("[end of output" + (f", {ending}]" if ending else "]"))
    if conversation.ended_first and failure is None:
        lines.append("[the program was still running after the last step: it was stopped]")
    if conversation.truncated:
        lines.append("[... the rest of the conversation is not shown]")
    if failure is not None:
        lines.append(f"[step {failure.index + 1} failed here: {failure.step.describe()}]")
    return "\n".join(lines)
