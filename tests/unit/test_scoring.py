"""The scoring rules of assay.grading.scoring, one by one, with their edges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from assay.grading import scoring
from assay.grading.outcome import StaticFinding, TestOutcome, TestStatus
from assay.grading.scoring import BestPolicy, LatePolicy
from assay.grading.spec import StaticEffect, StaticSpec

DUE = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY = 24 * 60


def outcome(name: str, score: float, max_score: float = 2.0, **fields: object) -> TestOutcome:
    status = TestStatus.PASSED if score == max_score else TestStatus.FAILED
    return TestOutcome(name=name, status=status, score=score, max_score=max_score, **fields)  # type: ignore[arg-type]


def finding(name: str) -> StaticFinding:
    return StaticFinding(name, "blacklist", f"{name} is not allowed")


def static(effect: StaticEffect, **fields: object) -> StaticSpec:
    return StaticSpec(blacklist=("eval", "exec"), effect=effect, **fields)  # type: ignore[arg-type]


# --- a test's score ------------------------------------------------------------------------


def test_a_test_score_is_kept_within_zero_and_its_points() -> None:
    assert scoring.clamped(outcome("t", -1.0)).score == 0.0
    assert scoring.clamped(outcome("t", 2.5)).score == 2.0
    inside = outcome("t", 1.5)
    assert scoring.clamped(inside) is inside
    at_cap = outcome("t", 2.0)
    assert scoring.clamped(at_cap) is at_cap


# --- static checks -------------------------------------------------------------------------


def test_no_findings_change_nothing_whatever_the_effect() -> None:
    tests = [outcome("a", 2.0)]
    for effect in StaticEffect:
        verdict = scoring.apply_static(static(effect), [], tests)
        assert verdict == scoring.StaticVerdict(tests)


def test_deduct_takes_points_once_per_distinct_forbidden_name() -> None:
    spec = static(StaticEffect.DEDUCT, deduct_points=1.5)
    found = [finding("eval"), finding("eval"), finding("exec")]
    tests = [outcome("a", 2.0)]
    verdict = scoring.apply_static(spec, found, tests)
    assert verdict.deducted == 3.0
    assert not verdict.fail_all
    assert verdict.outcomes == tests


def test_fail_submission_fails_everything_but_leaves_the_tests_as_they_are() -> None:
    tests = [outcome("a", 2.0)]
    verdict = scoring.apply_static(static(StaticEffect.FAIL_SUBMISSION), [finding("eval")], tests)
    assert verdict.fail_all
    assert verdict.deducted == 0.0
    assert verdict.outcomes == tests


def test_fail_tests_zeroes_every_test_by_default_and_says_why() -> None:
    tests = [
        outcome("a", 2.0),
        outcome("b", 1.0, message="wrong answer"),
        TestOutcome(name="c", status=TestStatus.TIMEOUT, score=0.0, max_score=1.0),
    ]
    spec = static(StaticEffect.FAIL_TESTS)
    verdict = scoring.apply_static(spec, [finding("exec"), finding("eval")], tests)
    a, b, c = verdict.outcomes
    assert (a.status, a.score, a.message) == (
        TestStatus.FAILED,
        0.0,
        "uses forbidden names: eval, exec",
    )
    assert (b.status, b.score) == (TestStatus.FAILED, 0.0)
    assert b.message == "wrong answer\nuses forbidden names: eval, exec"
    assert c.status is TestStatus.TIMEOUT  # a verdict other than passed is kept
    assert tests[0].score == 2.0  # the input is not changed


def test_fail_tests_matches_a_listed_test_and_the_tests_it_yields() -> None:
    tests = [outcome("asserts", 2.0), outcome("asserts :: x == 1", 2.0), outcome("other", 2.0)]
    spec = static(StaticEffect.FAIL_TESTS, tests=("asserts",))
    verdict = scoring.apply_static(spec, [finding("eval")], tests)
    assert [o.score for o in verdict.outcomes] == [0.0, 0.0, 2.0]
    assert verdict.outcomes[2] is tests[2]


# --- a submission's score ------------------------------------------------------------------


def test_a_submission_scores_the_sum_of_its_tests() -> None:
    assert scoring.submission_score([outcome("a", 1.5), outcome("b", 2.0)], 4.0) == 3.5
    assert scoring.submission_score([], 4.0) == 0.0


def test_deductions_floor_at_zero() -> None:
    tests = [outcome("a", 1.0)]
    assert scoring.submission_score(tests, 4.0, deducted=0.25) == 0.75
    assert scoring.submission_score(tests, 4.0, deducted=1.0) == 0.0
    assert scoring.submission_score(tests, 4.0, deducted=5.0) == 0.0


def test_a_submission_score_is_capped_at_the_maximum() -> None:
    assert scoring.submission_score([outcome("a", 2.0), outcome("b", 2.0)], 3.0) == 3.0


def test_fail_all_scores_zero() -> None:
    assert scoring.submission_score([outcome("a", 2.0)], 2.0, fail_all=True) == 0.0


def test_a_submission_score_is_rounded_to_four_decimals() -> None:
    thirds = [outcome(str(i), 1 / 3, 1.0) for i in range(2)]
    assert scoring.submission_score(thirds, 2.0) == 0.6667
    assert scoring.submission_score([outcome("a", 0.1), outcome("b", 0.2)], 1.0) == 0.3


# --- lateness ------------------------------------------------------------------------------


def test_without_a_due_date_nothing_is_late() -> None:
    assert scoring.late_minutes(None, DUE + timedelta(days=30), LatePolicy()) == 0


def test_exactly_at_the_deadline_is_on_time_and_a_second_after_is_a_minute_late() -> None:
    policy = LatePolicy()
    assert scoring.late_minutes(DUE - timedelta(hours=1), DUE - timedelta(hours=2), policy) == 0
    assert scoring.late_minutes(DUE, DUE, policy) == 0
    assert scoring.late_minutes(DUE, DUE + timedelta(seconds=1), policy) == 1
    assert scoring.late_minutes(DUE, DUE + timedelta(seconds=60), policy) == 1
    assert scoring.late_minutes(DUE, DUE + timedelta(seconds=61), policy) == 2


def test_grace_moves_the_deadline() -> None:
    policy = LatePolicy(grace_minutes=15)
    assert scoring.late_minutes(DUE, DUE + timedelta(minutes=15), policy) == 0
    assert scoring.late_minutes(DUE, DUE + timedelta(minutes=15, seconds=1), policy) == 1
    assert scoring.late_minutes(DUE, DUE + timedelta(minutes=20), policy) == 5


def test_late_submissions_are_accepted_only_for_the_late_days() -> None:
    assert scoring.accepts_late(0, LatePolicy())  # on time, even with no late days
    assert not scoring.accepts_late(1, LatePolicy())  # no late days: none accepted
    assert not scoring.accepts_late(1, LatePolicy(max_late_days=0))
    two_days = LatePolicy(max_late_days=2)
    assert scoring.accepts_late(1, two_days)
    assert scoring.accepts_late(2 * DAY, two_days)
    assert not scoring.accepts_late(2 * DAY + 1, two_days)


def test_each_started_day_late_costs_the_daily_penalty() -> None:
    policy = LatePolicy(penalty_per_day=0.1)
    assert scoring.late_penalty(0, policy) == 0.0
    assert scoring.late_penalty(-5, policy) == 0.0
    assert scoring.late_penalty(1, policy) == 0.1
    assert scoring.late_penalty(DAY, policy) == 0.1
    assert scoring.late_penalty(DAY + 1, policy) == 0.2
    assert scoring.late_penalty(DAY + 1, LatePolicy()) == 0.0


def test_the_penalty_takes_at_most_the_whole_score() -> None:
    policy = LatePolicy(penalty_per_day=0.4)
    assert scoring.late_penalty(3 * DAY, policy) == 1.0
    assert scoring.counted_score(7.0, scoring.late_penalty(3 * DAY, policy)) == 0.0


def test_the_counted_score_is_the_score_less_the_penalty_rounded() -> None:
    assert scoring.counted_score(7.0, 0.0) == 7.0
    assert scoring.counted_score(7.0, 0.1) == 6.3
    assert scoring.counted_score(2 / 3, 0.0) == 0.6667
    assert scoring.counted_score(None, 0.0) == 0.0  # no score counts nothing
    assert scoring.counted_score(5.0, 1.0) == 0.0


def test_a_late_policy_refuses_impossible_values() -> None:
    with pytest.raises(ValidationError):
        LatePolicy(penalty_per_day=1.5)
    with pytest.raises(ValidationError):
        LatePolicy(grace_minutes=-1)
    with pytest.raises(ValidationError):
        LatePolicy(max_late_days=-1)


# --- closing -------------------------------------------------------------------------------


def test_submissions_close_after_grace_and_the_last_late_day() -> None:
    policy = LatePolicy(grace_minutes=10, max_late_days=2)
    closes = DUE + timedelta(days=2, minutes=10)
    assert scoring.closes_at(DUE, policy) == closes
    assert scoring.closes_at(DUE, LatePolicy()) == DUE
    assert not scoring.is_closed(DUE, policy, closes - timedelta(microseconds=1))
    assert scoring.is_closed(DUE, policy, closes)  # exactly at the close: closed


def test_without_a_due_date_submissions_never_close() -> None:
    assert scoring.closes_at(None, LatePolicy(max_late_days=2)) is None
    assert not scoring.is_closed(None, LatePolicy(), DUE + timedelta(days=3650))


# --- the submission that counts ------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    order: int
    tests_passed: int
    counted_score: float


def test_no_attempts_no_best() -> None:
    for policy in BestPolicy:
        assert scoring.choose_best(policy, []) is None


def test_most_passed_then_the_latest() -> None:
    attempts = [Attempt(1, 3, 9.0), Attempt(2, 5, 4.0), Attempt(3, 5, 1.0), Attempt(4, 2, 10.0)]
    assert scoring.choose_best(BestPolicy.MOST_PASSED, attempts) == attempts[2]


def test_highest_counted_score_then_the_latest() -> None:
    attempts = [Attempt(1, 9, 6.3), Attempt(2, 1, 7.0), Attempt(3, 1, 7.0), Attempt(4, 9, 6.9)]
    assert scoring.choose_best(BestPolicy.HIGHEST, attempts) == attempts[2]


def test_latest_is_the_last_submitted_whatever_its_score() -> None:
    attempts = [Attempt(5, 9, 10.0), Attempt(7, 0, 0.0), Attempt(6, 9, 10.0)]
    assert scoring.choose_best(BestPolicy.LATEST, attempts) == attempts[1]
