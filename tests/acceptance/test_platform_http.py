"""Issue 4's acceptance: the platform end to end over real HTTP, on SQLite and PostgreSQL.

An administrator (the one account made on the server, as `assay user create`
does) creates a course, uploads python-io as an archive, creates a student and
enrolls them; the student submits the reference solution and bad/wrong-answer,
follows each submission's live-progress stream (SSE) to its end, and reads the
scores (10/10 and 7/10) and a report whose hidden tests show no contents. The
server and its workers are the real ones (uvicorn + WorkerPool, native sandbox).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import subprocess
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from assay.services import Actor
from assay.services.identity import accounts
from assay.worker.pool import WorkerPool
from helpers import require_backend
from platform_helpers import DATABASE_KINDS, LiveServer, database_url, open_platform, settings_for
from sse_client import follow

PYTHON_IO = Path(__file__).resolve().parents[2] / "examples" / "assignments" / "python-io"
ADMIN_PASSWORD = "admin-password-0123"
WEBHOOK_SECRET = "acceptance-webhook-secret"
GIT_ENV = {
    "PATH": os.environ["PATH"],
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Sam",
    "GIT_AUTHOR_EMAIL": "sam@example.org",
    "GIT_COMMITTER_NAME": "Sam",
    "GIT_COMMITTER_EMAIL": "sam@example.org",
}
STUDENT_PASSWORD = "student-password-0123"
# the expected output of failing hidden tests (shown to staff, never to students)
HIDDEN_CONTENTS = ("mean 50.00", "max 100\\nmean 50.00", "mean 49.32 passed 483")


@pytest.fixture(params=DATABASE_KINDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    require_backend("native")
    with database_url(request.param, tmp_path) as url:
        platform = open_platform(
            settings_for(
                url,
                tmp_path / "state",
                events_poll_interval_s=0.1,
                github_webhook_secret=WEBHOOK_SECRET,
            )
        )
        accounts.create_user(platform, Actor.system(), "admin", ADMIN_PASSWORD, is_admin=True)
        pool = WorkerPool(platform, 2).start()
        try:
            with LiveServer(platform) as live:
                yield live.url
        finally:
            pool.stop(timeout=30)
            platform.close()


def package_archive(root: Path) -> bytes:
    """The assignment directory as a .tar.gz, as an instructor would make it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.add(path, arcname=path.relative_to(root).as_posix())
    return buffer.getvalue()


@contextmanager
def logged_in(url: str, username: str, password: str) -> Iterator[httpx.Client]:
    """A browser-like client: session cookie plus the CSRF header."""
    with httpx.Client(base_url=f"{url}/api/v1", timeout=60) as client:
        answer = client.post("/auth/login", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        yield client


def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, f"{answer.request.url}: {answer.text}"
    return answer.json()


def submit_dir(client: httpx.Client, assignment_id: int, directory: Path) -> dict[str, Any]:
    files = [("files", (p.name, p.read_bytes())) for p in sorted(directory.iterdir())]
    submitted: dict[str, Any] = ok(
        client.post(f"/assignments/{assignment_id}/submissions", files=files), 201
    )
    return submitted


def check_stages(events: list[dict[str, Any]], tests: int, *, first: tuple[str, ...] = ()) -> None:
    """queued, ``first`` (stages before grading, such as "cloning"), started, setup,
    testing i of n for every test, then done and nothing more, numbered 0, 1, 2, ...

    (python-io has no build commands, so the engine reports no "building" stage.)
    """
    stages = [e["stage"] for e in events]
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert stages == ["queued", *first, "started", "setup", *["testing"] * tests, "done"], stages
    testing = [(e["current"], e["total"]) for e in events if e["stage"] == "testing"]
    assert sorted(testing) == [(i, tests) for i in range(1, tests + 1)]


def create_course(server: str) -> int:
    """As the administrator: course, python-io uploaded and published, student enrolled."""
    with logged_in(server, "admin", ADMIN_PASSWORD) as admin:
        course = ok(
            admin.post("/admin/courses", json={"code": "cs101", "name": "Programming"}), 201
        )
        assignment = ok(
            admin.post(
                f"/admin/courses/{course['id']}/assignments",
                files={"package": ("python-io.tar.gz", package_archive(PYTHON_IO))},
                data={"publish": "true"},
            ),
            201,
        )
        assert (assignment["max_score"], assignment["tests"]) == (10.0, 10)
        ok(admin.post("/admin/users", json={"username": "sam", "password": STUDENT_PASSWORD}), 201)
        ok(admin.post(f"/admin/courses/{course['id']}/roster", json={"username": "sam"}))
        assignment_id: int = assignment["id"]
        return assignment_id


def test_course_assignment_student_submissions_live_progress_and_scores(server: str) -> None:
    started = time.monotonic()
    assignment = {"id": create_course(server)}

    with logged_in(server, "sam", STUDENT_PASSWORD) as student:
        # one after the other, as a student would: a resubmission cancels the same
        # student's older run while it is still queued
        solution = submit_dir(student, assignment["id"], PYTHON_IO / "solution")
        check_stages(follow(student, f"/submissions/{solution['id']}/events"), tests=10)
        wrong = submit_dir(student, assignment["id"], PYTHON_IO / "bad" / "wrong-answer")
        check_stages(follow(student, f"/runs/{wrong['run_id']}/events"), tests=10)

        graded = {
            name: ok(student.get(f"/submissions/{out['id']}"))
            for name, out in (("solution", solution), ("wrong", wrong))
        }
        assert (graded["solution"]["score"], graded["solution"]["max_score"]) == (10.0, 10.0)
        assert (graded["wrong"]["score"], graded["wrong"]["max_score"]) == (7.0, 10.0)
        assert graded["wrong"]["status"] == "graded"

        report = student.get(f"/submissions/{wrong['id']}/report")
        body = ok(report)
        assert body["staff_view"] is False
        tests = {t["name"]: t for t in body["report"]["tests"]}
        failed = sorted(name for name, test in tests.items() if test["score"] == 0)
        assert failed == ["a-thousand-scores", "pass-mark-boundaries", "sample-2"]
        assert tests["pass-mark-boundaries"]["visibility"] == "hidden"
        assert tests["sample-2"]["expected"]  # a visible test keeps its contents
        for name, test in tests.items():
            if test["visibility"] == "hidden":
                assert (test["expected"], test["actual"], test["output"]) == (None, None, ""), name
        assert not any(text in report.text for text in HIDDEN_CONTENTS)

    with logged_in(server, "admin", ADMIN_PASSWORD) as admin:
        staff = admin.get(f"/submissions/{wrong['id']}/report")
        assert ok(staff)["staff_view"] is True
        assert all(text in staff.text for text in HIDDEN_CONTENTS)  # hidden from students only
    print(f"acceptance run took {time.monotonic() - started:.1f} s")


def test_a_git_push_is_graded(server: str, tmp_path: Path) -> None:
    """The git leg: a linked repository, a signed push, the stream with "cloning", 10/10."""
    assignment_id = create_course(server)
    bare, work = tmp_path / "sam.git", tmp_path / "sam"
    env = {**GIT_ENV, "HOME": str(tmp_path)}
    for args in (
        ["init", "-q", "--bare", "-b", "main", str(bare)],
        ["init", "-q", "-b", "main", str(work)],
    ):
        subprocess.run(["git", *args], env=env, check=True)
    (work / "stats.py").write_bytes((PYTHON_IO / "solution" / "stats.py").read_bytes())
    for args in (
        ["add", "stats.py"],
        ["commit", "-qm", "solution"],
        ["push", "-q", str(bare), "HEAD:main"],
    ):
        subprocess.run(["git", *args], cwd=work, env=env, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=work, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    with logged_in(server, "admin", ADMIN_PASSWORD) as admin:
        link = {"username": "sam", "remote_url": bare.as_uri(), "repo_full_name": "cs101/sam"}
        ok(admin.post(f"/admin/assignments/{assignment_id}/repos", json=link), 201)
    body = json.dumps(
        {"ref": "refs/heads/main", "after": commit, "repository": {"full_name": "cs101/sam"}}
    ).encode()
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    with httpx.Client(base_url=f"{server}/api/v1", timeout=60) as forge:
        answer = forge.post(
            "/webhooks/github",
            content=body,
            headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": signature},
        )
    (result,) = ok(answer)["results"]
    assert result["action"] == "queued"
    with logged_in(server, "sam", STUDENT_PASSWORD) as student:
        events = follow(student, f"/submissions/{result['submission_id']}/events")
        cloning = [e for e in events if e["stage"] == "cloning"]
        assert len(cloning) == 1
        assert cloning[0]["detail"].startswith(f"commit {commit[:12]}: 1 file in ")
        check_stages(events, tests=10, first=("cloning",))  # cloned before the worker starts
        graded = ok(student.get(f"/submissions/{result['submission_id']}"))
        assert (graded["score"], graded["source"], graded["git_commit"]) == (10.0, "git", commit)
