"""Forms of a logged-in user carry the session's CSRF token (header or form field); a
form refused for a missing or wrong token is answered 403, and the upload it carried is
closed (it was left to the garbage collector: an open temporary file per refusal)."""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api_helpers import Api, seeded_api
from assay.services.identity import accounts


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with seeded_api("sqlite", tmp_path) as seeded:
        yield seeded


def upload(api: Api, cookie: str, token: str) -> httpx.Response:
    return httpx.post(
        f"{api.url}/assignments/{api.assignment_id}/upload",
        headers={"Cookie": f"assay_session={cookie}"},
        data={"csrf_token": token},
        files={"files": ("stats.py", b"print(1)\n")},
    )


def test_a_refused_form_post_closes_its_upload(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    unclosed: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unclosed.append)
    login = accounts.login_user(api.platform, api.user_ids["alice"])
    refused = upload(api, login.session_id, "not-the-token")
    assert refused.status_code == 403
    assert "came from elsewhere" in refused.text
    for _ in range(10):  # the server drops the request's objects just after answering
        gc.collect()
        time.sleep(0.05)
    assert [str(u.exc_value) for u in unclosed] == []
    # the token in the form field is accepted: the upload is submitted
    accepted = upload(api, login.session_id, login.csrf_token)
    assert accepted.status_code == 303
    assert accepted.headers["location"].startswith("/submissions/")
