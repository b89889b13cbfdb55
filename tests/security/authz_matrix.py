"""The authorization matrix: every route of the app and what each role gets from it.

``test_authorization_matrix.py`` walks the app's route table and sends each route's
request, as each role, over real HTTP; a route with no row here fails that test, and
so does a row whose route is gone. Paths are filled with objects of the course under
test, ``cs101``: its assignment, a submission of its student alice (and that
submission's run), alice's execution tokens, a token, link or member made for the
request that deletes it (``ids`` names them where the parameter's name does not).

The columns, one per role:

    admin  the site administrator (a member of no course)
    ins    the instructor of cs101          ta   a TA of cs101
    stu    alice, a student of cs101        ost  a student of another course only
    ofs    the instructor of another course only
    anon   no credentials

API routes authenticate with a bearer token, pages (``web``) with a session cookie and
its CSRF token. Outcomes:

    ok    2xx, or a redirect elsewhere than the login page
    hid   2xx, but without what the row looks for (``sees``: the course, alice's
          submission): a list of the caller's own things
    log   a redirect to the login page
    401 403 404  that status; 400 only where a comment says the body is refused on
          purpose after authorization
"""

# ruff: noqa: E501 - one row per route on one line keeps the table readable

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from api_helpers import PASSWORD

ROLES = ("admin", "ins", "ta", "stu", "ost", "ofs", "anon")
API = "/api/v1"


class Fixtures(Protocol):
    """What a row's request may use (``test_authorization_matrix.World``)."""

    course_code: str
    assignment_id: int
    submission_id: int
    judge0_token: str

    def fresh(self, prefix: str) -> str: ...
    def fresh_username(self) -> str: ...
    def package(self) -> bytes: ...
    def finish_runs(self) -> None: ...


Value = Any | Callable[[Fixtures], Any]


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # as in the route table
    expect: dict[str, str]  # role -> outcome
    web: bool = False  # a page: session cookie, CSRF token
    ids: dict[str, str] = field(default_factory=dict)  # path parameter -> World attribute
    params: Value = None
    json: Value = None
    data: Value = None
    files: Value = None
    stream: bool = False  # an SSE stream: the status is read, then the stream closed
    sees: Callable[[Fixtures, httpx.Response], bool] | None = None
    prepare: Callable[[Fixtures], None] | None = None  # before each request
    ends_session: bool = False  # a page that logs out: each request gets a new session

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path


def _row(prefix: str, expect: str, route: str, *, web: bool = False, **request: Any) -> Row:
    outcomes = expect.split()
    assert len(outcomes) == len(ROLES), (route, expect)
    method, _, path = route.partition(" ")
    return Row(method, prefix + path, dict(zip(ROLES, outcomes, strict=True)), web, **request)


def api(expect: str, route: str, **request: Any) -> Row:
    """A route of the JSON API, under /api/v1."""
    return _row(API, expect, route, **request)


def raw(expect: str, route: str, **request: Any) -> Row:
    """A route at the root that is not a page (Judge0, operations, API docs, static)."""
    return _row("", expect, route, **request)


def web(expect: str, route: str, **request: Any) -> Row:
    """A page of the UI (session cookie; POSTs carry the session's CSRF token)."""
    return _row("", expect, route, web=True, **request)


def shows_course(fx: Fixtures, response: httpx.Response) -> bool:
    return fx.course_code in response.text


def shows_submission(fx: Fixtures, response: httpx.Response) -> bool:
    return f'"id":{fx.submission_id},' in response.text


def shows_judge0(fx: Fixtures, response: httpx.Response) -> bool:
    return response.json()["submissions"] != [None]


def package_file(fx: Fixtures) -> dict[str, tuple[str, bytes]]:
    return {"package": ("package.tar.gz", fx.package())}


FILES = {"files": {"stats.py": "print(1)\n"}}
LOGIN = {"username": "alice", "password": PASSWORD}
REPO = {"username": "alice", "remote_url": "file:///nonexistent/assay.git", "repo_full_name": "o/r"}
# POST /execute with a valid request waits for a worker (there is none here): these
# tests are refused (400) once the caller is authorized, which is all this row checks
BAD_EXECUTE = {"code": "int one(void) { return 1; }", "tests": ["assert(one() == 1)\nx"]}
JUDGE0 = {"source_code": "print(1)", "language_id": 71}

# fmt: off
ROWS = [
    #    admin ins ta  stu ost ofs anon
    api("ok  ok  ok  ok  ok  ok  ok ", "POST /auth/login", json=LOGIN),
    api("ok  ok  ok  ok  ok  ok  ok ", "POST /auth/logout"),  # bearer: no session to end
    api("ok  ok  ok  ok  ok  ok  401", "GET /auth/me"),
    api("ok  ok  ok  ok  ok  ok  401", "POST /auth/tokens", json={"name": "matrix"}),
    api("ok  ok  ok  ok  ok  ok  401", "GET /auth/tokens"),
    api("ok  404 404 ok  404 404 401", "DELETE /auth/tokens/{token_id}"),  # alice's
    api("404 404 404 404 404 404 404", "GET /auth/oidc/login"),  # single sign-on is off
    api("404 404 404 404 404 404 404", "GET /auth/oidc/callback"),
    api("ok  ok  ok  ok  hid hid 401", "GET /courses", sees=shows_course),
    api("ok  ok  ok  ok  404 404 401", "GET /courses/{course_id}"),
    api("ok  ok  ok  ok  404 404 401", "GET /courses/{course_id}/members"),
    api("ok  ok  ok  ok  404 404 401", "GET /courses/{course_id}/assignments"),
    api("ok  ok  ok  ok  404 404 401", "GET /assignments/{assignment_id}"),
    api("ok  ok  ok  ok  404 404 401", "POST /assignments/{assignment_id}/submissions", json=FILES),
    api("ok  ok  ok  ok  404 404 401", "GET /assignments/{assignment_id}/submissions"),
    api("ok  ok  ok  ok  404 404 401", "GET /assignments/{assignment_id}/best"),
    api("hid hid hid ok  hid hid 401", "GET /submissions", sees=shows_submission),
    api("ok  ok  ok  ok  404 404 401", "GET /submissions/{submission_id}"),
    api("ok  ok  ok  ok  404 404 401", "GET /submissions/{submission_id}/report"),
    api("ok  ok  ok  ok  404 404 401", "GET /runs/{run_id}/events", stream=True),
    api("ok  ok  ok  ok  404 404 401", "GET /submissions/{submission_id}/events", stream=True),
    api("401 401 401 401 401 401 401", "POST /webhooks/github", json={}),  # HMAC signature only: none here
    api("ok  ok  ok  403 403 404 401", "GET /admin/assignments/{assignment_id}/repos"),
    api("ok  ok  ok  403 403 404 401", "POST /admin/assignments/{assignment_id}/repos", json=REPO),
    api("ok  ok  ok  403 403 404 401", "DELETE /admin/assignments/{assignment_id}/repos/{link_id}"),
    api("ok  ok  ok  403 403 404 401", "POST /admin/assignments/{assignment_id}/repos/find-missing"),
    api("400 400 400 400 400 400 401", "POST /execute", json=BAD_EXECUTE),
    api("ok  404 404 ok  404 404 401", "GET /execute/{token}", ids={"token": "execute_token"}),
    api("ok  403 403 403 403 403 401", "POST /admin/users", json=lambda fx: {"username": fx.fresh("u")}),
    api("ok  403 403 403 403 403 401", "GET /admin/users"),
    api("ok  403 403 403 403 403 401", "GET /admin/audit"),
    api("ok  403 403 403 403 403 401", "POST /admin/courses", json=lambda fx: {"code": fx.fresh("c"), "name": "x"}),
    api("ok  ok  ok  403 403 404 401", "GET /admin/courses/{course_id}/roster"),
    api("ok  ok  403 403 403 404 401", "POST /admin/courses/{course_id}/roster", json=lambda fx: {"username": fx.fresh_username()}),
    api("ok  ok  403 403 403 404 401", "DELETE /admin/courses/{course_id}/roster/{user_id}"),
    api("ok  ok  ok  403 403 404 401", "POST /admin/courses/{course_id}/assignments", files=package_file),
    # force: this server has no sandbox, so the version's reference check cannot run (409 without it)
    api("ok  ok  ok  403 403 404 401", "POST /admin/assignments/{assignment_id}/versions", files=package_file, data={"force": "true"}),
    api("ok  ok  ok  403 403 404 401", "GET /admin/assignments/{assignment_id}/versions"),
    api("ok  ok  ok  403 403 404 401", "PATCH /admin/assignments/{assignment_id}", json={"published": True}),
    api("ok  ok  ok  403 403 404 401", "GET /admin/submissions", params=lambda fx: {"assignment_id": fx.assignment_id}),
    api("ok  ok  ok  403 403 404 401", "POST /admin/submissions/{submission_id}/regrade"),
    api("ok  ok  ok  403 403 404 401", "POST /admin/assignments/{assignment_id}/regrade"),
    api("ok  ok  ok  403 403 404 401", "GET /admin/assignments/{assignment_id}/results"),
    api("ok  ok  ok  403 403 404 401", "GET /admin/assignments/{assignment_id}/grades.csv"),
    api("ok  ok  ok  403 403 404 401", "GET /admin/assignments/{assignment_id}/grades.json"),
    api("ok  ok  ok  403 403 404 401", "GET /admin/assignments/{assignment_id}/analytics"),
    # the Judge0-compatible API
    raw("ok  ok  ok  ok  ok  ok  401", "POST /judge0/submissions", json=JUDGE0),
    raw("ok  ok  ok  ok  ok  ok  401", "POST /judge0/submissions/batch", json={"submissions": [JUDGE0]}),
    raw("ok  hid hid ok  hid hid 401", "GET /judge0/submissions/batch", params=lambda fx: {"tokens": fx.judge0_token}, sees=shows_judge0),
    raw("ok  404 404 ok  404 404 401", "GET /judge0/submissions/{token}", ids={"token": "judge0_token"}),
    raw("ok  ok  ok  ok  ok  ok  401", "GET /judge0/languages"),
    raw("ok  ok  ok  ok  ok  ok  401", "GET /judge0/languages/all"),
    raw("ok  ok  ok  ok  ok  ok  401", "GET /judge0/languages/{language_id}"),
    raw("ok  ok  ok  ok  ok  ok  401", "GET /judge0/statuses"),
    raw("ok  ok  ok  ok  ok  ok  ok ", "GET /judge0/about"),
    raw("ok  ok  ok  ok  ok  ok  401", "GET /judge0/config_info"),
    # operations, API docs, static files: public
    raw("ok  ok  ok  ok  ok  ok  ok ", "GET /healthz"),
    raw("ok  ok  ok  ok  ok  ok  ok ", "GET /readyz"),
    raw("ok  ok  ok  ok  ok  ok  ok ", "GET /metrics"),
    raw("ok  ok  ok  ok  ok  ok  ok ", "GET /api/v1/openapi.json"),
    raw("ok  ok  ok  ok  ok  ok  ok ", "GET /api/v1/docs"),
    raw("ok  ok  ok  ok  ok  ok  ok ", "GET /static/{path}", ids={"path": "static_file"}),  # a mount
    # pages
    web("ok  ok  ok  ok  ok  ok  log", "GET /"),
    web("ok  ok  ok  ok  ok  ok  ok ", "GET /login"),
    web("ok  ok  ok  ok  ok  ok  ok ", "POST /login", data=LOGIN),
    web("log log log log log log log", "POST /logout", ends_session=True),  # all end at the login page
    web("ok  ok  ok  ok  hid hid log", "GET /courses", sees=shows_course),
    web("ok  ok  ok  ok  404 404 log", "GET /courses/{course_id}"),
    web("ok  ok  ok  ok  404 404 log", "GET /assignments/{assignment_id}"),
    web("ok  ok  ok  ok  404 404 log", "GET /assignments/{assignment_id}/history"),
    web("ok  ok  ok  ok  404 404 log", "GET /assignments/{assignment_id}/starter.zip"),
    web("ok  ok  ok  ok  404 404 log", "GET /assignments/{assignment_id}/starter/{path:path}", ids={"path": "starter_file"}),
    web("ok  ok  ok  ok  404 404 log", "POST /assignments/{assignment_id}/upload", files={"files": ("stats.py", b"print(1)\n")}),
    web("ok  ok  ok  ok  404 404 log", "POST /assignments/{assignment_id}/editor", data={"path": "stats.py", "content": "print(1)\n"}),
    web("ok  ok  ok  ok  404 404 log", "GET /submissions/{submission_id}"),
    web("ok  ok  ok  ok  404 404 log", "GET /submissions/{submission_id}/results"),
    web("ok  ok  ok  ok  404 404 log", "POST /submissions/{submission_id}/regrade", prepare=lambda fx: fx.finish_runs()),  # a student re-queues a finished run only
    web("ok  ok  ok  hid hid hid log", "GET /staff", sees=shows_course),
    web("ok  ok  ok  403 404 404 log", "GET /staff/courses/{course_id}"),
    web("ok  ok  ok  403 404 404 log", "POST /staff/courses/{course_id}/assignments", files=package_file),
    web("ok  ok  ok  403 404 404 log", "GET /staff/assignments/{assignment_id}"),
    web("ok  ok  ok  403 404 404 log", "GET /staff/assignments/{assignment_id}/check"),
    web("ok  ok  ok  403 404 404 log", "POST /staff/assignments/{assignment_id}/check"),
    web("ok  ok  ok  403 404 404 log", "POST /staff/assignments/{assignment_id}/versions", files=package_file, data={"force": "yes"}),  # force: as the API row
    web("ok  ok  ok  403 404 404 log", "POST /staff/assignments/{assignment_id}/publish", data={"published": "true"}),
    web("ok  ok  ok  403 404 404 log", "POST /staff/assignments/{assignment_id}/settings", data={"title": "Exam statistics"}),
    web("ok  ok  ok  403 404 404 log", "GET /staff/assignments/{assignment_id}/results"),
    web("ok  ok  ok  403 404 404 log", "POST /staff/assignments/{assignment_id}/regrade"),
    web("ok  ok  ok  403 404 404 log", "POST /staff/submissions/{submission_id}/regrade"),
    web("ok  ok  ok  404 404 ok  log", "GET /staff/queue"),
    web("ok  ok  ok  403 404 404 log", "GET /staff/assignments/{assignment_id}/analytics"),
]
# fmt: on
MATRIX = {row.key: row for row in ROWS}
assert len(MATRIX) == len(ROWS), "a route has two rows"
