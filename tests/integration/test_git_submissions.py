"""Git submissions over real HTTP: signed push webhooks, repository links, find missing.

Remotes are local bare repositories (``file://``) and, for credentials, one served
over HTTP by ``git http-backend`` behind basic authentication.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
import pytest
from sqlalchemy import func, select

from api_helpers import Api, seeded_api
from assay.errors import GitError
from assay.services.intake import git
from assay.storage import filesets
from assay.storage.blobs import get_blob
from assay.storage.models import AuditEntry, RunEvent, Submission
from platform_helpers import DATABASE_KINDS

SECRET = "webhook-secret-for-tests"
PASSWORD = "s3cret-token-9f8e7d"


class Remote:
    """A bare repository and a working clone that commits and pushes to it."""

    def __init__(self, root: Path, name: str) -> None:
        self.bare = root / f"{name}.git"
        self.work = root / f"{name}-work"
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": str(root),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Student",
            "GIT_AUTHOR_EMAIL": "student@example.org",
            "GIT_COMMITTER_NAME": "Student",
            "GIT_COMMITTER_EMAIL": "student@example.org",
        }
        self.git("init", "--quiet", "--bare", "--initial-branch=main", str(self.bare), cwd=root)
        self.git("init", "--quiet", "--initial-branch=main", str(self.work), cwd=root)

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def git(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd or self.work,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def commit(self, files: dict[str, str], message: str, branch: str = "main") -> str:
        """Commit ``files`` (path -> content; "->target" makes a symlink) and push."""
        for path, content in files.items():
            target = self.work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if content.startswith("->"):
                target.symlink_to(content[2:])
            else:
                target.write_text(content)
            if path.endswith(".sh"):
                target.chmod(0o755)
        self.git("add", "--all")
        self.git("commit", "--quiet", "-m", message)
        self.git("push", "--quiet", str(self.bare), f"HEAD:refs/heads/{branch}")
        return self.git("rev-parse", "HEAD")


def push_event(full_name: str, commit: str, ref: str = "refs/heads/main") -> dict[str, Any]:
    """A push event shaped like GitHub's (the fields Assay reads and a few more)."""
    return {
        "ref": ref,
        "before": "0" * 40,
        "after": commit,
        "created": False,
        "deleted": False,
        "forced": False,
        "repository": {
            "id": 1,
            "name": full_name.rsplit("/", maxsplit=1)[-1],
            "full_name": full_name,
            "private": True,
            "clone_url": f"https://github.com/{full_name}.git",
        },
        "pusher": {"name": "student"},
        "head_commit": {"id": commit, "message": "work"},
    }


def deliver(
    client: httpx.Client,
    payload: dict[str, Any],
    *,
    event: str = "push",
    secret: str | None = SECRET,
) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {"X-GitHub-Event": event, "Content-Type": "application/json"}
    if secret is not None:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature-256"] = f"sha256={digest}"
    return client.post("/webhooks/github", content=body, headers=headers)


def stored_files(api: Api, submission_id: int) -> dict[str, tuple[bytes, bool]]:
    with api.platform.db.session() as session:
        row = session.get(Submission, submission_id)
        assert row is not None
        files = filesets.unpack(get_blob(session, row.files_sha256))
        return {f.path: (f.data, f.executable) for f in files}


def submission_count(api: Api) -> int:
    with api.platform.db.session() as session:
        return int(session.scalar(select(func.count(Submission.id))) or 0)


@pytest.fixture(params=DATABASE_KINDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    with seeded_api(request.param, tmp_path, github_webhook_secret=SECRET) as seeded:
        yield seeded


def link(api: Api, who: str, remote_url: str, full_name: str, branch: str = "") -> dict[str, Any]:
    with api.client("teacher") as client:
        answer = client.post(
            f"/admin/assignments/{api.assignment_id}/repos",
            json={
                "username": who,
                "remote_url": remote_url,
                "repo_full_name": full_name,
                "branch": branch,
            },
        )
    assert answer.status_code == 201, answer.text
    linked: dict[str, Any] = answer.json()
    return linked


def test_signature_is_required_and_checked(api: Api) -> None:
    payload = push_event("org/alice-repo", "a" * 40)
    with api.client() as client:
        assert deliver(client, payload, secret=None).status_code == 401
        wrong = deliver(client, payload, secret="not-the-secret")  # noqa: S106 - on purpose
        assert wrong.status_code == 403
        body = json.dumps(payload).encode()
        sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        changed = body.replace(b"a" * 40, b"c" * 40)
        answer = client.post(
            "/webhooks/github",
            content=changed,
            headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": sig},
        )
        assert answer.status_code == 403
        ping = deliver(client, {"zen": "Keep it logically awesome."}, event="ping")
        assert (ping.status_code, ping.json()["detail"]) == (200, "pong")
        other = deliver(client, {"action": "opened"}, event="issues")
        assert (other.status_code, other.json()["handled"]) == (200, False)
    assert submission_count(api) == 0


def test_webhook_off_without_a_secret(tmp_path: Path) -> None:
    with seeded_api("sqlite", tmp_path) as api, api.client() as client:
        assert deliver(client, push_event("org/x", "a" * 40)).status_code == 403


def test_push_submits_exactly_that_commit_once(api: Api, tmp_path: Path) -> None:
    remote = Remote(tmp_path, "alice")
    first = remote.commit(
        {
            "stats.py": "print(input())\n",
            "run.sh": "#!/bin/sh\necho hi\n",
            "lib/util.py": "X = 1\n",
            "link.py": "->stats.py",
        },
        "first",
    )
    second = remote.commit({"stats.py": "print('newer')\n"}, "second")
    linked = link(api, "alice", remote.url, "Org/Alice-Repo")
    assert linked["repo_full_name"] == "Org/Alice-Repo"
    with api.client() as client:
        # the webhook of the first push arrives late: the head has moved on since
        answer = deliver(client, push_event("org/alice-repo", first))
        assert answer.status_code == 200, answer.text
        (result,) = answer.json()["results"]
        assert result["action"] == "queued"
        assert "left out 1" in result["detail"]
        files = stored_files(api, result["submission_id"])
        assert files == {
            "lib/util.py": (b"X = 1\n", False),
            "stats.py": (b"print(input())\n", False),
            "run.sh": (b"#!/bin/sh\necho hi\n", True),
        }
        assert not any(".git" in path.split("/") for path in files)
        # redelivery: nothing new
        again = deliver(client, push_event("org/alice-repo", first))
        (repeat,) = again.json()["results"]
        assert (repeat["action"], repeat["submission_id"]) == ("seen", result["submission_id"])
        assert submission_count(api) == 1
        newer = deliver(client, push_event("org/alice-repo", second)).json()["results"][0]
        assert newer["action"] == "queued"
        assert stored_files(api, newer["submission_id"])["stats.py"][0] == b"print('newer')\n"
    with api.client("alice") as client:
        mine = client.get(f"/submissions/{newer['submission_id']}").json()
        assert (mine["source"], mine["git_commit"]) == ("git", second)
        events = client.get(f"/runs/{newer['run_id']}/events", params={"after": -1}).json()
    stages = [e["stage"] for e in events["events"]]
    assert stages[:2] == ["queued", "cloning"]  # recorded with the job, before any worker runs
    assert [e["seq"] for e in events["events"]][:2] == [0, 1]
    cloning = next(e for e in events["events"] if e["stage"] == "cloning")
    assert cloning["detail"].startswith(f"commit {second[:12]}: 3 files in ")


def test_concurrent_redeliveries_submit_once(api: Api, tmp_path: Path) -> None:
    remote = Remote(tmp_path, "alice")
    commit = remote.commit({"stats.py": "print(1)\n"}, "one")
    link(api, "alice", remote.url, "org/alice")
    answers: list[str] = []

    def send() -> None:
        with api.client() as client:
            answers.append(
                deliver(client, push_event("org/alice", commit)).json()["results"][0]["action"]
            )

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == ["queued", "seen", "seen", "seen"]
    assert submission_count(api) == 1


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("/".join(["d" * 250] * 5) + "/stats.py", "a path may be at most 1024 bytes"),
        ("tab\there.py", "control character"),
    ],
)
def test_a_commit_with_a_refused_file_name_is_not_submitted(
    api: Api, tmp_path: Path, name: str, words: str
) -> None:
    """The names of a commit follow the rule of every other submission (a path the
    sandbox could not create would otherwise fail grading, as our error, three times)."""
    remote = Remote(tmp_path, "alice")
    commit = remote.commit({"stats.py": "print(1)\n", name: "X = 1\n"}, "odd names")
    link(api, "alice", remote.url, "org/alice")
    with api.client() as client:
        (result,) = deliver(client, push_event("org/alice", commit)).json()["results"]
    assert result["action"] == "failed"
    assert words in result["detail"] and len(result["detail"]) < 300
    assert submission_count(api) == 0


def test_mapping_by_repository_and_branch(api: Api, tmp_path: Path) -> None:
    alice, bob = Remote(tmp_path, "alice"), Remote(tmp_path, "bob")
    link(api, "alice", alice.url, "org/alice", branch="main")
    link(api, "bob", bob.url, "org/bob")  # any branch
    on_dev = alice.commit({"stats.py": "print(1)\n"}, "dev work", branch="dev")
    bob_dev = bob.commit({"stats.py": "print(2)\n"}, "bob dev", branch="dev")
    with api.client() as client:
        ignored = deliver(client, push_event("org/alice", on_dev, "refs/heads/dev")).json()
        assert (ignored["handled"], ignored["results"]) == (False, [])
        unknown = deliver(client, push_event("org/nobody", on_dev)).json()
        assert unknown["handled"] is False
        tag = deliver(client, push_event("org/bob", bob_dev, "refs/tags/v1")).json()
        assert tag["handled"] is False
        deleted = deliver(client, {**push_event("org/bob", "0" * 40), "deleted": True}).json()
        assert deleted["handled"] is False
        assert submission_count(api) == 0
        taken = deliver(client, push_event("org/bob", bob_dev, "refs/heads/dev")).json()
        (result,) = taken["results"]
        assert (result["username"], result["action"]) == ("bob", "queued")
    with api.platform.db.session() as session:
        row = session.get(Submission, result["submission_id"])
        assert row is not None
        assert (row.user_id, row.assignment_id) == (api.user_ids["bob"], api.assignment_id)


def test_find_missing_queues_only_unseen_heads(api: Api, tmp_path: Path) -> None:
    alice, bob = Remote(tmp_path, "alice"), Remote(tmp_path, "bob")
    link(api, "alice", alice.url, "org/alice")
    link(api, "bob", bob.url, "org/bob", branch="main")
    seen = alice.commit({"stats.py": "print(1)\n"}, "one")
    with api.client() as client:
        assert deliver(client, push_event("org/alice", seen)).json()["results"][0]["action"] == (
            "queued"
        )
    bob_head = bob.commit({"stats.py": "print(2)\n"}, "never delivered")
    path = f"/admin/assignments/{api.assignment_id}/repos/find-missing"
    with api.client("ta") as client:
        first = {r["username"]: r for r in client.post(path).json()}
        assert (first["alice"]["action"], first["alice"]["commit"]) == ("seen", seen)
        assert (first["bob"]["action"], first["bob"]["commit"]) == ("queued", bob_head)
        newer = alice.commit({"stats.py": "print(3)\n"}, "webhook lost")
        second = {r["username"]: r for r in client.post(path).json()}
        assert (second["alice"]["action"], second["alice"]["commit"]) == ("queued", newer)
        assert second["bob"]["action"] == "seen"
        third = client.post(path).json()
        assert {r["action"] for r in third} == {"seen"}
    assert submission_count(api) == 3
    with api.client("alice") as client:
        assert client.post(path).status_code == 403  # the admin zone is staff-only


def test_links_are_staff_only_and_validated(api: Api, tmp_path: Path) -> None:
    url = f"/admin/assignments/{api.assignment_id}/repos"
    body = {"username": "alice", "remote_url": "file:///srv/x.git"}
    with api.client("alice") as client:
        assert client.post(url, json=body).status_code == 403
        assert client.get(url).status_code == 403
    with api.client("teacher") as client:
        bad = client.post(url, json={**body, "remote_url": "ext::sh -c 'touch /tmp/x'"})
        assert bad.status_code == 400
        outsider = client.post(url, json={**body, "username": "outsider"})
        assert outsider.status_code == 404
        made = client.post(url, json=body).json()
        assert made["repo_full_name"] == "srv/x"
        replaced = client.post(url, json={**body, "remote_url": "file:///srv/y.git"}).json()
        assert replaced["id"] == made["id"]
        assert [r["remote_url"] for r in client.get(url).json()] == ["file:///srv/y.git"]
        assert client.delete(f"{url}/{made['id']}").status_code == 204
        assert client.get(url).json() == []


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *_args: Any) -> None:
        """No request log on stderr."""


def _git_http_app(projects: Path, authorizations: list[str]) -> Any:
    """git's smart HTTP protocol (``git http-backend``) behind basic authentication."""
    expected = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        sent = environ.get("HTTP_AUTHORIZATION", "")
        authorizations.append(sent)
        if sent != expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"')])
            return [b""]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(projects),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(projects),
            "REQUEST_METHOD": environ["REQUEST_METHOD"],
            "PATH_INFO": environ["PATH_INFO"],
            "QUERY_STRING": environ.get("QUERY_STRING", ""),
            "CONTENT_TYPE": environ.get("CONTENT_TYPE", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": environ.get("HTTP_CONTENT_ENCODING", ""),
            "GIT_PROTOCOL": environ.get("HTTP_GIT_PROTOCOL", ""),
            "REMOTE_USER": "alice",
        }
        out = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=True
        ).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status = "200 OK"
        headers = []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(": ")
            if name.lower() == "status":
                status = value
            elif name:
                headers.append((name, value))
        start_response(status, headers)
        return [payload]

    return app


@pytest.fixture
def http_remote(tmp_path: Path) -> Iterator[tuple[Remote, str, list[str]]]:
    remote = Remote(tmp_path, "private")
    authorizations: list[str] = []
    server = make_server(
        "127.0.0.1", 0, _git_http_app(tmp_path, authorizations), handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        yield remote, f"http://alice:{PASSWORD}@127.0.0.1:{port}/private.git", authorizations
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_credentials_in_the_remote_never_show(
    api: Api, http_remote: tuple[Remote, str, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    remote, url, authorizations = http_remote
    commit = remote.commit({"stats.py": "print(input())\n"}, "private work")
    shown = link(api, "alice", url, "org/private")
    seen_text = [json.dumps(shown)]
    with api.client() as client:
        answer = deliver(client, push_event("org/private", commit))
        assert answer.status_code == 200, answer.text
        (result,) = answer.json()["results"]
        assert result["action"] == "queued"
        seen_text.append(answer.text)
        # the same remote on a dead port: the failure message is redacted too
        dead = url.replace(url.split("@")[1].split("/")[0], "127.0.0.1:9")
        link(api, "bob", dead, "org/private")
        newer = remote.commit({"stats.py": "print(2)\n"}, "more")
        failed = deliver(client, push_event("org/private", newer))
        assert failed.status_code == 502
        assert {r["action"] for r in failed.json()["results"]} == {"queued", "failed"}
        seen_text.append(failed.text)
    assert any(a.startswith("Basic ") for a in authorizations)  # sent as a header
    with api.client("teacher") as client:
        seen_text.append(client.get(f"/admin/assignments/{api.assignment_id}/repos").text)
        seen_text.append(client.get("/admin/audit").text)
    with api.client("alice") as client:
        seen_text.append(client.get(f"/submissions/{result['submission_id']}").text)
        seen_text.append(client.get(f"/runs/{result['run_id']}/events?after=-1").text)
    with api.platform.db.session() as session:
        remotes = session.scalars(select(Submission.git_remote)).all()
        details = session.scalars(select(RunEvent.detail)).all()
        audit = [json.dumps(d) for d in session.scalars(select(AuditEntry.detail))]
    seen_text += [str(r) for r in remotes] + list(details) + audit
    seen_text += [
        record.getMessage() + json.dumps(record.__dict__, default=str) for record in caplog.records
    ]
    assert all(PASSWORD not in text for text in seen_text)
    assert any("***@127.0.0.1" in text for text in seen_text)
    files = stored_files(api, result["submission_id"])
    assert all(PASSWORD.encode() not in data for data, _exec in files.values())


def test_local_remotes_are_refused_unless_the_operator_allows_them(tmp_path: Path) -> None:
    # file:// and path remotes let any course's staff make the server read any git
    # repository on it (another course's, the server's own): off by default
    remote = Remote(tmp_path, "private")
    commit = remote.commit({"secret.txt": "server-side data\n"}, "private")
    with (
        seeded_api("sqlite", tmp_path, git_allow_local=False) as api,
        api.client("teacher") as teacher,
    ):
        for url in (remote.url, str(remote.bare)):
            refused = teacher.post(
                f"/admin/assignments/{api.assignment_id}/repos",
                json={"username": "alice", "remote_url": url, "repo_full_name": "a/b"},
            )
            assert refused.status_code == 400, refused.text
            assert "ASSAY_GIT_ALLOW_LOCAL" in refused.json()["detail"]
    # a link stored while they were allowed is still not fetched once they are not
    with pytest.raises(GitError, match="transport 'file' not allowed"):
        git.fetch_commit(remote.url, commit, git.GitLimits(allow_local=False))
    fetched = git.fetch_commit(remote.url, commit, git.GitLimits(allow_local=True))
    assert [f.path for f in fetched.files.files] == ["secret.txt"]
