"""Results a test script writes: JSON or TAP, parsed as untrusted input.

The script runs in the student's sandbox, so its results file is read with a
size cap and parsed strictly; anything malformed is a ``ResultsError`` (the
test fails with its message), never an exception that stops grading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from assay.grading.results_json import ResultsError, load_object

MAX_RESULTS_BYTES = 1024 * 1024
MAX_TESTS = 10_000
MAX_TAP_LINES = 100_000
MAX_TEXT_CHARS = 500


@dataclass(frozen=True)
class SubResult:
    name: str
    passed: bool
    message: str = ""


@dataclass(frozen=True)
class ScriptResults:
    """What a script reported: a fraction of the points and the sub-results behind it."""

    fraction: float  # 0..1
    items: tuple[SubResult, ...] = ()
    message: str = ""

    @property
    def complete(self) -> bool:
        return self.fraction >= 1.0

    def summary(self, limit: int = 20) -> str:
        lines = [self.message] if self.message else []
        if self.items:
            passed = sum(i.passed for i in self.items)
            lines.append(f"{passed} of {len(self.items)} checks passed")
            failed = [i for i in self.items if not i.passed]
            for item in failed[:limit]:
                lines.append(
                    f"- failed: {item.name}" + (f": {item.message}" if item.message else "")
                )
            if len(failed) > limit:
                lines.append(f"- ... and {len(failed) - limit} more")
        return "\n".join(lines)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + "..."


# -- JSON ------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _TestEntry(_Strict):
    name: str
    passed: StrictBool
    message: str = ""


class _TestsForm(_Strict):
    tests: Annotated[list[_TestEntry], Field(min_length=1, max_length=MAX_TESTS)]
    message: str = ""


class _ScoreForm(_Strict):
    score: Annotated[float, Field(allow_inf_nan=False)]
    max_score: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    message: str = ""


def parse_json_results(data: bytes) -> ScriptResults:
    """``{"tests": [{"name", "passed", "message"}]}`` or ``{"score", "max_score"}``."""
    _check_size(data)
    raw = load_object(data, "the results file")
    try:
        if "tests" in raw:
            form = _TestsForm.model_validate(raw)
            items = tuple(SubResult(_clip(t.name), t.passed, _clip(t.message)) for t in form.tests)
            fraction = sum(i.passed for i in items) / len(items)
            return ScriptResults(fraction, items, _clip(form.message))
        score_form = _ScoreForm.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'top level'}: {e['msg']}"
            for e in exc.errors()[:5]
        )
        raise ResultsError(
            f"the results file does not match the expected form: {problems}"
        ) from exc
    fraction = min(max(score_form.score / score_form.max_score, 0.0), 1.0)
    return ScriptResults(fraction, (), _clip(score_form.message))


# -- TAP -------------------------------------------------------------------------------
_PLAN = re.compile(r"^1\.\.(\d+)\s*(?:#.*)?$")
_LINE = re.compile(r"^(not ok|ok)\b[ \t]*(\d+)?[ \t]*(?:-[ \t]*)?(.*?)$")
_DIRECTIVE = re.compile(r"(?<!\\)#\s*(SKIP|TODO)\S*\s*(.*)$", re.IGNORECASE)


def parse_tap(data: bytes) -> ScriptResults:
    """TAP (12/13/14): the plan ``1..N`` sets the total; missing and skipped tests fail."""
    _check_size(data)
    text = data.decode("utf-8", errors="replace")
    plan: int | None = None
    seen: dict[int, SubResult] = {}
    last = 0
    bailed = ""
    for raw_line in text.splitlines()[:MAX_TAP_LINES]:
        line = raw_line.rstrip()
        if not line or line[0] in " \t#":  # blank, comments, indented subtests
            continue
        if line.startswith("Bail out!"):
            bailed = _clip(line[len("Bail out!") :].strip()) or "no reason given"
            break
        plan_match = _PLAN.match(line)
        if plan_match:
            if plan is None:
                plan = int(plan_match.group(1)) if len(plan_match.group(1)) <= 6 else MAX_TESTS + 1
            continue
        match = _LINE.match(line)
        if not match:
            continue
        status, number_text, rest = match.groups()
        number = int(number_text) if number_text and len(number_text) <= 6 else last + 1
        last = number
        passed, name, message = _tap_result(status == "ok", rest)
        if number in seen:  # reported twice: it passes only if every report passed
            passed = passed and seen[number].passed
        seen[number] = SubResult(name or f"test {number}", passed, message)
        if len(seen) > MAX_TESTS:
            raise ResultsError(f"the TAP output reports more than {MAX_TESTS} tests")
    if plan is not None and plan > MAX_TESTS:
        raise ResultsError(f"the TAP plan announces more than {MAX_TESTS} tests")
    total = plan if plan is not None else (max(seen) if seen else 0)
    if total == 0:
        raise ResultsError("the TAP output reports no tests (no plan 1..N, N > 0, no test lines)")
    items = []
    for number in range(1, total + 1):
        found = seen.get(number)
        items.append(found or SubResult(f"test {number}", False, "missing from the TAP output"))
    extra = sorted(n for n in seen if n > total)
    notes = []
    if bailed:
        notes.append(f"the test script bailed out: {bailed}")
    if extra:
        notes.append(f"ignored test(s) outside the plan 1..{total}: {extra[:10]}")
    fraction = sum(i.passed for i in items) / total
    return ScriptResults(fraction, tuple(items), "\n".join(notes))


def _tap_result(ok: bool, rest: str) -> tuple[bool, str, str]:
    directive = _DIRECTIVE.search(rest)
    name = rest[: directive.start()].strip() if directive else rest.strip()
    if directive and directive.group(1).upper() == "SKIP":
        reason = directive.group(2).strip()
        return False, _clip(name), _clip("skipped" + (f": {reason}" if reason else ""))
    return ok, _clip(name), ""


def _check_size(data: bytes) -> None:
    if len(data) > MAX_RESULTS_BYTES:
        raise ResultsError(f"the results file is larger than {MAX_RESULTS_BYTES} bytes")
    if not data.strip():
        raise ResultsError("the results file is empty")
