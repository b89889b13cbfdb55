"""The verdict of a judge and a submission that talked to each other (problemtools' rules).

In this order, the first that holds decides:

1. the judge failed (did not exit with 42 or 43: another status, a signal,
   a limit): a judge error, never the submission's fault;
2. the judge exited first, with wrong answer (43): wrong answer, whatever the
   submission did after its input ended;
3. the submission ran out of time (a CPU or wall-time limit, or more CPU time
   than its limit): time limit;
4. the submission failed (a non-zero status, a signal, the memory or output
   limit): run-time error;
5. the judge's verdict: 42 accepted, 43 wrong answer.
"""

from __future__ import annotations

from enum import StrEnum

from assay.sandbox.result import RunResult, Termination
from assay.sandbox.spec import Limits

ACCEPT_EXIT = 42
REJECT_EXIT = 43


class PairVerdict(StrEnum):
    JUDGE_ERROR = "judge_error"
    WRONG_ANSWER = "wrong_answer"
    TIME_LIMIT = "time_limit"
    RUN_ERROR = "run_error"
    ACCEPTED = "accepted"


def judge_failed(judge: RunResult) -> bool:
    return judge.termination is not Termination.EXITED or judge.exit_code not in (
        ACCEPT_EXIT,
        REJECT_EXIT,
    )


def timed_out(student: RunResult, limits: Limits) -> bool:
    return student.termination in (
        Termination.CPU_TIME_LIMIT,
        Termination.WALL_TIME_LIMIT,
    ) or (student.cpu_time_s > limits.cpu_time_s)


def failed(student: RunResult) -> bool:
    return student.termination is not Termination.EXITED or student.exit_code != 0


def decide(
    judge: RunResult, student: RunResult, *, judge_first: bool, limits: Limits
) -> PairVerdict:
    """The verdict of one interactive run; ``limits`` are the submission's."""
    if judge_failed(judge):
        return PairVerdict.JUDGE_ERROR
    rejected = judge.exit_code == REJECT_EXIT
    if rejected and judge_first:
        return PairVerdict.WRONG_ANSWER
    if timed_out(student, limits):
        return PairVerdict.TIME_LIMIT
    if failed(student):
        return PairVerdict.RUN_ERROR
    return PairVerdict.WRONG_ANSWER if rejected else PairVerdict.ACCEPTED
