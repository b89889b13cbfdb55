"""Login CSRF: a page on another site cannot post the login form and so log the
victim's browser in (as the attacker, to collect what the victim then types).

The login form's POST must come from this site: ``Origin`` (browsers send it with
every POST), else ``Referer``; a request with neither is a script, not a browser,
and is let through. Checked over real HTTP (SQLite: the rule involves no database
feature)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from api_helpers import PASSWORD, Api, seeded_api
from assay.storage.models import LoginSession

PUBLIC_URL = "https://assay.example.edu"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with seeded_api("sqlite", tmp_path_factory.mktemp("login"), public_url=PUBLIC_URL) as seeded:
        yield seeded


def post_login(api: Api, headers: dict[str, str]) -> httpx.Response:
    form = {"username": "alice", "password": PASSWORD, "next": "/courses"}
    return httpx.post(f"{api.url}/login", data=form, headers=headers, follow_redirects=False)


def sessions(api: Api) -> int:
    with api.platform.db.session() as session:
        return session.scalar(select(func.count()).select_from(LoginSession)) or 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # an opaque origin: a sandboxed frame, a data: URL
        {"Origin": "http://127.0.0.1:1"},  # same host, another port: another origin
        {"Origin": "http://assay.example.edu"},  # the public host over plain http
        {"Referer": "https://evil.example/login-for-you.html"},
        {"Referer": "not a url"},
        {"Origin": "https://evil.example", "Referer": "{own}/login"},  # Origin decides
    ],
    ids=["origin", "null", "port", "scheme", "referer", "bad-referer", "origin-wins"],
)
def test_a_cross_origin_login_post_is_refused(api: Api, headers: dict[str, str]) -> None:
    before = sessions(api)
    refused = post_login(api, {k: v.format(own=api.url) for k, v in headers.items()})
    assert refused.status_code == 403
    assert "set-cookie" not in refused.headers
    assert refused.headers["content-type"].startswith("text/html")
    assert "another site" in refused.text
    assert sessions(api) == before


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "{own}"},
        {"Referer": "{own}/login?next=/courses"},
        {"Origin": PUBLIC_URL},  # behind a proxy: the origin users reach the server at
        {"Origin": PUBLIC_URL + ":443"},
        {},  # no browser: curl, a script
    ],
    ids=["origin", "referer", "public-url", "default-port", "neither"],
)
def test_a_same_origin_login_post_logs_in(api: Api, headers: dict[str, str]) -> None:
    before = sessions(api)
    answer = post_login(api, {k: v.format(own=api.url) for k, v in headers.items()})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/courses"
    assert "assay_session=" in answer.headers["set-cookie"]
    assert sessions(api) == before + 1
