"""The steps of a ``dialogue`` test: what ``steps = [...]`` in ``assignment.toml`` may say.

Each step is a table with exactly one action (``send``, ``send_eof``,
``expect``, ``expect_regex``, ``expect_number``, ``expect_eof``, ``reject``,
``exit``) and, optionally, ``timeout_s`` and ``shown``; ``prompt`` goes
with ``send``/``send_eof`` only. The defaults are check50's.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay.grading.kinds.base import KindOptions
from assay.grading.kinds.options import Command

MAX_TIMEOUT_S = 300.0  # check50 allows any; a slow check may wait minutes
MAX_STEPS = 200
MAX_TEXT = 64 * 1024  # a step's text (sent or expected), in characters


class Action(StrEnum):
    SEND = "send"
    SEND_EOF = "send_eof"
    EXPECT = "expect"
    EXPECT_REGEX = "expect_regex"
    EXPECT_NUMBER = "expect_number"
    EXPECT_EOF = "expect_eof"
    REJECT = "reject"
    EXIT = "exit"


# check50's defaults: stdin(prompt) 3 s, stdout 3 s, reject 1 s, exit 5 s
DEFAULT_TIMEOUT_S = {
    Action.SEND: 3.0,
    Action.SEND_EOF: 3.0,
    Action.EXPECT: 3.0,
    Action.EXPECT_REGEX: 3.0,
    Action.EXPECT_NUMBER: 3.0,
    Action.EXPECT_EOF: 3.0,
    Action.REJECT: 1.0,
    Action.EXIT: 5.0,
}
_TRUE_ONLY = (Action.SEND_EOF, Action.EXPECT_EOF, Action.REJECT)


def number_pattern(number: int | float) -> str:
    """A regex that finds exactly ``number`` in text: not inside a longer number.

    As check50's ``regex.decimal``: a non-negative number has no digit or minus
    sign just before it; no digit (nor a point and a digit) may follow.
    """
    before = r"(?<![\d\-])" if number >= 0 else ""
    return before + re.escape(str(number)) + r"(?!(\.?\d))"


class Step(BaseModel):
    """One step of the conversation (check50: one call in a ``run(...)`` chain)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    send: str | None = Field(default=None, max_length=MAX_TEXT)
    send_eof: bool | None = None
    expect: str | None = Field(default=None, max_length=MAX_TEXT)
    expect_regex: str | None = Field(default=None, max_length=MAX_TEXT)
    expect_number: int | float | None = None
    expect_eof: bool | None = None
    reject: bool | None = None
    exit: int | Literal["any"] | None = None
    prompt: bool | None = None  # send / send_eof: wait for output first (check50's default)
    timeout_s: float | None = None
    shown: str | None = Field(default=None, max_length=1000)  # check50's str_line / str_output

    @model_validator(mode="before")
    @classmethod
    def _one_action(cls, value: Any) -> Any:
        if isinstance(value, dict):
            actions = [a.value for a in Action if a.value in value]
            if len(actions) != 1:
                have = ", ".join(actions) if actions else "none"
                raise ValueError(
                    "a step does exactly one of "
                    + ", ".join(a.value for a in Action)
                    + f" (this one: {have})"
                )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Step:
        action = self.action
        if action in _TRUE_ONLY and getattr(self, action.value) is not True:
            raise ValueError(f"{action.value} must be true (leave the step out instead)")
        if self.prompt is not None and action not in (Action.SEND, Action.SEND_EOF):
            raise ValueError("prompt goes with send or send_eof only")
        if isinstance(self.exit, int) and not 0 <= self.exit <= 255:
            raise ValueError('an exit code is between 0 and 255 (or "any")')
        if self.timeout_s is not None and not (
            math.isfinite(self.timeout_s) and 0 < self.timeout_s <= MAX_TIMEOUT_S
        ):
            raise ValueError(f"timeout_s must be more than 0 and at most {MAX_TIMEOUT_S:g}")
        if isinstance(self.expect_number, float) and not math.isfinite(self.expect_number):
            raise ValueError("expect_number must be a finite number")
        if self.expect_regex is not None:
            try:
                re.compile(self.expect_regex)
            except re.error as exc:
                raise ValueError(f"expect_regex is not a valid regex: {exc}") from exc
        return self

    @property
    def action(self) -> Action:
        for action in Action:
            if getattr(self, action.value) is not None:
                return action
        raise AssertionError("a validated step has an action")

    @property
    def timeout(self) -> float:
        return self.timeout_s if self.timeout_s is not None else DEFAULT_TIMEOUT_S[self.action]

    @property
    def waits_for_prompt(self) -> bool:
        return self.prompt is not False

    def pattern(self) -> str | None:
        """The regex an expect step searches for (``None``: not an expect step)."""
        match self.action:
            case Action.EXPECT:
                return re.escape(str(self.expect))
            case Action.EXPECT_REGEX:
                return str(self.expect_regex)
            case Action.EXPECT_NUMBER if self.expect_number is not None:
                return number_pattern(self.expect_number)
            case _:
                return None

    def describe(self) -> str:
        """The step as the report names it."""
        match self.action:
            case Action.SEND:
                return f"send {self.shown or repr(self.send)}"
            case Action.SEND_EOF:
                return "send end of input (Ctrl-D)"
            case Action.EXPECT | Action.EXPECT_REGEX | Action.EXPECT_NUMBER:
                shown = self.shown or repr(self.expected_text)
                return f"expect {shown}"
            case Action.EXPECT_EOF:
                return "expect the end of the output"
            case Action.REJECT:
                return "expect the program to be still waiting for input"
            case Action.EXIT:
                return "expect the program to exit" + (
                    "" if self.exit == "any" else f" with status {self.exit}"
                )

    @property
    def expected_text(self) -> str:
        """What an expect step looks for, as the instructor wrote it."""
        for value in (self.expect, self.expect_regex, self.expect_number):
            if value is not None:
                return str(value)
        return ""

    @property
    def budget_s(self) -> float:
        """The longest this step can take (a prompt is waited for, then absorbed)."""
        if self.action in (Action.SEND, Action.SEND_EOF) and self.waits_for_prompt:
            return 2 * self.timeout + 0.2
        if self.action in (Action.SEND, Action.SEND_EOF):
            return 0.0
        return self.timeout


class DialogueOptions(KindOptions):
    command: Command | None = None  # default: [run].command
    args: tuple[str, ...] = ()
    steps: tuple[Step, ...] = Field(max_length=MAX_STEPS)

    @model_validator(mode="after")
    def _exit_last(self) -> DialogueOptions:
        if not self.steps:
            raise ValueError("a dialogue needs at least one step")
        for step in self.steps[:-1]:
            if step.action is Action.EXIT:
                raise ValueError("exit ends the conversation: it can only be the last step")
        return self

    @property
    def budget_s(self) -> float:
        return sum(step.budget_s for step in self.steps)
