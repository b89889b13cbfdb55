"""The dialogue kind's steps (schema), its conversation engine and its judgement, without a sandbox.

A fake terminal plays the program: it prints, reads what the conversation
types, answers, and ends (the sandbox's ``hang_up``) when told to.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from assay.grading.kinds.dialogue import judge, render
from assay.grading.kinds.dialogue_script import Conversation, Who
from assay.grading.kinds.dialogue_steps import DialogueOptions, Step, number_pattern
from assay.grading.outcome import TestOutcome, TestStatus
from assay.grading.spec import TestSpec
from assay.sandbox.result import RunResult, Termination

FAST = 0.3  # step timeouts in these tests


def steps(*raw: dict[str, Any]) -> tuple[Step, ...]:
    return DialogueOptions.model_validate({"steps": list(raw)}).steps


# -- the schema ------------------------------------------------------------------------------
def test_a_step_does_exactly_one_thing() -> None:
    with pytest.raises(ValidationError, match=r"exactly one of .* \(this one: send, expect\)"):
        Step.model_validate({"send": "x", "expect": "y"})
    with pytest.raises(ValidationError, match=r"\(this one: none\)"):
        Step.model_validate({"timeout_s": 1})


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ({"expect": "x", "prompt": False}, "prompt goes with send"),
        ({"expect_eof": False}, "expect_eof must be true"),
        ({"reject": False}, "reject must be true"),
        ({"exit": 256}, "between 0 and 255"),
        ({"exit": "some"}, "exit"),
        ({"send": "x", "timeout_s": 0}, "timeout_s must be more than 0"),
        ({"send": "x", "timeout_s": 301}, "at most 300"),
        ({"expect_regex": "(unclosed"}, "not a valid regex"),
        ({"expect": "x", "regex": True}, "Extra inputs are not permitted"),
    ],
)
def test_step_errors_say_what_is_wrong(raw: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        Step.model_validate(raw)


def test_exit_ends_the_conversation() -> None:
    with pytest.raises(ValidationError, match="only be the last step"):
        steps({"exit": 0}, {"expect": "x"})
    with pytest.raises(ValidationError, match="at least one step"):
        DialogueOptions.model_validate({"steps": []})


def test_timeouts_default_to_check50s() -> None:
    defaults = [
        s.timeout
        for s in steps(
            {"send": "x"},
            {"send_eof": True},
            {"expect": "y"},
            {"expect_regex": "y"},
            {"expect_number": 3},
            {"expect_eof": True},
            {"reject": True},
            {"exit": 0},
        )
    ]
    assert defaults == [3, 3, 3, 3, 3, 3, 1, 5]
    assert steps({"send": "x", "timeout_s": 0.5})[0].timeout == 0.5
    options = DialogueOptions.model_validate({"command": "./a b", "steps": [{"reject": True}]})
    assert options.command == ("./a", "b")


def test_numbers_are_found_whole_as_check50_finds_them() -> None:
    seven = re.compile(number_pattern(7))
    assert seven.search("you owe 7 coins")
    assert not seven.search("17") and not seven.search("71") and not seven.search("7.5")
    assert not seven.search("-7")
    assert seven.search("7.")  # a full stop ends a sentence
    assert re.search(number_pattern(-2.5), "x = -2.5\n")
    assert not re.search(number_pattern(2.5), "2.55")


# -- the engine ------------------------------------------------------------------------------
class FakeProgram:
    """Plays a program on a terminal: ``answer`` turns what is typed into output (None: exit)."""

    def __init__(
        self,
        conversation: Conversation,
        first: bytes,
        answer: Callable[[bytes], bytes | None],
    ) -> None:
        self.conversation = conversation
        self.answer = answer
        self.typed: list[bytes] = []
        self.ended = False
        if first:
            conversation.heard(first)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for data in self.conversation.replies():
            self.typed.append(data)
            if self.ended:
                continue
            out = self.answer(data)
            if out is None:
                self.end()
            elif out:
                self.conversation.heard(out)
        self.end()  # the replies ended: hung up

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            self.conversation.hang_up()

    def finish(self) -> Conversation:
        assert self.conversation.done.wait(10)
        self.thread.join(5)
        return self.conversation


def greeter(data: bytes) -> bytes | None:
    name = data.decode().strip()
    return None if name == "bye" else f"hello, {name}\n".replace("\n", "\r\n").encode()


def test_a_prompt_is_awaited_the_line_typed_and_the_answer_found() -> None:
    def answer(data: bytes) -> bytes | None:
        greeting = greeter(data)
        return None if greeting is None else greeting + b"Name: "

    conv = Conversation(steps({"send": "Ada"}, {"expect": "hello, Ada\n"}, {"send": "bye"}))
    program = FakeProgram(conv, b"Name: ", answer)
    conv = program.finish()
    assert [r.passed for r in conv.results] == [True, True, True]
    assert program.typed == [b"Ada\n", b"bye\n"]
    assert [e.who for e in conv.transcript][:3] == [Who.PROGRAM, Who.SENT, Who.PROGRAM]
    assert conv.transcript[1].text == "Ada"


def test_no_prompt_fails_the_send() -> None:
    conv = Conversation(steps({"send": "Ada", "timeout_s": FAST}, {"expect": "hello"}))
    program = FakeProgram(conv, b"", greeter)
    conv = program.finish()
    assert conv.failure is not None and conv.failure.index == 0
    assert conv.failure.message == "expected a prompt for input, found none"
    assert program.typed == []  # nothing was typed to a program that never asked


def test_sending_without_a_prompt_does_not_wait() -> None:
    conv = Conversation(steps({"send": "Ada", "prompt": False}, {"expect_regex": r"hello, \w+"}))
    conv = FakeProgram(conv, b"", greeter).finish()
    assert conv.failure is None and len(conv.results) == 2


def test_expected_newlines_are_the_terminals_crlf_and_matches_consume() -> None:
    conv = Conversation(
        steps({"expect": "a\nb\n"}, {"expect": "a", "timeout_s": FAST}, {"expect_eof": True})
    )
    conv.heard(b"a\r\nb\r\na")
    conv.hang_up()
    FakeProgram(conv, b"", greeter).finish()
    assert [r.passed for r in conv.results] == [True, True, True]


def test_a_regex_is_searched_not_matched_and_dot_matches_newlines() -> None:
    conv = Conversation(steps({"expect_regex": "b.c"}, {"expect_eof": True}))
    conv.heard(b"ab\nc")
    conv.hang_up()
    FakeProgram(conv, b"", greeter).finish()
    assert [r.passed for r in conv.results] == [True, True]


def test_output_left_over_at_the_end_fails_expect_eof() -> None:
    conv = Conversation(steps({"expect": "hello"}, {"expect_eof": True}))
    conv.heard(b"hello\r\n\r\n")
    conv.hang_up()
    conv = FakeProgram(conv, b"", greeter).finish()
    assert conv.failure is not None and conv.failure.index == 1
    assert conv.failure.seen == "\n\n"


def test_a_missing_text_fails_after_its_timeout_or_at_the_end() -> None:
    conv = Conversation(steps({"expect": "bye", "timeout_s": FAST}))
    conv.heard(b"hello")
    conv = FakeProgram(conv, b"", greeter).finish()
    assert conv.failure is not None and "did not find" in conv.failure.message
    assert (conv.failure.expected, conv.failure.seen) == ("bye", "hello")
    ended = Conversation(steps({"expect": "bye"}))
    ended.heard(b"hello")
    ended.hang_up()
    ended = FakeProgram(ended, b"", greeter).finish()
    assert ended.failure is not None and "the output ended" in ended.failure.message


def test_reject_passes_while_the_program_waits_and_fails_when_it_ends() -> None:
    waiting = Conversation(steps({"send": "-1"}, {"reject": True, "timeout_s": FAST}))
    waiting = FakeProgram(waiting, b"n: ", lambda d: b"n: ").finish()
    assert waiting.failure is None and waiting.ended_first
    ending = Conversation(steps({"send": "-1"}, {"reject": True}))
    ending = FakeProgram(ending, b"n: ", lambda d: None).finish()
    assert ending.failure is not None and ending.failure.index == 1


def test_the_exit_step_waits_for_the_end_and_leaves_the_status_to_the_run() -> None:
    conv = Conversation(steps({"send": "bye"}, {"exit": 3}))
    conv = FakeProgram(conv, b"? ", greeter).finish()
    assert conv.exit_step is not None and conv.failure is None
    slow = Conversation(steps({"exit": 0, "timeout_s": FAST}))
    slow = FakeProgram(slow, b"", greeter).finish()
    assert slow.failure is not None and "timed out" in slow.failure.message


def test_send_eof_types_ctrl_d() -> None:
    conv = Conversation(steps({"send_eof": True}, {"expect": "done"}))
    program = FakeProgram(conv, b"> ", lambda d: b"done" if d == b"\x04" else b"?")
    conv = program.finish()
    assert program.typed == [b"\x04"] and conv.failure is None


def test_output_that_is_not_utf8_fails_the_step() -> None:
    conv = Conversation(steps({"expect": "x"}))
    conv.heard(b"\xff\xfe")
    conv = FakeProgram(conv, b"", greeter).finish()
    assert conv.failure is not None and "not valid UTF-8" in conv.failure.message


# -- the judgement and the transcript ---------------------------------------------------------
def run_result(
    termination: Termination = Termination.EXITED, code: int | None = 0, sig: int | None = None
) -> RunResult:
    return RunResult(
        termination=termination,
        exit_code=code,
        signal=sig,
        cpu_time_s=0.01,
        wall_time_s=0.1,
        peak_memory_bytes=1,
        stdout=b"",
        stderr=b"",
    )


def base() -> TestOutcome:
    return TestOutcome.failed(TestSpec(name="t", kind="dialogue", points=2))


def ended_conversation(*raw: dict[str, Any], output: bytes = b"") -> Conversation:
    conv = Conversation(steps(*raw))
    if output:
        conv.heard(output)
    conv.hang_up()
    return FakeProgram(conv, b"", greeter).finish()


def test_the_exit_status_decides_the_exit_step() -> None:
    conv = ended_conversation({"expect": "hi"}, {"exit": 0}, output=b"hi\r\n")
    passed = judge(base(), ["./hi"], conv, run_result())
    assert passed.status is TestStatus.PASSED and passed.score == 2
    wrong = judge(base(), ["./hi"], conv, run_result(code=1))
    assert wrong.status is TestStatus.FAILED
    assert wrong.message == "step 2 (expect the program to exit with status 0): " + (
        "expected exit status 0, not 1"
    )
    segv = run_result(Termination.SIGNALED, None, signal.SIGSEGV)
    crashed = judge(base(), ["./hi"], conv, segv)
    assert crashed.status is TestStatus.CRASHED and "segmentation fault" in crashed.message


def test_a_limit_wins_over_a_failed_step() -> None:
    conv = ended_conversation({"expect": "never", "timeout_s": FAST}, output=b"x")
    outcome = judge(base(), ["./x"], conv, run_result(Termination.WALL_TIME_LIMIT, None, 9))
    assert outcome.status is TestStatus.TIMEOUT and "step 1" in outcome.message


def test_the_transcript_shows_who_said_what_and_where_it_diverged() -> None:
    conv = Conversation(steps({"send": "Ada"}, {"expect": "hello, Ada\n"}, {"expect_eof": True}))

    def answer_and_exit(data: bytes) -> None:
        conv.heard(b"hello, " + data.strip() + b"\r\n\r\n")

    conv = FakeProgram(conv, b"Name: ", answer_and_exit).finish()
    outcome = judge(base(), ["./hello"], conv, run_result())
    assert outcome.status is TestStatus.FAILED
    assert outcome.output.splitlines() == [
        "$ ./hello",
        "[program] Name: ",
        "[sent]    Ada",
        "[program] hello, Ada",
        "[program] ",
        "[end of output, exit status 0]",
        "[step 3 failed here: expect the end of the output]",
    ]
    assert (outcome.expected, outcome.actual) == ("(end of output)", "\n")
    no_newline = ended_conversation({"expect": "42"}, {"expect_eof": True}, output=b"42")
    text = render(["./n"], no_newline, None, "exit status 0")
    assert "[program] 42   (no newline at the end)" in text


def test_output_arriving_a_byte_at_a_time_is_searched_in_bulk() -> None:
    conv = Conversation(steps({"expect": "xy"}))
    for _ in range(200_000):
        conv.heard(b"x")
    conv.heard(b"y")
    started = time.monotonic()
    conv = FakeProgram(conv, b"", greeter).finish()
    assert conv.failure is None
    assert time.monotonic() - started < 5  # not 200 000 searches of a growing buffer
