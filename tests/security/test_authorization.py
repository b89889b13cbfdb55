"""Students cannot reach what is not theirs: other students' submissions and reports,
hidden test contents, the admin zone, other courses, regrades and exports. Checked
over real HTTP on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from api_helpers import EXAMPLES, Api, seeded_api
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.submission import load_submission
from assay.sandbox.backends import get_backend
from assay.storage.models import GradingRun, RunStatus, Submission
from helpers import require_backend
from platform_helpers import DATABASE_KINDS

HIDDEN_CONTENTS = ("50 0 100 50 49 51", "mean 50.00", "0 12 49 3", "mean 16.00", "67 66 67")


@pytest.fixture(params=DATABASE_KINDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    with seeded_api(request.param, tmp_path) as seeded:
        yield seeded


def alice_submission(api: Api) -> int:
    with api.client("alice") as alice:
        response = alice.post(
            f"/assignments/{api.assignment_id}/submissions",
            json={"files": {"stats.py": "print('alice secret')\n"}},
        )
    assert response.status_code == 201
    submission_id: int = response.json()["id"]
    return submission_id


def test_students_cannot_read_other_students_submissions(api: Api) -> None:
    submission = alice_submission(api)
    with api.client("bob") as bob, api.client("outsider") as outsider, api.client("alice") as alice:
        assert alice.get(f"/submissions/{submission}").status_code == 200
        for client in (bob, outsider):
            assert client.get(f"/submissions/{submission}").status_code == 404
            assert client.get(f"/submissions/{submission}/report").status_code == 404
            assert submission not in [s["id"] for s in client.get("/submissions").json()]
        listed = bob.get(f"/assignments/{api.assignment_id}/submissions").json()
        assert listed == []
        # bob cannot submit in alice's name
        refused = bob.post(
            f"/assignments/{api.assignment_id}/submissions?user_id={api.user_ids['alice']}",
            json={"files": {"a.py": "x"}},
        )
        assert refused.status_code == 403


def test_only_course_staff_submit_on_behalf_and_only_for_course_members(api: Api) -> None:
    """``?user_id=N``: staff of the assignment's course (and the site admin) may submit for a
    member of that course; nobody may submit for anyone else, and an unknown id looks the
    same as a non-member (no 500, nothing stored)."""
    path = f"/assignments/{api.assignment_id}/submissions"
    files = {"files": {"stats.py": "print(1)\n"}}
    ids = api.user_ids
    unknown = max(ids.values()) + 1000

    def submit(who: str, user_id: int) -> httpx.Response:
        with api.client(who) as client:
            return client.post(f"{path}?user_id={user_id}", json=files)

    for who in ("teacher", "ta", "admin"):
        made = submit(who, ids["alice"])
        assert made.status_code == 201, (who, made.text)
        assert made.json()["user_id"] == ids["alice"]
    outsiders = [
        submit(who, user)
        for who in ("teacher", "ta", "admin")
        for user in (ids["admin"], ids["outsider"], unknown)
        if user != ids[who]  # the admin submitting as themself is their own submission
    ]
    assert {r.status_code for r in outsiders} == {404}
    assert len({r.text for r in outsiders}) == 1  # unknown and non-member look the same
    students = [submit("bob", user) for user in (ids["alice"], ids["admin"], unknown)]
    assert {r.status_code for r in students} == {403}
    assert len({r.text for r in students}) == 1
    assert submit("outsider", ids["alice"]).status_code == 404  # not their course
    with api.platform.db.session() as session:
        owners = list(session.scalars(select(Submission.user_id)))
    assert owners == [ids["alice"]] * 3


def test_other_courses_are_invisible(api: Api) -> None:
    with api.client("outsider") as outsider, api.client("alice") as alice:
        assert outsider.get(f"/courses/{api.course_id}").status_code == 404
        assert outsider.get(f"/courses/{api.course_id}/assignments").status_code == 404
        assert outsider.get(f"/assignments/{api.assignment_id}").status_code == 404
        submit = outsider.post(
            f"/assignments/{api.assignment_id}/submissions", json={"files": {"a.py": "x"}}
        )
        assert submit.status_code == 404
        assert [c["code"] for c in outsider.get("/courses").json()] == ["cs999"]
        assert alice.get(f"/courses/{api.other_course_id}").status_code == 404
        # students see the staff of their course, not the other students
        members = {m["username"] for m in alice.get(f"/courses/{api.course_id}/members").json()}
        assert members == {"teacher", "ta"}


def test_unpublished_assignments_are_hidden_from_students(api: Api) -> None:
    with api.client("teacher") as teacher, api.client("alice") as alice:
        patch = teacher.patch(f"/admin/assignments/{api.assignment_id}", json={"published": False})
        assert patch.status_code == 200
        assert alice.get(f"/assignments/{api.assignment_id}").status_code == 404
        assert alice.get(f"/courses/{api.course_id}/assignments").json() == []
        submit = alice.post(
            f"/assignments/{api.assignment_id}/submissions", json={"files": {"a.py": "x"}}
        )
        assert submit.status_code == 404
        assert teacher.get(f"/assignments/{api.assignment_id}").status_code == 200


ADMIN_ZONE = [
    ("GET", "/admin/users"),
    ("POST", "/admin/users"),
    ("GET", "/admin/audit"),
    ("POST", "/admin/courses"),
    ("GET", "/admin/courses/{course}/roster"),
    ("POST", "/admin/courses/{course}/roster"),
    ("GET", "/admin/submissions?assignment_id={assignment}"),
    ("POST", "/admin/submissions/{submission}/regrade"),
    ("POST", "/admin/assignments/{assignment}/regrade"),
    ("GET", "/admin/assignments/{assignment}/results"),
    ("GET", "/admin/assignments/{assignment}/grades.csv"),
    ("GET", "/admin/assignments/{assignment}/grades.json"),
    ("PATCH", "/admin/assignments/{assignment}"),
    ("POST", "/admin/assignments/{assignment}/versions"),
    ("POST", "/admin/courses/{course}/assignments"),
]


def test_students_are_kept_out_of_the_admin_zone(api: Api) -> None:
    submission = alice_submission(api)
    bodies = {
        "POST": {"username": "mallory", "code": "x", "name": "x"},
        "PATCH": {"published": True},
    }
    with api.client("alice") as alice, api.client("outsider") as outsider:
        for method, template in ADMIN_ZONE:
            path = template.format(
                course=api.course_id, assignment=api.assignment_id, submission=submission
            )
            for client in (alice, outsider):
                response = client.request(method, path, json=bodies.get(method))
                assert response.status_code == 403, (method, path, response.text)
    with api.client(None) as anonymous:
        assert anonymous.get("/admin/users").status_code == 401
    # nothing happened: no new user, no regrade run
    with api.platform.db.session() as session:
        runs = session.scalars(select(GradingRun).where(GradingRun.submission_id == submission))
        assert len(list(runs)) == 1


def test_staff_of_one_course_cannot_touch_another(api: Api) -> None:
    with api.client("ta") as ta:
        assert ta.get(f"/admin/courses/{api.other_course_id}/roster").status_code == 404
        assert ta.get(f"/admin/courses/{api.course_id}/roster").status_code == 200
        assert ta.get("/admin/users").status_code == 403  # administrators only
        assert ta.post("/admin/courses", json={"code": "x", "name": "x"}).status_code == 403
        # TAs are staff but not instructors: no enrollment changes
        enroll = ta.post(f"/admin/courses/{api.course_id}/roster", json={"username": "outsider"})
        assert enroll.status_code == 403
    with api.client("admin") as admin:
        assert admin.get("/admin/users").status_code == 200
        assert admin.get("/admin/audit").status_code == 200


def test_reports_never_show_hidden_test_contents_to_students(api: Api) -> None:
    """A real report (graded here with the engine) stored as a worker would: the student's
    JSON has no hidden input or expected output; the staff JSON has them."""
    require_backend("native", "python3")
    submission = alice_submission(api)
    package = EXAMPLES / "python-io"
    with load_package(package) as loaded:
        report = grade(
            loaded, load_submission(package / "bad" / "wrong-answer"), backend=get_backend("native")
        )
    assert report.score == 7.0
    with api.platform.db.session() as session:
        run = session.scalars(
            select(GradingRun).where(GradingRun.submission_id == submission)
        ).one()
        run.status = RunStatus.GRADED
        run.report = report.model_dump(mode="json")
        run.score, run.max_score = report.score, report.max_score
    with api.client("alice") as alice, api.client("teacher") as teacher:
        student = alice.get(f"/submissions/{submission}/report")
        staff = teacher.get(f"/submissions/{submission}/report")
    assert student.status_code == staff.status_code == 200
    for text in HIDDEN_CONTENTS:
        assert text not in student.text, text
    assert any(text in staff.text for text in HIDDEN_CONTENTS)
    assert student.json()["report"]["score"] == 7.0
