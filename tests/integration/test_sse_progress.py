"""Progress events: numbering under concurrent writers and who may read them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.errors import NotFoundError
from assay.services import Actor, Platform
from assay.services.catalog import assignments, courses
from assay.services.catalog.packages import pack_directory
from assay.services.identity import accounts
from assay.services.intake import progress, submissions
from assay.storage.models import Role
from platform_helpers import DATABASE_KINDS, database_url, open_platform, settings_for

EXAMPLE = Path(__file__).parents[2] / "examples" / "assignments" / "python-io"
ADMIN = Actor.system("test-admin")


@pytest.fixture(params=DATABASE_KINDS)
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    with database_url(request.param, tmp_path) as url:
        opened = open_platform(settings_for(url, tmp_path / "state"))
        try:
            yield opened
        finally:
            opened.close()


def _student(platform: Platform, name: str, course_id: int, role: Role = Role.STUDENT) -> Actor:
    user = accounts.create_user(platform, ADMIN, name, "password-12345")
    courses.enroll(platform, ADMIN, course_id, name, role)
    return Actor(user.id, name)


def _submitted_run(platform: Platform) -> tuple[int, Actor, Actor, Actor]:
    """A queued run of a student's submission: (run id, owner, other student, TA)."""
    course = courses.create_course(platform, ADMIN, "c1", "Course")
    assignment = assignments.create_assignment(
        platform, ADMIN, course.id, pack_directory(EXAMPLE), publish=True
    )
    owner = _student(platform, "owner", course.id)
    other = _student(platform, "other", course.id)
    ta = _student(platform, "ta", course.id, Role.TA)
    files = submissions.files_from_mapping({"stats.py": "print(1)\n"})
    out = submissions.submit(platform, owner, assignment.id, files)
    return out.run_id, owner, other, ta


def test_concurrent_writers_get_distinct_consecutive_seqs(platform: Platform) -> None:
    run_id, owner, _other, _ta = _submitted_run(platform)
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        try:
            for step in range(10):
                with platform.db.session() as session:
                    progress.record_event(session, run_id, "testing", f"w{index}", step, 10)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    events = progress.list_events(platform, owner, run_id)
    assert [e.seq for e in events] == list(range(41))
    assert events[0].stage == "queued"
    assert sorted(e.detail for e in events[1:]) == sorted(
        f"w{i}" for i in range(4) for _ in range(10)
    )


def test_events_after_and_access(platform: Platform) -> None:
    run_id, owner, other, ta = _submitted_run(platform)
    with platform.db.session() as session:
        progress.record_event(session, run_id, "started", "worker w1")
        progress.record_event(session, run_id, "testing", "t1", 1, 2)
    assert [e.stage for e in progress.list_events(platform, owner, run_id, after_seq=0)] == [
        "started",
        "testing",
    ]
    last = progress.list_events(platform, ta, run_id, after_seq=1)
    assert [(e.seq, e.current, e.total) for e in last] == [(2, 1, 2)]
    with pytest.raises(NotFoundError):
        progress.list_events(platform, other, run_id)
    with pytest.raises(NotFoundError):
        progress.list_events(platform, owner, run_id + 1000)
    state = progress.run_progress(platform, owner, run_id)
    assert (state.last_seq, state.stage, state.finished) == (2, "testing", False)
    with platform.db.session() as session:
        progress.record_event(session, run_id, "done", "10/10")
    assert progress.run_progress(platform, owner, run_id).finished
