"""Assignment analytics on both databases: exact numbers from known submissions.

Submissions go through ``submissions.submit`` with the service's clock set to
chosen moments around the due date; their runs are then marked graded with a
hand-written report (what a worker records), so every number is known.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from api_helpers import PASSWORD, Api, seeded_api
from assay.errors import NotFoundError, PermissionDeniedError
from assay.grading.outcome import BuildStatus, TestOutcome, TestStatus
from assay.grading.report import BuildReport, GradeReport, ReportStatus
from assay.grading.scoring import LatePolicy
from assay.grading.spec import Visibility
from assay.services import Actor
from assay.services.catalog import assignments, courses
from assay.services.identity import accounts
from assay.services.intake import submissions
from assay.services.reporting import analytics
from assay.services.reporting.analytics import SubmissionRow, Unit
from assay.storage.models import GradingRun, Role, RunStatus
from platform_helpers import DATABASE_KINDS

DUE = datetime(2031, 3, 14, 23, 0, tzinfo=UTC)
POINTS = {"sample": 4.0, "edge": 3.0, "big": 3.0}  # 10 points, like python-io


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One seeded platform per database for the whole module (seeding takes seconds);
    the tests only read, except the regrade test, which undoes its change."""
    with seeded_api(request.param, tmp_path_factory.mktemp(request.param)) as seeded:
        yield seeded


def actor(api: Api, name: str) -> Actor:
    return Actor(user_id=api.user_ids[name], username=name)


def submit_at(
    api: Api, monkeypatch: pytest.MonkeyPatch, name: str, at: datetime, *, passed: set[str] | None
) -> int:
    """A submission by ``name`` made at ``at``, graded with ``passed`` (None: left queued)."""
    monkeypatch.setattr(submissions, "utcnow", lambda: at)
    files = submissions.files_from_mapping({"stats.py": f"# {name} at {at}\n"})
    made = submissions.submit(api.platform, actor(api, name), api.assignment_id, files)
    if passed is not None:
        grade(api, made.run_id, passed)
    return made.id


def grade(api: Api, run_id: int, passed: set[str]) -> None:
    tests = [
        TestOutcome(
            name=name,
            status=TestStatus.PASSED if name in passed else TestStatus.FAILED,
            score=points if name in passed else 0.0,
            max_score=points,
            visibility=Visibility.HIDDEN if name == "big" else Visibility.VISIBLE,
        )
        for name, points in POINTS.items()
    ]
    score = sum(t.score for t in tests)
    report = GradeReport(
        assignment="python-io",
        status=ReportStatus.GRADED,
        score=score,
        max_score=10.0,
        build=BuildReport(status=BuildStatus.PASSED),
        tests=tests,
    )
    with api.platform.db.session() as session:
        run = session.get(GradingRun, run_id)
        assert run is not None
        run.status = RunStatus.GRADED
        run.score, run.max_score = score, 10.0
        run.tests_passed, run.tests_total = len(passed), len(POINTS)
        run.report = report.model_dump(mode="json")


@pytest.fixture(scope="module")
def history(api: Api) -> Iterator[dict[str, int]]:
    """alice: 7 points 30 h before the due date, full marks 2 h before; bob: 4 points,
    then 7 half an hour late; carol: one submission still queued; the teacher: full
    marks (staff: left out); dave: enrolled, never submitted."""
    system = Actor.system()
    for name in ("carol", "dave"):
        user = accounts.create_user(api.platform, system, name, PASSWORD)
        api.user_ids[name] = user.id
        courses.enroll(api.platform, system, api.course_id, name, Role.STUDENT)
    assignments.update_assignment(
        api.platform,
        system,
        api.assignment_id,
        due_at=DUE,
        late_policy=LatePolicy(max_late_days=2),
    )
    hour = timedelta(hours=1)
    with pytest.MonkeyPatch.context() as clock:
        yield {
            "alice-1": submit_at(api, clock, "alice", DUE - 30 * hour, passed={"sample", "big"}),
            "alice-2": submit_at(api, clock, "alice", DUE - 2 * hour, passed=set(POINTS)),
            "bob-1": submit_at(api, clock, "bob", DUE - 1.5 * hour, passed={"sample"}),
            "bob-2": submit_at(api, clock, "bob", DUE + hour / 2, passed={"sample", "edge"}),
            "carol-1": submit_at(api, clock, "carol", DUE - hour, passed=None),
            "teacher": submit_at(api, clock, "teacher", DUE - 5 * hour, passed=set(POINTS)),
        }


def test_headline_counts_students_only(api: Api, history: dict[str, int]) -> None:
    found = analytics.for_assignment(api.platform, actor(api, "teacher"), api.assignment_id)
    h = found.headline
    assert (h.enrolled, h.submitted, h.submissions, h.graded) == (4, 3, 5, 2)
    # counted submissions (most tests passed): alice 10, bob 7 -> median 8.5
    assert (h.median_best_score, h.max_score) == (8.5, 10.0)
    assert (h.full_marks, h.full_marks_share) == (1, round(1 / 3, 4))
    assert (found.course_code, found.title, found.due_at) == ("cs101", "Exam statistics", DUE)


def test_timeline_per_hour_around_the_due_date(api: Api, history: dict[str, int]) -> None:
    found = analytics.for_assignment(api.platform, actor(api, "teacher"), api.assignment_id)
    t = found.timeline
    assert (t.unit, t.anchor, t.anchored_on_due, t.earlier, t.later) == (
        Unit.HOUR,
        DUE,
        True,
        0,
        0,
    )  # auto: every submission within 72 h of the due date
    assert [b.offset for b in t.buckets] == list(range(-30, 1))  # the gaps are zeros
    busy = {b.offset: (b.on_time, b.late, b.students) for b in t.buckets if b.on_time or b.late}
    assert busy == {-30: (1, 0, 1), -2: (2, 0, 2), -1: (1, 0, 1), 0: (0, 1, 1)}
    first = t.buckets[0]
    assert (first.label, first.start) == ("\N{MINUS SIGN}30h", DUE - timedelta(hours=30))
    assert t.buckets[-1].label == "+0h"


def test_timeline_per_day_on_request(api: Api, history: dict[str, int]) -> None:
    found = analytics.for_assignment(
        api.platform, actor(api, "teacher"), api.assignment_id, Unit.DAY
    )
    t = found.timeline
    # -30 h is in day -2; -2 h, -1.5 h and -1 h in day -1; +0.5 h in day 0
    assert [(b.offset, b.on_time, b.late) for b in t.buckets] == [(-2, 1, 0), (-1, 3, 0), (0, 0, 1)]


def test_pass_rate_per_test_from_each_latest_graded_run(api: Api, history: dict[str, int]) -> None:
    found = analytics.for_assignment(api.platform, actor(api, "teacher"), api.assignment_id)
    # alice's latest: all passed; bob's latest: sample + edge; carol: not graded yet
    rates = [(r.name, r.passed, r.students, r.pass_rate, r.visibility) for r in found.tests]
    assert rates == [
        ("big", 1, 2, 0.5, "hidden"),
        ("edge", 2, 2, 1.0, "visible"),  # ties: the lower mean score first
        ("sample", 2, 2, 1.0, "visible"),
    ]


def test_time_to_full_marks_counts_those_not_there(api: Api, history: dict[str, int]) -> None:
    ttf = analytics.for_assignment(
        api.platform, actor(api, "teacher"), api.assignment_id
    ).time_to_full
    assert (ttf.students, ttf.reached, ttf.first_try, ttf.never) == (3, 1, 0, 2)
    assert (ttf.median_hours, ttf.median_submissions) == (28.0, 2)
    assert {b.label: b.students for b in ttf.bins if b.students} == {
        "1\N{EN DASH}3 days": 1,
        "not yet": 2,
    }
    assert ttf.bins[-1].label == "not yet"


def test_students_and_outsiders_are_refused(api: Api, history: dict[str, int]) -> None:
    with pytest.raises(PermissionDeniedError):
        analytics.for_assignment(api.platform, actor(api, "alice"), api.assignment_id)
    with pytest.raises(NotFoundError):
        analytics.for_assignment(api.platform, actor(api, "outsider"), api.assignment_id)
    with api.client("alice") as alice, api.client("outsider") as outsider:
        path = f"/admin/assignments/{api.assignment_id}/analytics"
        assert alice.get(path).status_code == 403
        assert outsider.get(path).status_code == 403  # the admin zone is closed to them


def test_api_serves_the_same_numbers(api: Api, history: dict[str, int]) -> None:
    with api.client("ta") as ta:
        response = ta.get(
            f"/admin/assignments/{api.assignment_id}/analytics", params={"unit": "day"}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["timeline"]["unit"] == "day"
        assert body["headline"]["submitted"] == 3
        assert [t["name"] for t in body["tests"]] == ["big", "edge", "sample"]
        assert ta.get(
            f"/admin/assignments/{api.assignment_id}/analytics", params={"unit": "week"}
        ).is_error


def test_a_regrade_replaces_the_grade_that_counts(api: Api, history: dict[str, int]) -> None:
    """A newer graded run of bob's latest submission (the package changed) is the one used."""
    with api.platform.db.session() as session:
        old = session.scalar(select(GradingRun).where(GradingRun.submission_id == history["bob-2"]))
        assert old is not None
        newer = GradingRun(submission_id=old.submission_id, version_id=old.version_id)
        session.add(newer)
        session.flush()
        run_id = newer.id
    try:
        grade(api, run_id, set(POINTS))
        found = analytics.for_assignment(api.platform, actor(api, "teacher"), api.assignment_id)
    finally:
        with api.platform.db.session() as session:
            session.delete(session.get(GradingRun, run_id))
    assert [(r.name, r.pass_rate) for r in found.tests] == [
        ("big", 1.0),
        ("edge", 1.0),
        ("sample", 1.0),
    ]
    assert found.headline.full_marks == 2
    assert found.time_to_full.reached == 2


# --- the statistics on plain rows -----------------------------------------------------------


def row(n: int, user: int, hours: float, score: float | None = None) -> SubmissionRow:
    return SubmissionRow(
        submission_id=n,
        user_id=user,
        at=DUE + timedelta(hours=hours),
        late=hours > 0,
        run_id=None if score is None else n,
        score=score,
        max_score=None if score is None else 10.0,
    )


def test_auto_unit_turns_to_days_past_72_hours_and_clips_a_long_tail() -> None:
    rows = [row(1, 1, -24 * 200), row(2, 1, -73), row(3, 2, -0.2)]
    t = analytics.timeline(rows, DUE, Unit.AUTO)
    assert t.unit is Unit.DAY
    assert (t.buckets[0].offset, t.buckets[-1].offset, t.earlier, t.later) == (-90, 0, 1, 0)
    hourly = analytics.timeline(rows, DUE, Unit.HOUR)
    assert (hourly.buckets[0].offset, hourly.earlier) == (-168, 1)  # 7 days at most


def test_without_a_due_date_days_start_at_the_first_submission() -> None:
    rows = [row(1, 1, 5), row(2, 2, 30)]  # 2031-03-15 04:00 and 2031-03-16 05:00
    t = analytics.timeline(rows, None, Unit.AUTO)
    assert (t.anchored_on_due, t.anchor) == (False, datetime(2031, 3, 15, tzinfo=UTC))
    assert [(b.label, b.on_time + b.late) for b in t.buckets] == [("Mar 15", 1), ("Mar 16", 1)]
    assert analytics.timeline([], None, Unit.AUTO).buckets == []
    empty_due = analytics.timeline([], DUE, Unit.AUTO)
    assert [b.offset for b in empty_due.buckets] == [-1, 0]


def test_full_marks_on_the_first_submission() -> None:
    ttf = analytics.time_to_full([row(1, 1, -5, 10.0), row(2, 1, -1, 4.0), row(3, 2, -3, 9.0)])
    assert (ttf.reached, ttf.first_try, ttf.never, ttf.median_hours) == (1, 1, 1, 0.0)
    assert analytics.time_to_full([]).median_hours is None
