"""A report's JSON stays byte for byte what it was.

Reports built from random outcomes (fixed seeds) are compared with JSON checked in
under tests/fixtures/reports, written by the code before the report models were
merged into the outcome types: the staff view, the student view before and after
the deadline, and the stored form (``model_dump(mode="json")``), which must also
load back to the same JSON.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from assay.grading.outcome import (
    BuildStatus,
    Diagnostic,
    FailureCause,
    Finding,
    Severity,
    StaticFinding,
    TestOutcome,
    TestStatus,
    Timing,
)
from assay.grading.report import BuildReport, GradeReport, ReportStatus, StaticReport, Timings
from assay.grading.spec import StaticEffect, Visibility

FIXTURES = Path(__file__).parent.parent / "fixtures" / "reports"
SEEDS = (1, 2, 3, 4, 5, 6)
# the statuses the fixtures were drawn from (a status added later would change the draws)
FIXTURE_STATUSES = [s for s in TestStatus if s is not TestStatus.SKIPPED]
T = TypeVar("T")
ALPHABET = "ab xyz\n\t<>&\"'\\é€😀\x00\x1b/"


def _text(rng: random.Random, most: int = 12) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, most)))


def _maybe(rng: random.Random, value: T) -> T | None:
    return None if rng.random() < 0.3 else value


def _seconds(rng: random.Random) -> float:
    return rng.choice([0, 1, 0.1 + 0.2, 1e-7, 2.5e-6, rng.uniform(0, 10), rng.uniform(0, 1e-3)])


def _points(rng: random.Random) -> float:
    return rng.choice([0, 1, 2, 0.1 + 0.2, 1 / 3, 2 / 3, 12.345678, rng.uniform(0, 10)])


def _timing(rng: random.Random) -> Timing:
    return Timing(
        wall_s=_seconds(rng), cpu_s=_seconds(rng), peak_memory_bytes=rng.randint(0, 1 << 34)
    )


def _finding(rng: random.Random) -> Finding:
    return Finding(
        kind=rng.choice(["Leak_DefinitelyLost", "InvalidRead", ""]),
        message=_text(rng),
        file=_maybe(rng, _text(rng, 6)),
        line=_maybe(rng, rng.randint(0, 999)),
        bytes=_maybe(rng, rng.randint(0, 1 << 20)),
        stack=tuple(_text(rng, 8) for _ in range(rng.randint(0, 3))),
    )


def _outcome(rng: random.Random, number: int) -> TestOutcome:
    return TestOutcome(
        name=f"test {number} {_text(rng, 5)}",
        status=rng.choice(FIXTURE_STATUSES),
        score=_points(rng),
        max_score=_points(rng),
        kind=rng.choice(["", "io", "asserts", "hook", "valgrind"]),
        visibility=rng.choice(list(Visibility)),
        group=rng.choice(["", "samples", _text(rng, 4)]),
        message=_text(rng),
        output=_text(rng, 30),
        expected=_maybe(rng, _text(rng)),
        actual=_maybe(rng, _text(rng)),
        staff_detail=rng.choice(["", _text(rng)]),
        timing=_timing(rng),
        findings=tuple(_finding(rng) for _ in range(rng.choice([0, 0, 1, 3]))),
        tampered=rng.random() < 0.2,
        cause=rng.choice([None, FailureCause.COMPILE]),
    )


def _diagnostic(rng: random.Random) -> Diagnostic:
    return Diagnostic(
        file=_text(rng, 6),
        line=_maybe(rng, rng.randint(1, 500)),
        column=_maybe(rng, rng.randint(1, 80)),
        severity=rng.choice(list(Severity)),
        message=_text(rng),
        tool=rng.choice(["", "gcc", "python", "make"]),
    )


def _static_finding(rng: random.Random) -> StaticFinding:
    return StaticFinding(
        name=rng.choice(["eval", "exec", "system", "<unchecked>"]),
        rule=rng.choice(["blacklist", "whitelist"]),
        message=_text(rng),
        file=_maybe(rng, "main.c"),
        line=_maybe(rng, rng.randint(1, 99)),
        column=_maybe(rng, rng.randint(1, 40)),
    )


def random_report(seed: int) -> GradeReport:
    """A report of random outcomes, built the way the engine builds one."""
    rng = random.Random(seed)
    outcomes = [_outcome(rng, n) for n in range(rng.randint(0, 6))]
    diagnostics = [_diagnostic(rng) for _ in range(rng.randint(0, 3))]
    build_timing = _timing(rng)
    static = None
    if rng.random() < 0.6:
        static = StaticReport(
            effect=rng.choice(list(StaticEffect)),
            findings=[_static_finding(rng) for _ in range(rng.randint(0, 3))],
            deducted=_points(rng),
        )
    return GradeReport(
        assignment=_text(rng, 8) or "a",
        assignment_version=rng.choice(["1", "2", "2024-1"]),
        status=rng.choice(list(ReportStatus)),
        score=_points(rng),
        max_score=_points(rng),
        build=BuildReport(
            status=rng.choice(list(BuildStatus)),
            log=_text(rng, 40),
            diagnostics=diagnostics,
            timing=build_timing,
        ),
        tests=outcomes,
        static=static,
        tampered=rng.random() < 0.3,
        error=_maybe(rng, _text(rng)),
        staff_error=_maybe(rng, _text(rng)),
        backend=rng.choice(["", "native", "docker", "fake"]),
        environment=rng.choice(["", "python3", "c"]),
        timings=Timings(
            total_s=round(_seconds(rng), 6),
            setup_s=round(_seconds(rng), 6),
            build_s=round(_seconds(rng), 6),
            tests_s=round(_seconds(rng), 6),
        ),
        graded_at=datetime(2026, 12, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 10**7)),
    )


def views(report: GradeReport) -> dict[str, str]:
    """The JSON texts a report is seen as: staff, student (before and after due), stored."""
    stored = json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=1)
    return {
        "staff": report.to_json(),
        "student": report.student_view().to_json(),
        "student_after_due": report.student_view(after_due=True).to_json(),
        "stored": stored,
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_report_json_is_unchanged(seed: int) -> None:
    expected = json.loads((FIXTURES / f"report-{seed}.json").read_text(encoding="utf-8"))
    assert views(random_report(seed)) == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_a_stored_report_loads_to_the_same_json(seed: int) -> None:
    expected = json.loads((FIXTURES / f"report-{seed}.json").read_text(encoding="utf-8"))
    loaded = GradeReport.model_validate(json.loads(expected["stored"]))
    assert views(loaded) == expected
    assert GradeReport.model_validate_json(expected["staff"]).to_json() == expected["staff"]
