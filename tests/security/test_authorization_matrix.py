"""Every route of the app against every role, as the matrix in ``authz_matrix`` says.

The routes come from the app's own route table, so a route added without a row in
the matrix fails here (``test_a_route_without_a_row_fails``). Each request is real
HTTP against the real app (uvicorn on a loopback port), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import update
from starlette.routing import Mount

from api_helpers import EXAMPLES, Api, add_member, seeded_api
from assay.services import Actor
from assay.services.catalog import courses
from assay.services.catalog.packages import pack_directory
from assay.services.execution import core, judge0
from assay.services.identity import accounts
from assay.services.intake import repos, submissions
from assay.storage.models import GradingRun, Role, RunStatus
from assay.web.app import create_app
from platform_helpers import DATABASE_KINDS, database_url, open_platform, settings_for
from security.authz_matrix import MATRIX, ROLES, Row

REDIRECTS = frozenset({301, 302, 303, 307, 308})
SYSTEM = Actor.system("matrix")
USERS = {  # role -> user (api_helpers.seed, and the other course's instructor added here)
    "admin": "admin",
    "ins": "teacher",
    "ta": "ta",
    "stu": "alice",
    "ost": "outsider",
    "ofs": "otherteacher",
}
DEFAULT_IDS = {
    name: name for name in ("course_id", "assignment_id", "submission_id", "run_id", "language_id")
} | {"token_id": "fresh_token_id", "link_id": "fresh_link_id", "user_id": "fresh_member_id"}


@dataclass
class World:
    """The course under test and the objects the matrix's paths point at."""

    api: Api
    tmp_path: Path
    course_code: str = "cs101"
    submission_id: int = 0
    run_id: int = 0
    execute_token: str = ""
    judge0_token: str = ""
    language_id: int = 71
    starter_file: str = "stats.py"
    static_file: str = "js/live.js"
    counter: Iterator[int] = field(default_factory=itertools.count)
    clients: dict[str, httpx.Client] = field(default_factory=dict)
    sessions: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def course_id(self) -> int:
        return self.api.course_id

    @property
    def assignment_id(self) -> int:
        return self.api.assignment_id

    def actor(self, name: str) -> Actor:
        return Actor(self.api.user_ids[name], name, is_admin=name == "admin")

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def fresh_token_id(self) -> int:
        """One of alice's tokens, made for one request that revokes it."""
        return accounts.create_token(self.api.platform, self.actor("alice"), "spare").id

    def fresh_username(self) -> str:
        """A user in no course, for one request that enrolls them."""
        name = self.fresh("user")
        accounts.create_user(self.api.platform, SYSTEM, name, None)
        return name

    def finish_runs(self) -> None:
        """Alice's submission graded (a student may re-queue only a finished run)."""
        with self.api.platform.db.session() as session:
            session.execute(
                update(GradingRun)
                .where(GradingRun.submission_id == self.submission_id)
                .values(status=RunStatus.GRADED)
            )

    def fresh_member_id(self) -> int:
        """A student of the course, enrolled for one request that removes them."""
        name = self.fresh("member")
        user = accounts.create_user(self.api.platform, SYSTEM, name, None)
        courses.enroll(self.api.platform, SYSTEM, self.course_id, name, Role.STUDENT)
        return user.id

    def fresh_link_id(self) -> int:
        """Alice's repository link, made again for one request that removes it."""
        return repos.link_repo(
            self.api.platform,
            SYSTEM,
            self.assignment_id,
            username="alice",
            remote_url="file:///nonexistent/assay.git",
            repo_full_name="o/r",
        ).id

    def package(self) -> bytes:
        """python-io under a new name (a new assignment each time it is uploaded)."""
        name = self.fresh("matrix-")
        copy = self.tmp_path / name
        shutil.copytree(EXAMPLES / "python-io", copy)
        toml = copy / "assignment.toml"
        toml.write_text(toml.read_text().replace('name = "python-io"', f'name = "{name}"'))
        return pack_directory(copy)

    def path_value(self, row: Row, name: str) -> str:
        attribute = row.ids.get(name, DEFAULT_IDS.get(name, name))
        value = getattr(self, attribute)
        return str(value() if callable(value) else value)


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp_path = tmp_path_factory.mktemp("matrix")
    settings = {
        "rate_limit_per_minute": 100_000,
        "submit_rate_limit_per_minute": 100_000,
        "github_webhook_secret": "matrix-secret",  # on: the signature alone decides
        # no such backend: the reference checks the staff pages start end at once
        # (they would grade python-io in the background for each upload)
        "grading_backend": "none",
    }
    with seeded_api(request.param, tmp_path, **settings) as api:
        add_member(api, "otherteacher", api.other_course_id, Role.INSTRUCTOR)
        made = World(api, tmp_path)
        alice = made.actor("alice")
        files = submissions.files_from_mapping({"stats.py": "print(1)\n"})
        submitted = submissions.submit(api.platform, alice, api.assignment_id, files)
        made.submission_id, made.run_id = submitted.id, submitted.run_id
        with api.platform.db.session() as session:
            request = {"code": "int one(void) { return 1; }", "tests": "assert(one() == 1)"}
            made.execute_token = core.create_execution(
                session, api.platform, alice, core.Api.PICOBYTES, request
            ).token
        body = {"source_code": "print(1)", "language_id": 71}
        created = judge0.create_submission(api.platform, alice, body, encoded=False, wait=False)
        made.judge0_token = created["token"]
        yield made
        for http in made.clients.values():
            http.close()


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route in the app's route table (HEAD left out).

    ``app.routes`` holds the included routers as such; ``iter_route_contexts`` walks
    into them, as FastAPI's own OpenAPI generation does. A mount is one row.
    """
    found = []
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            found.append(("GET", f"{route.path}/{{path}}"))
            continue
        found += [(method, route.path or "") for method in sorted(route.methods or ())]
    return [(method, path) for method, path in found if method != "HEAD"]


def credentials(world: World, role: str, row: Row) -> dict[str, str]:
    """Headers that authenticate ``role``: a bearer token, or (pages) a login session."""
    if role == "anon":
        return {}
    name = USERS[role]
    if not row.web:
        return {"Authorization": f"Bearer {world.api.tokens[name]}"}
    if row.ends_session or role not in world.sessions:
        login = accounts.login_user(world.api.platform, world.api.user_ids[name])
        cookie = {"Cookie": f"assay_session={login.session_id}", "X-CSRF-Token": login.csrf_token}
        if row.ends_session:
            return cookie
        world.sessions[role] = cookie
    return dict(world.sessions[role])


def client(world: World, role: str) -> httpx.Client:
    """The role's connection (kept alive between its requests; it keeps no cookies)."""
    if role not in world.clients:
        world.clients[role] = httpx.Client(base_url=world.api.url, timeout=60)
    return world.clients[role]


def resolve(world: World, value: Any) -> Any:
    return value(world) if callable(value) else value


def send(world: World, row: Row, role: str) -> httpx.Response:
    path = row.path
    for name in [part.split("}")[0] for part in path.split("{")[1:]]:
        path = path.replace(f"{{{name}}}", world.path_value(row, name.split(":")[0]))
    headers = credentials(world, role, row)
    if row.prepare is not None:
        row.prepare(world)
    request: dict[str, Any] = {
        "params": resolve(world, row.params),
        "json": resolve(world, row.json),
        "data": resolve(world, row.data),
        "files": resolve(world, row.files),
    }
    http = client(world, role)
    http.cookies.clear()  # only what credentials() sends: no cookie a login answer set
    if row.stream:
        headers["Accept"] = "text/event-stream"
        with http.stream(row.method, path, headers=headers) as response:
            if response.status_code != 200:
                response.read()
            return response
    return http.request(row.method, path, headers=headers, **request)


def outcome(world: World, row: Row, response: httpx.Response) -> str:
    status = response.status_code
    if status in REDIRECTS:
        return "log" if urlsplit(response.headers["location"]).path == "/login" else "ok"
    if 200 <= status < 300:
        if row.sees is not None and not row.stream and not row.sees(world, response):
            return "hid"
        return "ok"
    return str(status)


def coverage_problems(routes: list[tuple[str, str]]) -> list[str]:
    """Routes without a row, and rows without a route."""
    problems = [
        f"route {method} {path} has no row in the authorization matrix"
        for method, path in routes
        if (method, path) not in MATRIX
    ]
    return problems + [
        f"the matrix row {method} {path} matches no route of the app"
        for method, path in MATRIX
        if (method, path) not in routes
    ]


def test_every_route_answers_every_role_as_the_matrix_says(world: World) -> None:
    routes = app_routes(create_app(world.api.platform))  # the factory of the served app
    problems = coverage_problems(routes)
    for method, path in routes:
        row = MATRIX.get((method, path))
        if row is None:
            continue
        for role in ROLES:
            response = send(world, row, role)
            got = outcome(world, row, response)
            if got != row.expect[role]:
                shown = response.text[:160].replace("\n", " ") if not row.stream else ""
                problems.append(
                    f"{method} {path} as {role}: expected {row.expect[role]}, got {got} "
                    f"({response.status_code} {shown})"
                )
    assert not problems, "\n".join(problems)


def test_a_route_without_a_row_fails(tmp_path: Path) -> None:
    with database_url("sqlite", tmp_path) as url:
        platform = open_platform(settings_for(url, tmp_path / "state"))
        try:
            app = create_app(platform)
        finally:
            platform.close()
    assert coverage_problems(app_routes(app)) == []
    app.add_api_route("/api/v1/new-thing", lambda: {}, methods=["POST"])
    assert coverage_problems(app_routes(app)) == [
        "route POST /api/v1/new-thing has no row in the authorization matrix"
    ]
