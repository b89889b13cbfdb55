"""Our failures never show their internals: the caller gets a reference, the log the rest.

An execution whose job fails on our side (here an ``OSError`` naming a host path,
raised where the sandbox would run) answers, on the picobytes and the Judge0 API,
"internal error, reference <id>" and nothing of the exception; the log has the
exception under that reference. An unexpected exception in a route answers 500
with the request id as the reference (JSON on the API, an error page in the UI).
No sandbox is needed: the failures are injected where the real ones happen.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from assay.services import Actor, Platform
from assay.services.execution import judge0_run, languages, picobytes
from assay.services.identity import accounts
from assay.web.ui.pages import auth
from assay.worker.pool import WorkerPool
from platform_helpers import LiveServer, database_url, open_platform, settings_for

HOST_PATH = "/var/lib/assay-secret-state/workspaces/run-17"
REFERENCE = re.compile(r"internal error, reference ([0-9a-f]{12,32})\b")


@dataclass
class Live:
    platform: Platform
    url: str
    token: str

    def client(self, base: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url + base,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with database_url("sqlite", tmp_path) as url:
        platform = open_platform(settings_for(url, tmp_path / "state", job_max_attempts=1))
        try:
            system = Actor.system()
            user = accounts.create_user(platform, system, "carol", "correct horse battery")
            token = accounts.create_token_for(platform, system, user.id, "t").token
            with LiveServer(platform) as server, WorkerPool(platform, 1):
                yield Live(platform, server.url, token)
        finally:
            platform.close()


def disk_full(_platform: Platform, _request: dict[str, Any]) -> dict[str, Any]:
    raise OSError(28, "No space left on device", HOST_PATH)


def assert_only_a_reference(text: str, caplog: pytest.LogCaptureFixture) -> None:
    """``text`` names a reference and nothing internal; the log has the error under it."""
    for internal in ("Traceback", "OSError", "No space left", HOST_PATH, ".py", "/src/"):
        assert internal not in text, text
    match = REFERENCE.search(text)
    assert match, text
    logged = [r for r in caplog.records if getattr(r, "reference", None) == match.group(1)]
    assert logged, "the reference is not in the log"
    assert any(HOST_PATH in logging.Formatter().format(r) for r in logged)  # with traceback


def test_picobytes_execution_failing_on_our_side_shows_a_reference(
    live: Live, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.ERROR)
    monkeypatch.setattr(picobytes, "run", disk_full)
    with live.client("/api/v1") as client:
        answer = client.post("/execute", json={"code": "def f(): return 1", "language": "python"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] == "error" and body["build"] is False
        assert "on our side" in body["output"]
        assert_only_a_reference(answer.text, caplog)
        again = client.get(f"/execute/{body['token']}")
        assert again.json()["output"] == body["output"]


def test_judge0_execution_failing_on_our_side_shows_a_reference(
    live: Live, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.ERROR)
    monkeypatch.setattr(judge0_run, "run", disk_full)
    with live.client("/judge0") as client:
        answer = client.post(
            "/submissions",
            params={"wait": "true", "fields": "*"},
            json={"source_code": "print(1)", "language_id": 71},
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["status"] == {"id": 13, "description": "Internal Error"}
        assert body["message"].startswith("Internal Error: internal error, reference ")
        assert_only_a_reference(answer.text, caplog)


def test_an_unexpected_exception_in_an_api_route_answers_with_a_reference(
    live: Live, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.ERROR)

    def broken(*_: object) -> list[Any]:
        raise OSError(28, "No space left on device", HOST_PATH)

    monkeypatch.setattr(languages, "list_languages", broken)
    with live.client("/judge0") as client:
        answer = client.get("/languages")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["error"] == "InternalError"
    assert body["reference"] == answer.headers["x-request-id"]
    assert_only_a_reference(answer.text, caplog)


def test_an_unexpected_exception_in_a_page_shows_an_error_page_with_a_reference(
    live: Live, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.ERROR)

    def broken(_target: str | None) -> str:
        raise OSError(28, "No space left on device", HOST_PATH)

    monkeypatch.setattr(auth, "safe_next", broken)
    answer = httpx.get(f"{live.url}/login", timeout=30)
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    assert "Something went wrong on our side" in answer.text
    assert answer.headers["x-request-id"] in answer.text
    assert_only_a_reference(answer.text.replace("Internal error", "internal error"), caplog)
