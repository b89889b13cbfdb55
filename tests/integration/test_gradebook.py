"""The staff pages' services on a real database: course overviews, the results table
(search, sort, tamper flags), the queue, and the reference check of a package.

Runs are marked graded directly in the database (what a worker records), so the
numbers are exact without a sandbox; the reference check grades for real.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from api_helpers import EXAMPLES, seed
from assay.errors import NotFoundError, PermissionDeniedError
from assay.grading.submission import load_submission
from assay.services import Actor, Platform
from assay.services.catalog import assignments, courses, packages, refcheck
from assay.services.identity import accounts
from assay.services.intake import submissions
from assay.services.reporting import gradebook
from assay.storage.models import GradingRun, Role, RunStatus, utcnow
from helpers import require_backend
from platform_helpers import DATABASE_KINDS, database_url, open_platform, settings_for


@dataclass
class Seeded:
    platform: Platform
    course_id: int
    other_course_id: int
    assignment_id: int
    ids: dict[str, int]

    def actor(self, name: str) -> Actor:
        return Actor(user_id=self.ids[name], username=name, is_admin=name == "admin")


def _open(kind: str, tmp_path: Path) -> Iterator[Seeded]:
    with database_url(kind, tmp_path) as url:
        platform = open_platform(settings_for(url, tmp_path / "state"))
        try:
            data = seed(platform)
            yield Seeded(platform, data["course"], data["other"], data["assignment"], data["ids"])
        finally:
            platform.close()


@pytest.fixture(params=DATABASE_KINDS)
def seeded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Seeded]:
    yield from _open(request.param, tmp_path)


@pytest.fixture
def on_sqlite(tmp_path: Path) -> Iterator[Seeded]:
    yield from _open("sqlite", tmp_path)


def submit(s: Seeded, who: str, variant: str = "solution") -> int:
    files = load_submission(EXAMPLES / "python-io" / variant)
    return submissions.submit(s.platform, s.actor(who), s.assignment_id, files).id


def mark_graded(
    s: Seeded, submission_id: int, passed: int, score: float, *, tampered: bool = False
) -> None:
    with s.platform.db.session() as session:
        run = session.scalars(
            select(GradingRun)
            .where(GradingRun.submission_id == submission_id)
            .order_by(GradingRun.id.desc())
        ).first()
        assert run is not None
        run.status = RunStatus.GRADED
        run.tests_passed, run.tests_total = passed, 10
        run.score, run.max_score = score, 10.0
        run.tampered = tampered
        run.finished_at = utcnow()


def test_staff_see_their_courses_with_counts(seeded: Seeded) -> None:
    submit(seeded, "alice")
    listed = gradebook.staff_courses(seeded.platform, seeded.actor("ta"))
    assert [c.course.code for c in listed] == ["cs101"]
    (course,) = listed
    assert (course.students, course.assignments, course.published, course.pending) == (2, 1, 1, 1)
    assert gradebook.staff_courses(seeded.platform, seeded.actor("alice")) == []
    everything = gradebook.staff_courses(seeded.platform, seeded.actor("admin"))
    assert {c.course.code for c in everything} == {"cs101", "cs999"}


def test_course_dashboard_counts_submissions_per_assignment(seeded: Seeded) -> None:
    first = submit(seeded, "alice", "bad/wrong-answer")
    mark_graded(seeded, first, 7, 7.0)
    submit(seeded, "alice")  # pending
    mark_graded(seeded, submit(seeded, "bob"), 10, 10.0)
    board = gradebook.course_dashboard(seeded.platform, seeded.actor("teacher"), seeded.course_id)
    assert board.students == 2
    assert {m.username for m in board.staff} == {"teacher", "ta"}
    (row,) = board.assignments
    assert (row.submissions, row.students_submitted, row.pending) == (3, 2, 1)
    assert board.pending == 1
    assert [r.username for r in board.recent] == ["bob", "alice", "alice"]
    assert board.recent[0].status == RunStatus.GRADED and board.recent[0].score == 10.0


def test_course_dashboard_is_for_staff_only(seeded: Seeded) -> None:
    with pytest.raises(PermissionDeniedError):
        gradebook.course_dashboard(seeded.platform, seeded.actor("alice"), seeded.course_id)
    with pytest.raises(NotFoundError):
        gradebook.course_dashboard(seeded.platform, seeded.actor("outsider"), seeded.course_id)
    with pytest.raises(NotFoundError):
        gradebook.results_table(seeded.platform, seeded.actor("outsider"), seeded.assignment_id)


def test_results_table_searches_sorts_and_flags_tampering(seeded: Seeded) -> None:
    system = Actor.system()
    carol = accounts.create_user(
        seeded.platform, system, "carol", "pw-carol-123", display_name="Carol Chen"
    )
    courses.enroll(seeded.platform, system, seeded.course_id, "carol", Role.STUDENT)
    seeded.ids["carol"] = carol.id
    mark_graded(seeded, submit(seeded, "alice", "bad/wrong-answer"), 9, 9.0, tampered=True)
    mark_graded(seeded, submit(seeded, "bob", "bad/crash"), 8, 8.0)
    ta = seeded.actor("ta")

    table = gradebook.results_table(seeded.platform, ta, seeded.assignment_id)
    assert [r.username for r in table.rows] == ["alice", "bob", "carol"]  # carol by "Carol Chen"
    by_name = {r.username: r for r in table.rows}
    assert by_name["alice"].tampered is True and by_name["bob"].tampered is False
    assert by_name["carol"].submission_id is None
    summary = table.summary
    assert (summary.students, summary.submitted, summary.tampered, summary.full_marks) == (
        3,
        2,
        1,
        0,
    )
    assert summary.mean_score == 8.5

    found = gradebook.results_table(seeded.platform, ta, seeded.assignment_id, query="  CHEN ")
    assert [r.username for r in found.rows] == ["carol"]
    assert found.summary.students == 3  # the summary is of the whole course
    assert (
        gradebook.results_table(seeded.platform, ta, seeded.assignment_id, query="zed").rows == []
    )

    by_score = gradebook.results_table(
        seeded.platform, ta, seeded.assignment_id, sort="score", descending=True
    )
    assert [r.username for r in by_score.rows] == ["alice", "bob", "carol"]  # no score: last
    ascending = gradebook.results_table(seeded.platform, ta, seeded.assignment_id, sort="score")
    assert [r.username for r in ascending.rows] == ["bob", "alice", "carol"]
    tamper_first = gradebook.results_table(
        seeded.platform, ta, seeded.assignment_id, sort="tamper", descending=True
    )
    assert tamper_first.rows[0].username == "alice"
    unknown = gradebook.results_table(seeded.platform, ta, seeded.assignment_id, sort="drop table")
    assert unknown.sort == "name"


def test_queue_status_lists_jobs_of_the_actors_courses_only(seeded: Seeded) -> None:
    submit(seeded, "alice")
    ta_view = gradebook.queue_status(seeded.platform, seeded.actor("ta"))
    assert [lane.queued for lane in ta_view.lanes] == [1]
    assert len(ta_view.jobs) == 1 and ta_view.jobs[0].submission_id is not None
    assert ta_view.workers == [] and ta_view.slots == 0
    # the other course's instructor sees the depth but not cs101's jobs
    system = Actor.system()
    courses.enroll(seeded.platform, system, seeded.other_course_id, "outsider", Role.INSTRUCTOR)
    other = gradebook.queue_status(seeded.platform, seeded.actor("outsider"))
    assert [lane.queued for lane in other.lanes] == [1] and other.jobs == []
    with pytest.raises(NotFoundError):
        gradebook.queue_status(seeded.platform, seeded.actor("alice"))


def test_reference_check_passes_a_good_package_and_explains_a_broken_one(
    on_sqlite: Seeded, tmp_path: Path
) -> None:
    require_backend("native")
    s = on_sqlite
    teacher = s.actor("teacher")
    done = refcheck.check_reference(s.platform, teacher, s.assignment_id)
    assert done.status == "passed", done
    labels = [(e.label, e.ok) for e in done.entries]
    assert labels[0] == ("solution", True) and len(labels) == 4
    assert done.entries[0].score == done.entries[0].max_score == 10.0

    broken = tmp_path / "broken"
    shutil.copytree(EXAMPLES / "python-io", broken)
    shutil.copy(broken / "bad" / "wrong-answer" / "stats.py", broken / "solution" / "stats.py")
    assignments.upload_version(
        s.platform, teacher, s.assignment_id, packages.pack_directory(broken), "v2.tar.gz"
    )
    failed = refcheck.check_reference(s.platform, teacher, s.assignment_id)
    assert failed.status == "failed"
    assert "the reference solution got 7 / 10" in failed.entries[0].problem

    versions = refcheck.list_versions(s.platform, teacher, s.assignment_id)
    assert [(v.number, v.current) for v in versions] == [(2, True), (1, False)]
    assert versions[0].reference is not None and versions[0].reference.status == "failed"
    assert versions[1].reference is not None and versions[1].reference.status == "passed"
    assert versions[1].uploaded_by == ""  # the seed uploaded it as the system
    with pytest.raises(PermissionDeniedError):
        refcheck.check_reference(s.platform, s.actor("alice"), s.assignment_id)
