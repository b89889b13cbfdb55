"""Scoring: every rule that turns outcomes, deadlines and attempts into points.

Pure functions over values (no I/O, database, clock or sandbox): the engine
calls the first part while it writes a report; the services read a submission's
dates and runs and call the rest.

- A test scores between 0 and its points (``clamped``).
- Static checks (``apply_static``): ``deduct`` takes ``deduct_points`` per distinct
  forbidden name; ``fail_submission`` scores the submission 0; ``fail_tests`` fails
  the listed tests (default: all; a listed name matches a test or the tests it
  yields, ``name :: ...``) with 0 points.
- A submission scores the sum of its tests less deductions, within 0 and the
  package's maximum, rounded to 4 decimals (``submission_score``).
- Lateness is counted in started minutes after the due date plus grace; each
  started day late costs ``penalty_per_day`` of the score, at most all of it; the
  counted score is rounded to 4 decimals. Submissions are accepted late for
  ``max_late_days`` days and close at due + grace + those days.
- The submission that counts (``choose_best``) is, by ``BestPolicy``, the one with
  the most tests passed, the highest counted score, or the latest; ties go to the
  latest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, TypeVar

from pydantic import BaseModel, Field

from assay.grading.outcome import StaticFinding, TestOutcome, TestStatus
from assay.grading.spec import StaticEffect, StaticSpec

MINUTES_PER_DAY = 24 * 60

# --- one submission ------------------------------------------------------------------------


def clamped(outcome: TestOutcome) -> TestOutcome:
    """``outcome`` with its score within 0 and its points."""
    score = min(max(outcome.score, 0.0), outcome.max_score)
    return outcome if score == outcome.score else replace(outcome, score=score)


@dataclass(frozen=True)
class StaticVerdict:
    """What static findings do to a submission's tests and score."""

    outcomes: list[TestOutcome]  # the tests' outcomes, ``fail_tests`` applied
    deducted: float = 0.0
    fail_all: bool = False


def apply_static(
    spec: StaticSpec, findings: Sequence[StaticFinding], outcomes: Sequence[TestOutcome]
) -> StaticVerdict:
    """The effect of ``findings`` under ``spec`` (no findings: no effect)."""
    outcomes = list(outcomes)
    if not findings:
        return StaticVerdict(outcomes)
    names = {f.name for f in findings}
    if spec.effect is StaticEffect.DEDUCT:
        return StaticVerdict(outcomes, deducted=spec.deduct_points * len(names))
    if spec.effect is StaticEffect.FAIL_SUBMISSION:
        return StaticVerdict(outcomes, fail_all=True)
    listed = set(spec.tests)
    summary = "uses forbidden names: " + ", ".join(sorted(names))
    for i, o in enumerate(outcomes):
        if not listed or o.name in listed or o.name.split(" :: ")[0] in listed:
            outcomes[i] = replace(
                o,
                status=TestStatus.FAILED if o.passed else o.status,
                score=0.0,
                message=(o.message + "\n" if o.message else "") + summary,
            )
    return StaticVerdict(outcomes)


def submission_score(
    outcomes: Sequence[TestOutcome],
    max_score: float,
    *,
    deducted: float = 0.0,
    fail_all: bool = False,
) -> float:
    """The tests' scores summed less ``deducted``, within 0 and ``max_score``, 4 decimals."""
    score = 0.0 if fail_all else max(0.0, sum(o.score for o in outcomes) - deducted)
    return round(min(score, max_score), 4)


# --- deadlines and late submissions --------------------------------------------------------


class LatePolicy(BaseModel):
    """Late submissions: within the grace period they count as on time; after it each
    started day late costs ``penalty_per_day`` of the score, and after ``max_late_days``
    submissions are refused (0 = no late submissions after the grace period)."""

    grace_minutes: int = Field(default=0, ge=0)
    penalty_per_day: float = Field(default=0.0, ge=0.0, le=1.0)
    max_late_days: int | None = Field(default=None, ge=0)


def late_minutes(due_at: datetime | None, at: datetime, policy: LatePolicy) -> int:
    """Started minutes after the due date plus grace (0 = on time, also exactly at it)."""
    if due_at is None:
        return 0
    over = (at - due_at).total_seconds() / 60 - policy.grace_minutes
    return max(0, math.ceil(over))


def accepts_late(late_minutes: int, policy: LatePolicy) -> bool:
    """Whether a submission ``late_minutes`` late is accepted at all."""
    if late_minutes == 0:
        return True
    days = policy.max_late_days
    return days is not None and late_minutes <= days * MINUTES_PER_DAY


def late_penalty(late_minutes: int, policy: LatePolicy) -> float:
    """Fraction of the score a late submission loses: per started day late, at most 1."""
    if late_minutes <= 0:
        return 0.0
    return min(1.0, policy.penalty_per_day * math.ceil(late_minutes / MINUTES_PER_DAY))


def counted_score(score: float | None, penalty: float) -> float:
    """The score that counts after a late ``penalty`` (no score counts 0), 4 decimals."""
    return round((score or 0.0) * (1.0 - penalty), 4)


def closes_at(due_at: datetime | None, policy: LatePolicy) -> datetime | None:
    """When submissions stop counting: due + grace + the last late day (None: never)."""
    if due_at is None:
        return None
    return due_at + timedelta(minutes=policy.grace_minutes, days=policy.max_late_days or 0)


def is_closed(due_at: datetime | None, policy: LatePolicy, at: datetime) -> bool:
    """Whether submissions have stopped counting at ``at``."""
    closes = closes_at(due_at, policy)
    return closes is not None and at >= closes


# --- the submission that counts ------------------------------------------------------------


class BestPolicy(StrEnum):
    """Which submission counts for a student's grade."""

    MOST_PASSED = "most_passed"  # most tests passed, then the most recent (Anubis)
    LATEST = "latest"
    HIGHEST = "highest"  # highest score, then the most recent


class Attempt(Protocol):
    """A graded submission as ``choose_best`` sees it."""

    @property
    def order(self) -> int: ...  # larger = submitted later

    @property
    def tests_passed(self) -> int: ...

    @property
    def counted_score(self) -> float: ...


A = TypeVar("A", bound=Attempt)


def choose_best(policy: BestPolicy, attempts: Sequence[A]) -> A | None:
    """most_passed: most tests passed, then the most recent (Anubis); latest: the most
    recent; highest: the highest counted score, then the most recent."""
    if not attempts:
        return None

    def key(a: A) -> tuple[float, int]:
        if policy is BestPolicy.MOST_PASSED:
            return float(a.tests_passed), a.order
        if policy is BestPolicy.HIGHEST:
            return a.counted_score, a.order
        return 0.0, a.order

    return max(attempts, key=key)
