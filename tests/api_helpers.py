"""A seeded platform behind a live HTTP server, for the API tests.

``seeded_api(kind, tmp_path)`` yields an ``Api``: a course ``cs101`` with an
instructor, a TA and two students (each with an API token), a published
``python-io`` assignment, and a second course whose member is ``outsider``.

``seeded_servers(tmp, servers)`` seeds the same on PostgreSQL behind real
``assay serve --workers 0`` processes and one ``assay worker``: the distributed
deployment, whichever server a request reaches.
"""

from __future__ import annotations

import io
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from assay.services import Actor, Platform
from assay.services.catalog import assignments, courses, packages
from assay.services.identity import accounts
from assay.storage.models import Role
from helpers import require_backend
from platform_helpers import LiveServer, database_url, free_port, open_platform, settings_for
from worker_helpers import assay_env, start_assay, stop

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "assignments"
PASSWORD = "correct horse battery"


@dataclass
class Api:
    platform: Platform
    url: str
    course_id: int
    other_course_id: int
    assignment_id: int
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)

    def client(self, who: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=30)


def package_bytes(name: str = "python-io") -> bytes:
    return packages.pack_directory(EXAMPLES / name)


def python_io_copy(tmp: Path, name: str, *, broken: bool) -> Path:
    """python-io copied to ``tmp / name`` under that name, without its known-bad
    entries (a quicker reference check); ``broken``: its "reference solution" is the
    wrong answer (7 / 10)."""
    copy = tmp / name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(EXAMPLES / "python-io", copy)
    toml = copy / "assignment.toml"
    text = toml.read_text().replace('name = "python-io"', f'name = "{name}"')
    toml.write_text(text[: text.index("# -- known-bad")])
    if broken:
        shutil.copy(copy / "bad" / "wrong-answer" / "stats.py", copy / "solution" / "stats.py")
    return copy


def tar_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def seed(platform: Platform) -> dict[str, Any]:
    system = Actor.system()
    ids: dict[str, int] = {}
    for name in ("admin", "teacher", "ta", "alice", "bob", "outsider"):
        user = accounts.create_user(platform, system, name, PASSWORD, is_admin=name == "admin")
        ids[name] = user.id
    course = courses.create_course(platform, system, "cs101", "Programming 1")
    other = courses.create_course(platform, system, "cs999", "Another course")
    roles = {"teacher": Role.INSTRUCTOR, "ta": Role.TA, "alice": Role.STUDENT, "bob": Role.STUDENT}
    for name, role in roles.items():
        courses.enroll(platform, system, course.id, name, role)
    courses.enroll(platform, system, other.id, "outsider", Role.STUDENT)
    assignment = assignments.create_assignment(
        platform, system, course.id, package_bytes(), "python-io.tar.gz", publish=True
    )
    tokens = {
        name: accounts.create_token_for(platform, system, user_id, "tests").token
        for name, user_id in ids.items()
    }
    return {
        "ids": ids,
        "course": course.id,
        "other": other.id,
        "assignment": assignment.id,
        "tokens": tokens,
    }


def add_member(api: Api, username: str, course_id: int, role: Role) -> int:
    """Another user, enrolled in a course with ``role``, with an API token in ``api.tokens``."""
    system = Actor.system()
    user = accounts.create_user(api.platform, system, username, PASSWORD)
    courses.enroll(api.platform, system, course_id, username, role)
    api.user_ids[username] = user.id
    api.tokens[username] = accounts.create_token_for(api.platform, system, user.id, "tests").token
    return user.id


@contextmanager
def seeded_api(kind: str, tmp_path: Path, **overrides: object) -> Iterator[Api]:
    with ExitStack() as stack:
        url = stack.enter_context(database_url(kind, tmp_path))
        platform = open_platform(settings_for(url, tmp_path / "state", **overrides))
        stack.callback(platform.close)
        data = seed(platform)
        server = stack.enter_context(LiveServer(platform))
        yield Api(
            platform=platform,
            url=server.url,
            course_id=data["course"],
            other_course_id=data["other"],
            assignment_id=data["assignment"],
            tokens=data["tokens"],
            user_ids=data["ids"],
        )


def wait_done(client: httpx.Client, submission_id: int, timeout_s: float = 120) -> dict[str, Any]:
    """The submission once it is graded, errored or cancelled (polled over the API)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/submissions/{submission_id}").json()
        if body["status"] in {"graded", "error", "cancelled"}:
            return body
        time.sleep(0.2)
    raise AssertionError(f"submission {submission_id} not graded in {timeout_s} s")


# --- the distributed deployment: assay serve --workers 0 processes and a worker -----


@dataclass
class ServeProcess:
    """One ``assay serve`` process of a test, on a loopback port."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def wait_ready(self, deadline: float) -> None:
        """Until ``/readyz`` answers 200 (fails with the log if the process ended)."""
        while True:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{self.name} never got ready"
            time.sleep(0.2)


@dataclass
class SeededServers:
    platform: Platform  # the test's own, on the servers' database
    data: dict[str, Any]  # what ``seed`` made
    servers: dict[str, ServeProcess]
    worker: subprocess.Popen[bytes]


@contextmanager
def seeded_servers(
    tmp: Path,
    servers: Mapping[str, Mapping[str, str]],
    *,
    settings: Mapping[str, str] | None = None,
    ready_s: float = 60,
) -> Iterator[SeededServers]:
    """A fresh PostgreSQL database seeded as ``seeded_api`` does, an ``assay serve
    --workers 0`` for each of ``servers`` (name -> its own ASSAY_* settings; its state
    directory ``tmp / state-NAME``, its log ``tmp / serve-NAME.log``) and one native
    ``assay worker`` with 2 slots, all ready; stopped with SIGTERM afterwards.
    ``settings``: ASSAY_* settings of the servers and the worker alike."""
    require_backend("native", "python3")
    # the sandbox user must reach the worker's state directory (not under pytest's)
    worker_state = tempfile.mkdtemp(prefix=f"assay-{tmp.name}-")
    with database_url("postgres", tmp) as url:
        platform = open_platform(settings_for(url, tmp / "test-state"))
        processes: list[subprocess.Popen[bytes]] = []
        try:
            data = seed(platform)
            common = {
                "ASSAY_DATABASE_URL": url,
                "ASSAY_WORKER_POLL_S": "0.2",
                "ASSAY_WORKER_HEARTBEAT_S": "0.5",
                "ASSAY_LOG_LEVEL": "WARNING",
                **(settings or {}),
            }
            started: dict[str, ServeProcess] = {}
            for name, own in servers.items():
                port = free_port()
                env = assay_env({**common, "ASSAY_STATE_DIR": str(tmp / f"state-{name}"), **own})
                log = tmp / f"serve-{name}.log"
                argv = ["serve", "--workers", "0", "--host", "127.0.0.1", "--port", str(port)]
                process = start_assay(argv, env, log)
                processes.append(process)
                started[name] = ServeProcess(name, f"http://127.0.0.1:{port}", process, log)
            worker_env = assay_env(
                {**common, "ASSAY_STATE_DIR": worker_state, "ASSAY_WORKER_SLOTS": "2"}
            )
            worker = start_assay(["worker"], worker_env, tmp / "worker.log")
            processes.append(worker)
            deadline = time.monotonic() + ready_s
            for server in started.values():
                server.wait_ready(deadline)
            yield SeededServers(platform, data, started, worker)
        finally:
            for process in processes:
                stop(process, signal.SIGTERM)
            platform.close()
            shutil.rmtree(worker_state, ignore_errors=True)
