"""Concurrent writes of the same thing are never refused (issue 13, item 3).

Content-addressed rows (blobs) and get-or-create rows (enrollments, repository links,
single sign-on accounts) are written with the database's own upsert, so two
transactions that write the same key at the same moment both succeed; creating a
named thing twice at once (a user, a course) gives one success and one 409, never a
500 with a duplicate key; two uploads of a new version get two numbers.
On both databases: PostgreSQL is where the race showed (duplicate key on
``blobs_pkey``); SQLite serialises writers and must keep working.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import func, select

from api_helpers import EXAMPLES, Api, package_bytes, seeded_api
from assay.errors import ConflictError
from assay.services import Actor
from assay.services.catalog import assignments, courses
from assay.services.identity import accounts, oidc
from assay.services.intake import repos
from assay.storage.models import (
    AssignmentVersion,
    Blob,
    Enrollment,
    GradingRun,
    Job,
    RepoLink,
    Role,
    Submission,
    User,
)
from platform_helpers import DATABASE_KINDS

SOLUTION = (EXAMPLES / "python-io" / "solution" / "stats.py").read_bytes()
STUDENTS = 12
EACH = 10
COUNT = 8  # writers of one row at once
T = TypeVar("T")


@pytest.fixture(params=DATABASE_KINDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    # Every submission request of the burst is taken in at once (the intake gate would
    # otherwise let only 4 race), and no rate limit gets in the way.
    with seeded_api(
        request.param,
        tmp_path,
        submit_concurrency=STUDENTS * EACH,
        rate_limit_per_minute=10_000,
        submit_rate_limit_per_minute=10_000,
    ) as seeded:
        yield seeded


def at_once(count: int, action: Callable[[int], T]) -> list[T]:
    """``action(0..count-1)`` in ``count`` threads released together."""
    barrier = threading.Barrier(count)

    def run(number: int) -> T:
        barrier.wait(timeout=30)
        return action(number)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_identical_uploads_at_once_are_all_stored_and_queued(api: Api) -> None:
    system = Actor.system()
    tokens: list[str] = []
    for number in range(STUDENTS):
        user = accounts.create_user(api.platform, system, f"twin{number}", None)
        courses.enroll(api.platform, system, api.course_id, f"twin{number}", Role.STUDENT)
        tokens.append(accounts.create_token_for(api.platform, system, user.id, "t").token)
    path = f"{api.url}/api/v1/assignments/{api.assignment_id}/submissions"
    clients = [
        httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) for token in tokens
    ]
    try:

        def post(number: int) -> httpx.Response:
            client = clients[number % STUDENTS]
            return client.post(path, files=[("files", ("stats.py", SOLUTION))])

        responses = at_once(STUDENTS * EACH, post)
    finally:
        for client in clients:
            client.close()
    refused = [(r.status_code, r.text[:200]) for r in responses if r.status_code != 201]
    assert not refused, f"{len(refused)} of {len(responses)} refused: {refused[:3]}"
    ids = {r.json()["id"] for r in responses}
    runs = {r.json()["run_id"] for r in responses}
    assert len(ids) == len(runs) == STUDENTS * EACH
    with api.platform.db.reading() as session:
        stored = session.scalar(select(func.count(Submission.id)).where(Submission.id.in_(ids)))
        blobs = set(session.scalars(select(Submission.files_sha256).where(Submission.id.in_(ids))))
        blob_rows = session.scalar(select(func.count(Blob.sha256)).where(Blob.sha256.in_(blobs)))
        run_rows = session.scalar(select(func.count(GradingRun.id)).where(GradingRun.id.in_(runs)))
        jobs = session.scalar(select(func.count(Job.id)).where(Job.target_id.in_(runs)))
    assert stored == STUDENTS * EACH
    assert len(blobs) == 1 and blob_rows == 1  # the same bytes, stored once
    assert run_rows == jobs == STUDENTS * EACH  # each one queued (a later one may cancel it)


def test_same_enrollment_at_once(api: Api) -> None:
    platform, system = api.platform, Actor.system()
    carol = accounts.create_user(platform, system, "carol", None).id

    def enroll(number: int) -> str:
        role = Role.TA if number % 2 else Role.STUDENT
        return courses.enroll(platform, system, api.course_id, "carol", role).username

    assert at_once(COUNT, enroll) == ["carol"] * COUNT
    with platform.db.reading() as session:
        rows = session.scalars(
            select(Enrollment.role).where(
                Enrollment.user_id == carol, Enrollment.course_id == api.course_id
            )
        ).all()
    assert len(rows) == 1 and rows[0] in {Role.TA, Role.STUDENT}


def test_same_repository_link_at_once(api: Api) -> None:
    platform, system = api.platform, Actor.system()

    def link(number: int) -> str:
        url = f"https://git.example.edu/alice/stats-{number}.git"
        return repos.link_repo(
            platform, system, api.assignment_id, username="alice", remote_url=url
        ).remote_url

    urls = at_once(COUNT, link)
    with platform.db.reading() as session:
        rows = session.scalars(
            select(RepoLink.remote_url).where(
                RepoLink.assignment_id == api.assignment_id,
                RepoLink.user_id == api.user_ids["alice"],
            )
        ).all()
    assert len(rows) == 1 and rows[0] in urls


def test_same_first_single_sign_on_at_once(api: Api) -> None:
    claims = {"sub": "idp|dana", "preferred_username": "dana", "email": "dana@example.edu"}
    user_ids = at_once(COUNT, lambda _n: oidc._user_for(api.platform, claims, "test"))
    with api.platform.db.reading() as session:
        dana = session.scalars(select(User.id).where(User.oidc_subject == "idp|dana")).all()
    assert len(dana) == 1 and set(user_ids) == {dana[0]}


def _create(api: Api, what: str) -> Callable[[], object]:
    platform, system = api.platform, Actor.system()
    if what == "user":
        return lambda: accounts.create_user(platform, system, "erin", "a long password")
    if what == "course":
        return lambda: courses.create_course(platform, system, "cs202", "Data")
    package = package_bytes()
    return lambda: assignments.create_assignment(
        platform, system, api.course_id, package, slug="twice"
    )


@pytest.mark.parametrize("what", ["user", "course", "assignment"])
def test_same_name_at_once_gives_one_success_and_conflicts(api: Api, what: str) -> None:
    create = _create(api, what)

    def outcome(_number: int) -> str:
        try:
            create()
        except ConflictError:
            return "conflict"
        return "created"

    assert sorted(at_once(COUNT, outcome)) == ["conflict"] * (COUNT - 1) + ["created"]


def test_new_versions_at_once_get_distinct_numbers(api: Api) -> None:
    platform, system = api.platform, Actor.system()
    package = package_bytes()
    count = COUNT
    numbers = at_once(
        count,
        lambda _n: (
            assignments.upload_version(
                platform, system, api.assignment_id, package, "p.tar.gz"
            ).version
        ),
    )
    assert sorted(n or 0 for n in numbers) == list(range(2, 2 + count))
    with platform.db.reading() as session:
        stored = session.scalars(
            select(AssignmentVersion.number).where(
                AssignmentVersion.assignment_id == api.assignment_id
            )
        ).all()
    assert sorted(stored) == list(range(1, 2 + count))
