"""Malformed input the schema-driven fuzzing does not generate: each is a 4xx, never a 500.

Lone surrogate escapes in JSON strings (valid JSON, not valid Unicode), NaN (which
Python's JSON reader accepts), a date whose UTC time is out of range, and a NUL in
Judge0's argument strings (accepted, it failed in the worker as our error). Found
by hand beside tests/integration/test_schemathesis.py; on both databases.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from api_helpers import Api, package_bytes, seeded_api
from assay.services import Actor
from assay.services.catalog import assignments
from assay.services.identity import accounts
from platform_helpers import DATABASE_KINDS

JSON = {"Content-Type": "application/json"}
SURROGATE = rb'"\ud800"'  # a lone surrogate escape: valid JSON, no valid Unicode


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with seeded_api(request.param, tmp_path_factory.mktemp(f"malformed-{request.param}")) as seeded:
        yield seeded


def post_raw(client: httpx.Client, path: str, body: bytes, method: str = "POST") -> httpx.Response:
    return client.request(method, path, content=body, headers=JSON)


def test_lone_surrogates_in_json_strings_are_422(api: Api) -> None:
    with api.client("admin") as admin, api.client("teacher") as teacher:
        answers = [
            post_raw(admin, "/admin/courses", b'{"code": ' + SURROGATE + b', "name": "n"}'),
            post_raw(admin, "/auth/tokens", b'{"name": ' + SURROGATE + b"}"),
            post_raw(
                teacher,
                f"/admin/assignments/{api.assignment_id}",
                b'{"title": ' + SURROGATE + b"}",
                method="PATCH",
            ),
            post_raw(teacher, "/execute", b'{"code": ' + SURROGATE + b"}"),
            post_raw(
                teacher,
                f"/assignments/{api.assignment_id}/submissions",
                b'{"files": {"a.py": ' + SURROGATE + b"}}",
            ),
        ]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["type"] in {"string_unicode", "json_invalid"}


def test_invalid_utf8_in_a_json_body_is_4xx(api: Api) -> None:
    with api.client("teacher") as teacher:
        patch = post_raw(
            teacher, f"/admin/assignments/{api.assignment_id}", b'{"title": "\xff"}', "PATCH"
        )
        execute = post_raw(teacher, "/execute", b'{"code": "\xff"}')
    assert patch.status_code in {400, 422}, patch.text
    assert execute.status_code in {400, 422}, execute.text


def test_judge0_refuses_what_it_could_not_run(api: Api) -> None:
    headers = {**JSON, "X-Auth-Token": api.tokens["alice"]}
    with httpx.Client(base_url=api.url + "/judge0", headers=headers, timeout=30) as judge0:
        surrogate = judge0.post(
            "/submissions", content=b'{"source_code": ' + SURROGATE + b', "language_id": 71}'
        )
        assert surrogate.status_code == 422, surrogate.text
        assert surrogate.json() == {"source_code": ["is not valid Unicode text"]}
        nan = judge0.post(
            "/submissions",
            content=b'{"source_code": "print(1)", "language_id": 71, "cpu_time_limit": NaN}',
        )
        assert nan.status_code == 422, nan.text
        assert nan.json() == {"cpu_time_limit": ["must be a number"]}
        for field, language in (("command_line_arguments", 71), ("compiler_options", 50)):
            body = {"source_code": "x", "language_id": language, field: "-a\u0000b"}
            nul = judge0.post("/submissions", json=body)
            assert nul.status_code == 422, nul.text
            assert nul.json() == {field: ["must be text without control characters"]}


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_date_out_of_range_in_utc_is_400(api: Api, moment: str) -> None:
    with api.client("teacher") as teacher:
        answer = teacher.patch(f"/admin/assignments/{api.assignment_id}", json={"due_at": moment})
        assert answer.status_code == 400, answer.text
        assert "out of range" in answer.json()["detail"]
        fine = teacher.patch(
            f"/admin/assignments/{api.assignment_id}", json={"due_at": "9999-12-31T23:59:59Z"}
        )
        assert fine.status_code == 200, fine.text
        assert fine.json()["due_at"] == "9999-12-31T23:59:59Z"
        cleared = teacher.patch(f"/admin/assignments/{api.assignment_id}", json={"clear_due": True})
        assert cleared.status_code == 200 and cleared.json()["due_at"] is None


@pytest.mark.parametrize("slug", ["a\u0000b", "tab\there", "new\n", "a/b", "x" * 65])
def test_a_slug_outside_its_pattern_is_400(api: Api, slug: str) -> None:
    with api.client("teacher") as teacher:
        answer = teacher.post(
            f"/admin/courses/{api.course_id}/assignments",
            data={"slug": slug},
            files={"package": ("python-io.tar.gz", package_bytes())},
        )
    assert answer.status_code in {400, 422}, answer.text
    if answer.status_code == 400:  # 422: the form's own length limit
        assert "a slug is 1-64 letters" in answer.json()["detail"]


def test_a_name_with_a_trailing_newline_is_refused(api: Api) -> None:
    # the patterns ended in $, which also matches before a final newline
    with api.client("admin") as admin:
        user = admin.post("/admin/users", json={"username": "mallory\n", "password": "x" * 12})
        course = admin.post("/admin/courses", json={"code": "cs102\n", "name": "n"})
    assert user.status_code in (400, 422), user.text
    assert course.status_code in (400, 422), course.text


BAD_IDS = ["abc", "0", "-1", "1.5", "1e3", "%20", str(2**31), str(2**64)]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_the_versions_of_a_malformed_assignment_id_are_422(api: Api, bad: str) -> None:
    with api.client("teacher") as teacher:
        answer = teacher.get(f"/admin/assignments/{bad}/versions")
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["path", "assignment_id"]


def test_the_versions_of_an_unknown_or_foreign_assignment_are_not_shown(api: Api) -> None:
    system = Actor.system()
    foreign = assignments.create_assignment(
        api.platform, system, api.other_course_id, package_bytes(), "python-io.tar.gz"
    )
    with api.client("teacher") as teacher, api.client("admin") as admin:
        unknown = teacher.get(f"/admin/assignments/{2**31 - 1}/versions")
        other = teacher.get(f"/admin/assignments/{foreign.id}/versions")
        own = teacher.get(f"/admin/assignments/{api.assignment_id}/versions")
        site = admin.get(f"/admin/assignments/{foreign.id}/versions")
    assert unknown.status_code == 404, unknown.text
    assert set(unknown.json()) == {"error", "detail"}  # the usual error shape
    assert other.status_code in (403, 404), other.text
    assert set(other.json()) == {"error", "detail"}
    assert own.status_code == 200 and own.json()[0]["current"] is True, own.text
    assert site.status_code == 200 and [v["number"] for v in site.json()] == [1], site.text


@pytest.mark.parametrize("bad", ["abc", "0", "-1", str(2**31), str(2**64), str(2**31 - 1)])
def test_the_staff_pages_issue_17_changed_refuse_a_bad_assignment_id(api: Api, bad: str) -> None:
    """The check and upload pages (they now say where the check runs): 4xx, not 500
    (SQLite overflowed on an id beyond 64 bits: the staff pages' ids are bounded now)."""
    login = accounts.login_user(api.platform, api.user_ids["teacher"])
    headers = {"Cookie": f"assay_session={login.session_id}", "X-CSRF-Token": login.csrf_token}
    with httpx.Client(base_url=api.url, headers=headers, timeout=30) as pages:
        check = pages.post(f"/staff/assignments/{bad}/check")
        upload = pages.post(
            f"/staff/assignments/{bad}/versions",
            files={"package": ("p.tar.gz", package_bytes())},
        )
    assert check.status_code in (404, 422), check.text
    assert upload.status_code in (404, 422), upload.text
