"""coursework: a course's assignments with the student's standing, starter files, the
editor's files, with the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from api_helpers import EXAMPLES, Api, package_bytes, seeded_api
from assay.errors import NotFoundError
from assay.grading.scoring import LatePolicy
from assay.services import Actor
from assay.services.catalog import assignments, packages
from assay.services.intake import submissions
from assay.services.reporting import coursework
from assay.storage.models import utcnow
from assay.web.ui.pages.assignments import late_text, statement_html
from platform_helpers import DATABASE_KINDS

STARTER = (EXAMPLES / "python-io" / "starter" / "stats.py").read_bytes()


@pytest.fixture(params=DATABASE_KINDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    with seeded_api(request.param, tmp_path) as seeded:
        yield seeded


def actor(api: Api, name: str) -> Actor:
    return Actor(user_id=api.user_ids[name], username=name)


def submit(api: Api, who: str, text: str) -> int:
    files = submissions.files_from_mapping({"stats.py": text})
    return submissions.submit(api.platform, actor(api, who), api.assignment_id, files).id


def test_course_overview_orders_open_first_and_shows_own_standing(api: Api) -> None:
    system = Actor.system()
    later = assignments.create_assignment(
        api.platform,
        system,
        api.course_id,
        package_bytes(),
        slug="later",
        due_at=utcnow() + timedelta(days=9),
        publish=True,
    )
    closed = assignments.create_assignment(
        api.platform,
        system,
        api.course_id,
        package_bytes(),
        slug="closed",
        due_at=utcnow() - timedelta(days=1),
        publish=True,
    )
    hidden = assignments.create_assignment(
        api.platform, system, api.course_id, package_bytes(), slug="draft"
    )
    assignments.update_assignment(
        api.platform, system, api.assignment_id, due_at=utcnow() + timedelta(days=2)
    )
    first = submit(api, "alice", "print('try')\n")

    alice = coursework.course_overview(api.platform, actor(api, "alice"), api.course_id)
    assert not alice.staff
    order = [s.assignment.id for s in alice.assignments]
    assert order == [api.assignment_id, later.id, closed.id]  # soonest due first, closed last
    assert [s.closed for s in alice.assignments] == [False, False, True]
    mine = alice.assignments[0]
    assert mine.best is not None and mine.best.submissions == 1
    assert mine.latest is not None and mine.latest.id == first
    assert alice.assignments[1].latest is None

    teacher = coursework.course_overview(api.platform, actor(api, "teacher"), api.course_id)
    assert teacher.staff
    assert hidden.id in {s.assignment.id for s in teacher.assignments}  # staff see drafts
    with pytest.raises(NotFoundError):
        coursework.course_overview(api.platform, actor(api, "outsider"), api.course_id)


def test_starter_files_listing_download_and_zip(api: Api) -> None:
    alice = actor(api, "alice")
    listed = coursework.starter_files(api.platform, alice, api.assignment_id)
    assert [(f.path, f.size) for f in listed] == [("stats.py", len(STARTER))]
    assert coursework.starter_file(api.platform, alice, api.assignment_id, "stats.py") == STARTER
    for outside in ("../assignment.toml", "../solution/stats.py", "/etc/passwd", "missing.py"):
        with pytest.raises(NotFoundError):
            coursework.starter_file(api.platform, alice, api.assignment_id, outside)
    archive = zipfile.ZipFile(
        io.BytesIO(coursework.starter_zip(api.platform, alice, api.assignment_id))
    )
    assert archive.read("stats.py") == STARTER
    with pytest.raises(NotFoundError):
        coursework.starter_files(api.platform, actor(api, "outsider"), api.assignment_id)


def test_students_get_no_starter_files_of_an_unpublished_assignment(api: Api) -> None:
    draft = assignments.create_assignment(
        api.platform, Actor.system(), api.course_id, package_bytes(), slug="draft"
    )
    with pytest.raises(NotFoundError):
        coursework.starter_files(api.platform, actor(api, "alice"), draft.id)
    assert coursework.starter_files(api.platform, actor(api, "ta"), draft.id)


def test_a_starter_that_would_reveal_the_package_offers_nothing(api: Api, tmp_path: Path) -> None:
    for n, starter in enumerate((".", "solution/..", "solution")):
        package = tmp_path / f"pkg{n}"
        shutil.copytree(EXAMPLES / "python-io", package)
        manifest = package / "assignment.toml"
        manifest.write_text(manifest.read_text() + f'\n[paths]\nstarter = "{starter}"\n')
        made = assignments.create_assignment(
            api.platform,
            Actor.system(),
            api.course_id,
            packages.pack_directory(package),
            slug=f"leaky-{n}",
            publish=True,
        )
        assert coursework.starter_files(api.platform, actor(api, "alice"), made.id) == []
        with pytest.raises(NotFoundError):
            coursework.starter_file(api.platform, actor(api, "alice"), made.id, "assignment.toml")


def test_the_editor_starts_from_the_starter_then_the_latest_submission(api: Api) -> None:
    alice = actor(api, "alice")
    fresh = coursework.assignment_view(api.platform, alice, api.assignment_id)
    assert fresh.editor_from == "starter"
    assert fresh.editor is not None and fresh.editor[0].text == STARTER.decode()
    assert fresh.mine.history == [] and fresh.can_submit

    submit(api, "alice", "print('one')\n")
    second = submit(api, "alice", "print('two')\n")
    view = coursework.assignment_view(api.platform, alice, api.assignment_id)
    assert view.editor_from == "latest"
    assert view.editor is not None and view.editor[0].text == "print('two')\n"
    assert view.mine.history[0].id == second  # newest first
    assert view.mine.pending  # nothing grades them here: both still queued
    again = coursework.assignment_view(api.platform, alice, api.assignment_id, from_starter=True)
    assert again.editor_from == "starter"
    # bob's view never shows alice's files
    bob = coursework.assignment_view(api.platform, actor(api, "bob"), api.assignment_id)
    assert bob.editor_from == "starter" and bob.mine.history == []


def test_only_small_text_files_go_to_the_editor() -> None:
    assert coursework.editable([("a.py", b"x = 1\n")]) is not None
    assert coursework.editable([("a.bin", b"\x00\x01")]) is None
    assert coursework.editable([("a.txt", "é".encode("latin-1"))]) is None
    too_big = b"x" * (coursework.EDITOR_MAX_FILE_BYTES + 1)
    assert coursework.editable([("big.py", too_big)]) is None
    many = [(f"f{n}.py", b"") for n in range(coursework.EDITOR_MAX_FILES + 1)]
    assert coursework.editable(many) is None


def test_closed_after_the_late_days(api: Api) -> None:
    policy = LatePolicy(grace_minutes=10, max_late_days=2)
    assignments.update_assignment(
        api.platform,
        Actor.system(),
        api.assignment_id,
        due_at=utcnow() - timedelta(days=1),
        late_policy=policy,
    )
    view = coursework.assignment_view(api.platform, actor(api, "alice"), api.assignment_id)
    assert not view.closed and view.can_submit
    assert view.closes_at == view.assignment.due_at + timedelta(days=2, minutes=10)  # type: ignore[operator]
    assignments.update_assignment(
        api.platform,
        Actor.system(),
        api.assignment_id,
        due_at=utcnow() - timedelta(days=3),
    )
    view = coursework.assignment_view(api.platform, actor(api, "alice"), api.assignment_id)
    assert view.closed and not view.can_submit
    staff = coursework.assignment_view(api.platform, actor(api, "ta"), api.assignment_id)
    assert staff.can_submit  # staff may still try the assignment


def test_late_policy_and_statement_text() -> None:
    assert late_text(LatePolicy()) == "No late submissions."
    assert late_text(LatePolicy(grace_minutes=15, penalty_per_day=0.25, max_late_days=3)) == (
        "15 minutes of grace, then late submissions accepted for 3 days, "
        "each started day late costs 25% of the score."
    )
    html = statement_html("# Stats\n\n## Input\n\n<script>alert(1)</script>\n", "Stats")
    assert "<h1>" not in html and "Stats" not in html  # the repeated title is dropped
    assert "<h3>Input</h3>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
