"""The platform commands of the ``assay`` CLI, run as a user runs them.

``user``, ``course`` and ``token`` act on the database of the settings (on SQLite
and PostgreSQL); ``assignment upload`` and ``submit`` talk to a live server over
HTTP with a token; ``ASSAY_CONFIG_FILE`` supplies settings from a file.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.services import Actor, Platform
from assay.services.catalog import courses
from assay.services.identity import accounts
from assay.storage.models import Role
from assay.worker.pool import WorkerPool
from helpers import require_backend
from platform_helpers import (
    DATABASE_KINDS,
    LiveServer,
    database_url,
    free_port,
    open_platform,
    read_until_serving,
    readyz_status,
    settings_for,
)

ASSAY = Path(sys.executable).with_name("assay")
EXAMPLE = Path(__file__).parents[2] / "examples" / "assignments" / "python-io"


def assay(
    *args: str, env: dict[str, str], stdin: str = "", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    # No setting of this process leaks in, but the machine's store of environments'
    # trees (conftest): a state directory of the test's own would otherwise build them.
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ASSAY_") or k == "ASSAY_ENVIRONMENTS_DIR"
    }
    return subprocess.run(
        [str(ASSAY), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=timeout,
        check=False,
    )


@pytest.fixture(params=DATABASE_KINDS)
def local_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    with database_url(request.param, tmp_path) as url:
        yield {"ASSAY_DATABASE_URL": url, "ASSAY_STATE_DIR": str(tmp_path / "state")}


def checking_platform(env: dict[str, str], tmp_path: Path) -> Platform:
    return open_platform(settings_for(env["ASSAY_DATABASE_URL"], tmp_path / "check"))


def test_user_course_and_token_commands(local_env: dict[str, str], tmp_path: Path) -> None:
    made = assay("user", "create", "root", "--admin", "--password-stdin", env=local_env,
                 stdin="correct horse\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout == "created administrator root (id 1)\n"
    student = assay("user", "create", "ann", "--password", "ann-password", env=local_env)
    assert student.returncode == 0, student.stderr
    again = assay("user", "create", "ann", "--password", "ann-password", env=local_env)
    assert again.returncode == 2
    assert "user 'ann' already exists" in again.stderr

    course = assay("course", "create", "cs101", "Introduction", env=local_env)
    assert course.returncode == 0, course.stderr
    enrolled = assay("course", "enroll", "cs101", "ann", "--role", "ta", env=local_env)
    assert enrolled.stdout == "ann is now ta in cs101\n"
    nobody = assay("course", "enroll", "cs101", "nobody", env=local_env)
    assert nobody.returncode == 2
    assert "no user 'nobody'" in nobody.stderr

    token = assay("token", "create", "ann", "--name", "laptop", env=local_env)
    assert token.returncode == 0, token.stderr
    secret = token.stdout.strip()
    assert secret.startswith("assay_")
    assert "shown once" in token.stderr

    platform = checking_platform(local_env, tmp_path)
    try:
        assert accounts.authenticate(platform, "root", "correct horse").is_admin
        ann = accounts.actor_from_token(platform, secret)
        assert ann.username == "ann"
        assert not ann.is_admin
        course_id = courses.find_course(platform, Actor.system(), "cs101").id
        members = courses.list_members(platform, Actor.system(), course_id)
    finally:
        platform.close()
    assert [(m.username, m.role) for m in members] == [("ann", Role.TA)]


def test_settings_come_from_the_config_file_and_the_environment_wins(tmp_path: Path) -> None:
    from_file = tmp_path / "file.db"
    from_env = tmp_path / "env.db"
    config = tmp_path / "assay.env"
    config.write_text(
        f"# Assay settings\nASSAY_DATABASE_URL=sqlite:///{from_file}\n"
        f"ASSAY_STATE_DIR={tmp_path / 'state'}\n"
    )
    file_only = {"ASSAY_CONFIG_FILE": str(config)}
    made = assay("user", "create", "filed", "--password", "password1", env=file_only)
    assert made.returncode == 0, made.stderr
    assert from_file.exists()
    overridden = {**file_only, "ASSAY_DATABASE_URL": f"sqlite:///{from_env}"}
    made = assay("user", "create", "envied", "--password", "password1", env=overridden)
    assert made.returncode == 0, made.stderr
    for path, present, absent in ((from_file, "filed", "envied"), (from_env, "envied", "filed")):
        platform = open_platform(settings_for(f"sqlite:///{path}", tmp_path / "check"))
        try:
            assert accounts.find_user(platform, Actor.system(), present).username == present
            with pytest.raises(Exception, match="no user"):
                accounts.find_user(platform, Actor.system(), absent)
        finally:
            platform.close()
    bad = assay("user", "create", "x", "--password", "password1",
                env={**file_only, "ASSAY_PORT": "not-a-port"})  # fmt: skip
    assert bad.returncode == 2
    assert "invalid settings" in bad.stderr


def test_upload_and_submit_against_a_live_server(tmp_path: Path) -> None:
    require_backend("native", "python3")
    with database_url("sqlite", tmp_path) as url:
        platform = open_platform(settings_for(url, tmp_path / "state", worker_poll_s=0.2))
        system = Actor.system()
        for name in ("teacher", "stu"):
            accounts.create_user(platform, system, name, "password123")
        course = courses.create_course(platform, system, "cs2", "Course")
        courses.enroll(platform, system, course.id, "teacher", Role.INSTRUCTOR)
        courses.enroll(platform, system, course.id, "stu", Role.STUDENT)
        teacher = accounts.authenticate(platform, "teacher", "password123")
        student = accounts.authenticate(platform, "stu", "password123")
        teacher_token = accounts.create_token(platform, teacher, "cli").token
        student_token = accounts.create_token(platform, student, "cli").token
        try:
            with LiveServer(platform) as server, WorkerPool(platform, slots=2):
                as_teacher = {"ASSAY_SERVER": server.url, "ASSAY_TOKEN": teacher_token}
                as_student = {"ASSAY_SERVER": server.url, "ASSAY_TOKEN": student_token}
                _upload(as_teacher, as_student)
                _submit(as_student, server.url)
        finally:
            platform.close()


def _upload(as_teacher: dict[str, str], as_student: dict[str, str]) -> None:
    first = assay("assignment", "upload", str(EXAMPLE), "--course", "cs2", env=as_teacher)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "created assignment 1 'python-io' in cs2 (not published)\n"
    second = assay("assignment", "upload", str(EXAMPLE), "--course", "cs2", "--publish",
                   "--due", "2031-01-02T03:04:00Z", env=as_teacher)  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert second.stdout == "uploaded version 2 of assignment 1 'python-io' in cs2 (published)\n"
    refused = assay("assignment", "upload", str(EXAMPLE), "--course", "cs2", env=as_student)
    assert refused.returncode == 2
    assert "403" in refused.stderr or "404" in refused.stderr
    broken = assay("assignment", "upload", str(EXAMPLE / "solution"), "--course", "cs2",
                   env=as_teacher)  # fmt: skip
    assert broken.returncode == 2
    assert "assignment.toml" in broken.stderr


def _submit(as_student: dict[str, str], url: str) -> None:
    queued = assay("submit", "1", str(EXAMPLE / "solution" / "stats.py"), env=as_student)
    assert queued.returncode == 0, queued.stderr
    assert queued.stdout.startswith("submission 1 queued")

    waited = assay("submit", "1", str(EXAMPLE / "solution"), "--wait", env=as_student)
    assert waited.returncode == 0, waited.stderr
    assert "score: 10 / 10" in waited.stdout
    assert "testing 10/10" in waited.stderr  # the live progress, followed over SSE

    wrong = assay("submit", "1", str(EXAMPLE / "bad" / "wrong-answer" / "stats.py"), "--wait",
                  "--json", env=as_student)  # fmt: skip
    assert wrong.returncode == 0, wrong.stderr
    result = json.loads(wrong.stdout)
    assert result["submission"]["status"] == "graded"
    assert result["report"]["report"]["score"] == 7
    assert result["report"]["staff_view"] is False

    no_token = assay("submit", "1", str(EXAMPLE / "solution"), env={"ASSAY_SERVER": url})
    assert no_token.returncode == 2
    assert "no API token" in no_token.stderr
    dead = {**as_student, "ASSAY_SERVER": f"http://127.0.0.1:{free_port()}"}
    unreachable = assay("submit", "1", str(EXAMPLE / "solution"), env=dead)
    assert unreachable.returncode == 3
    assert "cannot reach" in unreachable.stderr
    missing = assay("submit", "1", "no/such/file.py", env=as_student)
    assert missing.returncode == 2


def test_the_settings_table_in_the_docs_is_current() -> None:
    script = Path(__file__).parents[2] / "scripts" / "settings-table.py"
    check = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr


def _serve_demo(env: dict[str, str], port: int) -> tuple[list[str], int]:
    """Run `assay serve --demo` until it is ready; its printed lines and readiness status."""
    with subprocess.Popen(
        [str(ASSAY), "serve", "--demo", "--workers", "1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}, **env},
    ) as proc:
        try:
            lines = read_until_serving(proc)
            return lines, readyz_status(f"http://127.0.0.1:{port}")
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)


def test_serve_demo_prints_logins_that_work_and_the_same_ones_again(tmp_path: Path) -> None:
    env = {"ASSAY_STATE_DIR": str(tmp_path / "state")}
    port = free_port()
    first, ready = _serve_demo(env, port)
    assert ready == 200
    text = "\n".join(first)
    assert f"Assay is serving at http://127.0.0.1:{port}" in text
    examples = sum(1 for p in EXAMPLE.parent.iterdir() if (p / "assignment.toml").is_file())
    assert f"Demo course 'demo': {examples} assignments, due in a week" in text
    password = re.search(r"demo-student / (\S+)", text)
    token = re.search(r"student API token: (\S+)", text)
    assert password is not None
    assert token is not None
    platform = open_platform(settings_for(f"sqlite:///{tmp_path / 'state' / 'assay.db'}", tmp_path))
    try:
        student = accounts.authenticate(platform, "demo-student", password.group(1))
        assert accounts.actor_from_token(platform, token.group(1)) == student
        course = courses.find_course(platform, student, "demo")
        assert course.role == Role.STUDENT
    finally:
        platform.close()
    again, _ = _serve_demo(env, free_port())
    assert [line for line in again if "/" in line and "demo-" in line] == [
        line for line in first if "/" in line and "demo-" in line
    ]
    assert token.group(0) in "\n".join(again)


def test_serve_demo_without_the_example_assignments_says_what_to_do(tmp_path: Path) -> None:
    """An installed (not checked-out) Assay has no examples/assignments: a usage error."""
    state = tmp_path / "state"
    empty = tmp_path / "examples"
    (empty / "notes").mkdir(parents=True)  # a directory, but no package in it
    for missing in (tmp_path / "nowhere", empty):
        done = assay(
            "serve", "--demo", "--examples", str(missing), "--port", str(free_port()),
            env={"ASSAY_STATE_DIR": str(state)}, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert f"{missing} has none" in done.stderr
        assert "fix: reinstall Assay from its wheel" in done.stderr
        assert "Assay is serving" not in done.stdout
    assert not (state / "demo-logins.json").exists()  # refused before changing anything
