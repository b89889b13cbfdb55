"""Degraded SQLite and disks (issue 13, item 5), over real HTTP on a real SQLite file.

While another process holds SQLite's write lock: every GET route (API, Judge0,
pages) answers at once, a write gets 503 with ``Retry-After`` (JSON from the API, a
page for a form) after the busy timeout and stores nothing, and ``/readyz`` says not
ready; once the lock is released the same write is stored and ``/readyz`` is ready.
A full disk (a small tmpfs) and a read-only one (a read-only bind mount) under the
state directory and the database give the same 503 and not-ready, and recover.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import func, select

from api_helpers import EXAMPLES, PASSWORD, Api, seeded_api
from assay.services import writebehind
from assay.storage.models import Submission
from assay.web.app import create_app

BUSY_TIMEOUT_S = 4.0  # settings.sqlite_busy_timeout_s here
QUICK_S = 2.0  # a read that waited for the writer would take BUSY_TIMEOUT_S at least
SOLUTION = (EXAMPLES / "python-io" / "solution" / "stats.py").read_text()
# /readyz tries a write on purpose (at most ops.WRITE_PROBE_TIMEOUT_S): tested below.
NOT_SWEPT = {"/readyz"}


@contextmanager
def write_lock_held(database: Path) -> Iterator[None]:
    """Another process holds SQLite's write lock (BEGIN IMMEDIATE) until the block ends."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n",
            str(database),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(timeout=10)
        holder.stdout.close()


@contextmanager
def mounted(kind: str, target: Path, size: str = "") -> Iterator[None]:
    """A tmpfs of ``size`` on ``target``, or ``target`` bound onto itself read-only."""
    if kind == "tmpfs":
        command = ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(target)]
        subprocess.run(command, check=True)
    else:
        subprocess.run(["mount", "--bind", str(target), str(target)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True)
    try:
        yield
    finally:
        # files the server opened meanwhile may keep it busy: then detach it lazily
        done = subprocess.run(["umount", str(target)], check=False, stderr=subprocess.DEVNULL)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(target)], check=True)


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small or read-only file system needs root")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with seeded_api("sqlite", tmp_path, sqlite_busy_timeout_s=BUSY_TIMEOUT_S) as seeded:
        yield seeded


def database_file(api: Api) -> Path:
    return Path(api.platform.settings.resolved_database_url.split("///", 1)[1])


def browser(api: Api, who: str = "admin") -> tuple[httpx.Client, str]:
    """A client logged in with a session cookie (pages) and its CSRF token."""
    client = httpx.Client(base_url=api.url, timeout=30)
    response = client.post("/api/v1/auth/login", json={"username": who, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client, str(response.json()["csrf_token"])


def submit_json(api: Api, who: str, timeout_s: float = 30) -> httpx.Response:
    with api.client(who) as client:
        return client.post(
            f"/assignments/{api.assignment_id}/submissions",
            json={"files": {"stats.py": SOLUTION}},
            timeout=timeout_s,
        )


def stored_submissions(api: Api, who: str) -> int:
    with api.platform.db.reading() as session:
        count = session.scalar(
            select(func.count(Submission.id)).where(Submission.user_id == api.user_ids[who])
        )
    return int(count or 0)


def get_paths(api: Api, submission_id: int, run_id: int) -> list[str]:
    """Every GET route of the app, its path parameters filled with objects that exist."""
    values = {
        "course_id": api.course_id,
        "assignment_id": api.assignment_id,
        "submission_id": submission_id,
        "run_id": run_id,
        "token": "no-such-token",
        "language_id": "71",
        "path": "README.md",
    }
    paths = []
    for route in iter_route_contexts(create_app(api.platform).routes):
        if not route.methods or "GET" not in route.methods or route.path in NOT_SWEPT:
            continue
        path = re.sub(r"\{(\w+)(?::path)?\}", lambda m: str(values[m.group(1)]), route.path)
        paths.append(path + ("?tokens=no-such-token" if path.endswith("/batch") else ""))
    return paths


def timed_get(client: httpx.Client, path: str, headers: dict[str, str]) -> tuple[int, float]:
    """Status and seconds until the answer's headers (event streams are not read on);
    status 0 when none came in time."""
    started = time.monotonic()
    try:
        with client.stream("GET", path, headers=headers, timeout=BUSY_TIMEOUT_S * 2) as response:
            if "text/event-stream" not in response.headers.get("content-type", ""):
                response.read()
            return response.status_code, time.monotonic() - started
    except httpx.TimeoutException:
        return 0, time.monotonic() - started  # no answer at all


def test_reads_answer_at_once_while_another_process_holds_the_write_lock(api: Api) -> None:
    made = submit_json(api, "alice")
    assert made.status_code == 201, made.text
    paths = get_paths(api, made.json()["id"], made.json()["run_id"])
    assert len(paths) > 40  # the route table, not a hand-picked list
    pages, _csrf = browser(api)
    bearer = {"Authorization": f"Bearer {api.tokens['admin']}"}
    for path in paths:  # first calls that build caches (the OpenAPI schema, templates)
        timed_get(pages, path, bearer)
    slow: list[str] = []
    with closing(pages), write_lock_held(database_file(api)):
        first_use = time.monotonic()
        for path in paths:
            # each route as the API sees it (a token) and as a browser does (a cookie)
            for headers in (bearer, {}):
                status, took = timed_get(pages, path, headers)
                if took > QUICK_S or status >= 500:
                    slow.append(f"{path}: {status} after {took:.2f} s")
        # token last-use times pending for longer than the write-behind delay are
        # written in the background, never by a request
        time.sleep(max(0.0, writebehind.FLUSH_AFTER_S + 0.5 - (time.monotonic() - first_use)))
        for who in ("bob", "teacher", "admin"):
            with api.client(who) as client:
                status, took = timed_get(client, "/auth/me", {})
                if took > QUICK_S or status != 200:
                    slow.append(f"/auth/me as {who} after the flush delay: {status}, {took:.2f} s")
    assert not slow, "\n".join(slow)


def test_a_write_that_cannot_wait_longer_gets_503_and_is_not_stored(api: Api) -> None:
    pages, csrf = browser(api, "bob")
    before = stored_submissions(api, "bob")
    with closing(pages), write_lock_held(database_file(api)):

        def timed_submit(who: str) -> tuple[httpx.Response, float]:
            started = time.monotonic()
            return submit_json(api, who), time.monotonic() - started

        # two at once: the second waits for the first in this process, and yet both
        # are answered within the busy timeout (the wait is one budget, not two)
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(timed_submit, ["bob", "alice"]))
        for refused, took in answers:
            assert refused.status_code == 503, refused.text
            assert int(refused.headers["Retry-After"]) >= 1
            assert refused.headers["content-type"].startswith("application/json")
            body = refused.json()
            assert body["error"] == "StorageUnavailableError"
            assert "busy" in body["detail"] and "nothing was stored" in body["detail"]
            assert BUSY_TIMEOUT_S * 0.9 <= took < BUSY_TIMEOUT_S + 1.5

        form = pages.post(
            f"/assignments/{api.assignment_id}/editor",
            data={"csrf_token": csrf, "path": "stats.py", "content": SOLUTION},
        )
        assert form.status_code == 503
        assert int(form.headers["Retry-After"]) >= 1
        assert form.headers["content-type"].startswith("text/html")
        assert "try again" in form.text.lower() and "<html" in form.text.lower()
        assert stored_submissions(api, "bob") == before
    accepted = submit_json(api, "bob")
    assert accepted.status_code == 201, accepted.text
    assert stored_submissions(api, "bob") == before + 1


def readiness(api: Api) -> httpx.Response:
    return httpx.get(f"{api.url}/readyz", timeout=30)


def test_readyz_is_not_ready_while_the_database_cannot_be_written(api: Api) -> None:
    assert readiness(api).status_code == 200
    with write_lock_held(database_file(api)):
        started = time.monotonic()
        busy = readiness(api)
        assert time.monotonic() - started < 5
        assert busy.status_code == 503
        reasons = busy.json()["reasons"]
        assert any(r.startswith("database_writes: ") and "busy" in r for r in reasons), reasons
    ready = readiness(api)
    assert ready.status_code == 200, ready.text


@pytest.fixture
def disk_api(tmp_path: Path) -> Iterator[tuple[Api, Path]]:
    """The embedded layout (the database inside the state directory) on a 24 MiB tmpfs."""
    require_root()
    disk = tmp_path / "state"  # the state directory seeded_api gives the platform
    disk.mkdir()
    with ExitStack() as stack:
        stack.enter_context(mounted("tmpfs", disk, "24m"))
        seeded = stack.enter_context(
            seeded_api(
                "sqlite",
                tmp_path,
                database_url=f"sqlite:///{disk / 'assay.db'}",
                sqlite_busy_timeout_s=BUSY_TIMEOUT_S,
            )
        )
        assert seeded.platform.settings.state_dir == disk
        yield seeded, disk


def fill(disk: Path) -> Path:
    """Fill the file system until it refuses another byte."""
    filler = disk / "filler"
    chunk = os.urandom(1 << 20)
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(chunk)
                handle.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_gives_503_and_not_ready_then_recovers(disk_api: tuple[Api, Path]) -> None:
    api, disk = disk_api
    big = {"stats.py": SOLUTION, "data.txt": os.urandom(3 << 20).hex()}  # more than the WAL
    before = stored_submissions(api, "bob")
    filler = fill(disk)
    try:
        with api.client("bob") as bob:
            refused = bob.post(f"/assignments/{api.assignment_id}/submissions", json={"files": big})
            assert refused.status_code == 503, refused.text
            assert "Retry-After" in refused.headers
            assert "disk is full" in refused.json()["detail"]
            status, took = timed_get(bob, f"/assignments/{api.assignment_id}/submissions", {})
            assert status == 200 and took < QUICK_S  # reading goes on
        not_ready = readiness(api)
        assert not_ready.status_code == 503
        assert any(
            r.startswith("state_dir: ") and "disk is full" in r for r in not_ready.json()["reasons"]
        )
        assert stored_submissions(api, "bob") == before
    finally:
        filler.unlink()
    assert readiness(api).status_code == 200
    with api.client("bob") as bob:
        accepted = bob.post(f"/assignments/{api.assignment_id}/submissions", json={"files": big})
    assert accepted.status_code == 201, accepted.text
    assert stored_submissions(api, "bob") == before + 1


def test_a_read_only_state_directory_gives_503_and_not_ready_then_recovers(
    disk_api: tuple[Api, Path],
) -> None:
    """A read-only bind mount: nothing new can be made in the state directory (the
    database files SQLite has open stay writable through their descriptors)."""
    api, disk = disk_api
    pages, _csrf = browser(api, "alice")
    starter = f"/assignments/{api.assignment_id}/starter.zip"  # unpacks the package there
    with closing(pages):
        with mounted("read-only", disk):
            refused = pages.get(starter)
            assert refused.status_code == 503, refused.text
            assert int(refused.headers["Retry-After"]) >= 1
            assert refused.headers["content-type"].startswith("text/html")
            assert "read-only" in refused.text
            not_ready = readiness(api)
            assert not_ready.status_code == 503
            reasons = not_ready.json()["reasons"]
            assert any(r.startswith("state_dir: ") and "read-only" in r for r in reasons), reasons
        assert readiness(api).status_code == 200
        served = pages.get(starter)
        assert served.status_code == 200
        assert served.content.startswith(b"PK")  # a zip
