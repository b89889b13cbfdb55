"""A seeded platform behind a live HTTP server, for the API tests.

``seeded_api(kind, tmp_path)`` yields an ``Api``: a course ``cs101`` with an
instructor, a TA and two students (each with an API token), a published
``python-io`` assignment, and a second course whose member is ``outsider``.
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from assay.services import Actor, Platform
from assay.services.catalog import assignments, courses, packages
from assay.services.identity import accounts
from assay.storage.models import Role
from platform_helpers import LiveServer, database_url, open_platform, settings_for

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
