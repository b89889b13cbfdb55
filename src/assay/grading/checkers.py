"""Output checkers: plain functions ``check_x(output, expected, **opts) -> CheckResult``.

``output`` is what the student's program wrote (untrusted text), ``expected``
the instructor's answer. Messages are short and student-facing: they say
where the first difference is. ``CheckerSpec`` is the ``checker`` key of an
io test, a name (``"tokens"``) or a table (``{ type = "float", abs_tol = 1e-6 }``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, model_validator

SHOW_CHARS = 60  # how much of a line or token a message quotes
MAX_REGEX_OUTPUT_CHARS = 256 * 1024  # longer output is refused, not matched
MAX_PATTERN_CHARS = 64 * 1024
DEFAULT_FLOAT_TOL = 1e-6
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_TOKEN = re.compile(r"\S+")


@dataclass(frozen=True)
class CheckResult:
    """A checker's verdict. ``error`` is set when the checker itself failed (never the student)."""

    accepted: bool
    message: str = ""
    error: str | None = None


ACCEPTED = CheckResult(True)


def _reject(message: str) -> CheckResult:
    return CheckResult(False, message)


# -- showing text in messages ------------------------------------------------------
def _clip(text: str, start: int = 0) -> str:
    """``text`` from about ``start``, at most SHOW_CHARS characters, quoted."""
    begin = max(0, start - SHOW_CHARS // 3)
    part = text[begin : begin + SHOW_CHARS]
    return ("..." if begin else "") + repr(part) + ("..." if begin + SHOW_CHARS < len(text) else "")


def _pair(expected: str, got: str) -> str:
    """``expected X, got Y``, both quoted around their first differing character."""
    at = next((i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b), None)
    if at is None:
        at = min(len(expected), len(got))
    return f"expected {_clip(expected, at)}, got {_clip(got, at)}"


# -- lines ---------------------------------------------------------------------------
def trimmed_lines(text: str) -> list[str]:
    """Lines without trailing whitespace (so ``\\r\\n`` = ``\\n``), trailing blank lines dropped."""
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _raw_lines(text: str) -> list[str]:
    """Lines with their ``\\n`` kept (the last one may lack it)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    return [*lines, parts[-1]] if parts[-1] else lines


def _compare_lines(
    got: list[str], want: list[str], same: Callable[[str, str], bool]
) -> CheckResult:
    for number, (g, w) in enumerate(zip(got, want, strict=False), 1):
        if not same(g, w):
            return _reject(f"line {number}: {_pair(w, g)}")
    if len(got) < len(want):
        if not got:
            return _reject(f"your output is empty; expected {_clip(want[0])} on line 1")
        missing = len(want) - len(got)
        return _reject(
            f"line {len(got) + 1}: expected {_clip(want[len(got)])}, got the end of your output "
            f"({missing} line{'s' if missing > 1 else ''} missing)"
        )
    if len(got) > len(want):
        extra = len(got) - len(want)
        return _reject(
            f"line {len(want) + 1}: expected the end of the output, got {_clip(got[len(want)])} "
            f"({extra} extra line{'s' if extra > 1 else ''})"
        )
    return ACCEPTED


def _equal(a: str, b: str) -> bool:
    return a == b


def _equal_ignoring_case(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


# -- the checkers ------------------------------------------------------------------------
def check_exact(output: str, expected: str, *, case_sensitive: bool = True) -> CheckResult:
    """Byte-for-byte equal text (optionally ignoring case)."""
    same = _equal if case_sensitive else _equal_ignoring_case
    if same(output, expected):
        return ACCEPTED
    result = _compare_lines(_raw_lines(output), _raw_lines(expected), same)
    hints = []
    if "\r\n" in output and "\r\n" not in expected:
        hints.append("your output has Windows line endings (\\r\\n)")
    elif same(output + "\n", expected):
        hints.append("your output does not end with a newline")
    elif check_whitespace(output, expected).accepted:
        hints.append("only whitespace differs (trailing spaces or blank lines)")
    message = result.message or "the output differs"
    return _reject(message + "".join(f"; {h}" for h in hints))


def check_whitespace(output: str, expected: str) -> CheckResult:
    """Equal lines, ignoring trailing whitespace on each line and trailing blank lines."""
    return _compare_lines(trimmed_lines(output), trimmed_lines(expected), _equal)


def check_case(output: str, expected: str) -> CheckResult:
    """Like ``check_whitespace``, ignoring upper/lower case."""
    return _compare_lines(trimmed_lines(output), trimmed_lines(expected), _equal_ignoring_case)


def _line_of_token(text: str, index: int) -> int:
    """The line number of the ``index``-th (0-based) whitespace-separated token of ``text``."""
    for number, match in enumerate(_TOKEN.finditer(text)):
        if number == index:
            return text.count("\n", 0, match.start()) + 1
    return text.count("\n") + 1  # pragma: no cover - callers pass an existing token


def _token_diff(output: str, expected: str, same: Callable[[str, str], str | None]) -> CheckResult:
    """Compare token by token; ``same`` returns ``None`` or what is wrong with a token.

    Equal strings are always accepted without calling ``same``.
    """
    got, want = output.split(), expected.split()
    for index, (g, w) in enumerate(zip(got, want, strict=False)):
        if g == w:
            continue
        problem = same(g, w)
        if problem is not None:
            line = _line_of_token(output, index)
            return _reject(f"token {index + 1} (line {line}): {problem}")
    if len(got) > len(want):
        line = _line_of_token(output, len(want))
        return _reject(
            f"token {len(want) + 1} (line {line}): expected the end of the output, "
            f"got {_clip(got[len(want)])}"
        )
    if len(got) < len(want):
        if not got:
            return _reject(f"your output is empty; expected {_clip(want[0])}")
        return _reject(
            f"token {len(got) + 1}: expected {_clip(want[len(got)])}, got the end of your output"
        )
    return ACCEPTED


def check_tokens(output: str, expected: str, *, case_sensitive: bool = True) -> CheckResult:
    """Equal whitespace-separated tokens (any amount or kind of whitespace between them)."""
    same = _equal if case_sensitive else _equal_ignoring_case

    def compare(got: str, want: str) -> str | None:
        return None if same(got, want) else _pair(want, got)

    return _token_diff(output, expected, compare)


def parse_number(token: str) -> float | None:
    """A finite decimal number (``nan``, ``inf`` and ``1_000`` are not numbers here)."""
    if not _NUMBER.fullmatch(token):
        return None
    value = float(token)
    return value if math.isfinite(value) else None


def check_float(
    output: str,
    expected: str,
    *,
    abs_tol: float | None = None,
    rel_tol: float | None = None,
    case_sensitive: bool = True,
) -> CheckResult:
    """Tokens; where the expected token is a number, a number within tolerance is accepted.

    As Kattis: accepted if the absolute error is at most ``abs_tol`` OR the
    relative error at most ``rel_tol``. Without either, both are 1e-6.
    """
    if abs_tol is None and rel_tol is None:
        abs_tol = rel_tol = DEFAULT_FLOAT_TOL
    same = _equal if case_sensitive else _equal_ignoring_case
    tolerance = " or ".join(
        f"{name} {tol:g}"
        for name, tol in (("absolute", abs_tol), ("relative", rel_tol))
        if tol is not None
    )

    def compare(got: str, want: str) -> str | None:
        target = parse_number(want)
        if target is None:
            return None if same(got, want) else _pair(want, got)
        value = parse_number(got)
        if value is None:
            return f"expected a number close to {want}, got {_clip(got)}"
        error = abs(value - target)
        if (abs_tol is not None and error <= abs_tol) or (
            rel_tol is not None and error <= rel_tol * abs(target)
        ):
            return None
        return f"expected {want}, got {_clip(got)} (difference {error:.3g}, allowed: {tolerance})"

    return _token_diff(output, expected, compare)


def regex_pattern(expected: str) -> str:
    """The pattern an expected text stands for: trailing line breaks (of a file) removed."""
    return expected.rstrip("\r\n")


def check_regex(output: str, expected: str, *, ignore_case: bool = False) -> CheckResult:
    """``expected`` is a Python regex that must match the whole output.

    The output is matched with trailing whitespace on each line and trailing
    blank lines removed; output longer than MAX_REGEX_OUTPUT_CHARS is refused.
    """
    pattern = regex_pattern(expected)
    try:
        compiled = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        return CheckResult(False, "the expected pattern is invalid", error=f"invalid regex: {exc}")
    text = "\n".join(trimmed_lines(output))
    if len(text) > MAX_REGEX_OUTPUT_CHARS:
        return _reject(f"your output is too long to check ({len(text)} characters)")
    if compiled.fullmatch(text):
        return ACCEPTED
    first = text.split("\n", 1)[0]
    shown = f"your output (starting {_clip(first)})" if text else "your empty output"
    return _reject(f"{shown} does not match the expected pattern {_clip(pattern)}")


def _normalised_lines(text: str) -> list[str]:
    return [norm for line in text.split("\n") if (norm := " ".join(line.split()))]


def check_unordered(output: str, expected: str) -> CheckResult:
    """The same lines in any order (each line's whitespace normalised; blank lines ignored)."""
    got_lines, want_lines = _normalised_lines(output), _normalised_lines(expected)
    got, want = Counter(got_lines), Counter(want_lines)
    if got == want:
        return ACCEPTED
    for line in want_lines:
        if got[line] < want[line]:
            count = f" (expected {want[line]} times, found {got[line]})" if want[line] > 1 else ""
            return _reject(f"the line {_clip(line)} is missing from your output{count}")
    for line in got_lines:
        if got[line] > want[line]:
            count = f" (expected {want[line]} times, found {got[line]})" if want[line] else ""
            return _reject(f"your output has an unexpected line {_clip(line)}{count}")
    return _reject("the output differs")  # pragma: no cover - Counters differ, so a line does


# -- the ``checker`` key ---------------------------------------------------------------------
class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def check(self, output: str, expected: str) -> CheckResult:
        raise NotImplementedError  # pragma: no cover - only custom checkers lack it


class ExactSpec(_Spec):
    type: Literal["exact"] = "exact"
    case_sensitive: bool = True

    def check(self, output: str, expected: str) -> CheckResult:
        return check_exact(output, expected, case_sensitive=self.case_sensitive)


class WhitespaceSpec(_Spec):
    type: Literal["whitespace"] = "whitespace"

    def check(self, output: str, expected: str) -> CheckResult:
        return check_whitespace(output, expected)


class TokensSpec(_Spec):
    type: Literal["tokens"] = "tokens"
    case_sensitive: bool = True

    def check(self, output: str, expected: str) -> CheckResult:
        return check_tokens(output, expected, case_sensitive=self.case_sensitive)


class CaseSpec(_Spec):
    type: Literal["case"] = "case"

    def check(self, output: str, expected: str) -> CheckResult:
        return check_case(output, expected)


class FloatSpec(_Spec):
    type: Literal["float"] = "float"
    abs_tol: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    rel_tol: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    case_sensitive: bool = True

    def check(self, output: str, expected: str) -> CheckResult:
        return check_float(
            output,
            expected,
            abs_tol=self.abs_tol,
            rel_tol=self.rel_tol,
            case_sensitive=self.case_sensitive,
        )


class RegexSpec(_Spec):
    type: Literal["regex"] = "regex"
    ignore_case: bool = False

    def check(self, output: str, expected: str) -> CheckResult:
        return check_regex(output, expected, ignore_case=self.ignore_case)

    def validate_pattern(self, expected: str) -> str | None:
        """What is wrong with ``expected`` as a pattern, or ``None``."""
        pattern = regex_pattern(expected)
        if len(pattern) > MAX_PATTERN_CHARS:
            return f"the pattern is longer than {MAX_PATTERN_CHARS} characters"
        try:
            re.compile(pattern)
        except re.error as exc:
            return f"not a valid regular expression: {exc}"
        return None


class UnorderedSpec(_Spec):
    type: Literal["unordered"] = "unordered"

    def check(self, output: str, expected: str) -> CheckResult:
        return check_unordered(output, expected)


class CustomSpec(_Spec):
    """A program following the Kattis output-validator convention (``custom_checker``)."""

    type: Literal["custom"] = "custom"
    program: str = Field(min_length=1)
    args: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _no_nul(self) -> CustomSpec:
        if any("\0" in a for a in (self.program, *self.args)):
            raise ValueError("checker program and args must not contain NUL characters")
        return self


BuiltinSpec = (
    ExactSpec | WhitespaceSpec | TokensSpec | CaseSpec | FloatSpec | RegexSpec | UnorderedSpec
)
CHECKER_NAMES = ("whitespace", "exact", "tokens", "case", "float", "regex", "unordered", "custom")
_SHAPE = 'a checker is a name like "tokens" or a table like { type = "float", abs_tol = 1e-6 }'


def _table(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value
    if isinstance(value, str):
        if value == "custom":
            raise ValueError(
                'a custom checker needs a program: { type = "custom", program = "..." }'
            )
        value = {"type": value}
    if not isinstance(value, dict):
        raise ValueError(_SHAPE)  # noqa: TRY004 - pydantic reports ValueError, not TypeError
    name = value.get("type")
    if name is None:
        raise ValueError(f"a checker table needs a 'type' key, one of: {', '.join(CHECKER_NAMES)}")
    if name not in CHECKER_NAMES:
        raise ValueError(f"unknown checker {name!r}; use one of: {', '.join(CHECKER_NAMES)}")
    return value


CheckerSpec = Annotated[
    BuiltinSpec | CustomSpec, Field(discriminator="type"), BeforeValidator(_table)
]
"""The ``checker`` key of an io test."""

_ADAPTER: TypeAdapter[BuiltinSpec | CustomSpec] = TypeAdapter(CheckerSpec)


def parse_checker(value: Any) -> BuiltinSpec | CustomSpec:
    """A checker spec from TOML data; raises ``pydantic.ValidationError``."""
    return _ADAPTER.validate_python(value)
