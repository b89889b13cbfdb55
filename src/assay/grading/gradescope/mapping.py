"""From a Gradescope results file to Assay outcomes, with the signs of a forged one.

One ``[[tests]]`` entry of kind ``gradescope`` yields a summary row (named as the
entry: the top-level ``output``, the leaderboard, ``run_autograder``'s output for
staff; passed when every Gradescope test passed) and one row per Gradescope test
(``<entry> :: <number> <name>``).

Scores are Gradescope's: a test row scores its ``score`` out of its ``max_score``
and the submission the sum; when the top-level ``score`` overrides that sum (as
Gradescope lets it), the summary row carries the total and the test rows are
shown with their scores in the message but count 0. Assay clamps a row's score
to 0..its max and the submission's to 0..the package's maximum, so extra credit
and negative scores are cut where Gradescope would keep them.

Forgery can only be suspected, not proved (the student's code may write the file;
see docs/gradescope.md); what is suspicious is listed in ``suspicions`` and marks
the summary row ``tampered`` for staff, without changing the score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from assay.grading.gradescope.results import GsResults, GsTest, GsVisibility
from assay.grading.outcome import TestOutcome, TestStatus, Timing, decode
from assay.grading.spec import TestSpec, Visibility

EPSILON = 1e-6
OUTPUT_SHOWN_BYTES = 64 * 1024
STAFF_OUTPUT_BYTES = 16 * 1024

_VISIBILITY = {
    GsVisibility.VISIBLE: Visibility.VISIBLE,
    GsVisibility.AFTER_DUE_DATE: Visibility.AFTER_DUE,
    GsVisibility.AFTER_PUBLISHED: Visibility.HIDDEN,  # Assay has no "publish": the safe side
    GsVisibility.HIDDEN: Visibility.HIDDEN,
}
_STRICTNESS = {Visibility.VISIBLE: 0, Visibility.AFTER_DUE: 1, Visibility.HIDDEN: 2}


@dataclass(frozen=True)
class ExpectedTest:
    """A test the reference submission's results listed (recorded at import)."""

    name: str
    max_score: float | None = None


def labels(tests: Sequence[GsTest]) -> list[str]:
    """Each test's row label: ``<number> <name>`` (a missing name is ``test <i>``), unique."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for index, test in enumerate(tests, 1):
        name = " ".join(test.name.split())[:150] or f"test {index}"
        label = f"{test.number} {name}" if test.number else name
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def visibility(entry: Visibility, own: GsVisibility | None) -> Visibility:
    """The stricter of the entry's visibility and Gradescope's for the row."""
    mapped = _VISIBILITY[own] if own is not None else Visibility.VISIBLE
    return mapped if _STRICTNESS[mapped] > _STRICTNESS[entry] else entry


def suspicions(results: GsResults, points: float, expected: Sequence[ExpectedTest]) -> list[str]:
    """Why ``results`` looks forged, if it does (empty: nothing suspicious)."""
    found: list[str] = []
    known = {e.name: e for e in expected}
    for label, test in zip(labels(results.tests), results.tests, strict=True):
        score = test.score or 0.0
        if test.max_score is not None and score > test.max_score + EPSILON:
            found.append(f"{label!r}: score {score:g} is above its max_score {test.max_score:g}")
        if not expected or score <= EPSILON:
            continue
        reference = known.get(label)
        if reference is None:
            found.append(f"{label!r} scores {score:g} but is not a test the reference run listed")
        elif reference.max_score is not None and score > reference.max_score + EPSILON:
            found.append(
                f"{label!r}: score {score:g} is above the reference run's max_score "
                f"{reference.max_score:g}"
            )
    scored = [t for t in results.tests if t.score is not None]
    if results.score is not None and scored and results.score > results.tests_total() + EPSILON:
        found.append(
            f"the top-level score {results.score:g} is above the sum of the tests' scores "
            f"{results.tests_total():g}"
        )
    if results.total() > points + EPSILON:
        found.append(f"the score {results.total():g} is above the assignment's {points:g} points")
    return found


def _overrides(results: GsResults) -> bool:
    """Whether the top-level score sets the total instead of the tests' sum."""
    return results.score is not None and (
        not results.tests or abs(results.score - results.tests_total()) > EPSILON
    )


def _summary_message(results: GsResults) -> str:
    lines = [results.output.rstrip()] if results.output.strip() else []
    if results.execution_time is not None:
        lines.append(f"execution time: {results.execution_time:g} s")
    for entry in results.leaderboard:
        value = entry.value if isinstance(entry.value, str) else f"{entry.value:g}"
        lines.append(f"leaderboard {entry.name}: {value} ({entry.order})")
    return "\n".join(lines)


def outcomes(
    results: GsResults,
    test: TestSpec,
    *,
    expected: Sequence[ExpectedTest] = (),
    run_output: bytes = b"",
    timing: Timing | None = None,
) -> list[TestOutcome]:
    """The rows of one ``gradescope`` entry from a valid results file."""
    overrides = _overrides(results)
    flags = suspicions(results, test.points, expected)
    staff = [
        "run_autograder's output (Gradescope's results/stdout):",
        decode(run_output, STAFF_OUTPUT_BYTES),
    ]
    if flags:
        staff[:0] = ["results.json looks forged:", *(f"- {f}" for f in flags), ""]
    if results.extra_data:
        staff.append("extra_data keys: " + ", ".join(sorted(results.extra_data)[:20]))
    total = results.total()
    summary = TestOutcome.failed(
        test,
        status=TestStatus.PASSED,
        score=total if overrides else 0.0,
        max_score=test.points if overrides else 0.0,
        visibility=visibility(test.visibility, results.visibility),
        message=_summary_message(results),
        output=(
            decode(run_output, OUTPUT_SHOWN_BYTES)
            if results.stdout_visibility is GsVisibility.VISIBLE
            else ""
        ),
        timing=timing or Timing(),
        tampered=bool(flags),
        staff_detail="\n".join(staff).strip(),
    )
    short = overrides and total < test.points - EPSILON
    if short or not all(t.passed() for t in results.tests):
        summary = replace(summary, status=TestStatus.FAILED)
    rows = [summary]
    for label, gs in zip(labels(results.tests), results.tests, strict=True):
        score = gs.score or 0.0
        max_score = gs.max_score if gs.max_score is not None else max(score, 0.0)
        message = ""
        if overrides:
            message = (
                f"{score:g} / {max_score:g} on Gradescope's scale; the autograder's top-level "
                "score sets the total"
            )
            score = max_score = 0.0
        rows.append(
            TestOutcome.failed(
                test,
                name=f"{test.name} :: {label}",
                status=TestStatus.PASSED if gs.passed() else TestStatus.FAILED,
                score=score,
                max_score=max_score,
                visibility=visibility(
                    test.visibility, gs.visibility if gs.visibility else results.visibility
                ),
                message=message,
                output=decode(gs.output.encode(), OUTPUT_SHOWN_BYTES),
            )
        )
    return rows
