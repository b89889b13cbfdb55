"""A demo to try the platform with: ``assay serve --demo``.

Makes (once; a rerun finds what exists and changes nothing) the course ``demo``
with every example assignment of ``examples/assignments`` (the source checkout's, or
the copy an installed wheel carries: ``default_examples_dir``) published and due in a
week, an instructor ``demo-instructor`` and a student ``demo-student``, and an API
token for the student.

Passwords are generated, not fixed: a demo started with ``--host 0.0.0.0`` must
not be open to anyone who read this file. They are kept, with the student's token,
in ``STATE_DIR/demo-logins.json`` (mode 0600) so every rerun prints the same
ones; if that file is lost, the accounts get new passwords and a new token.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from assay.errors import AuthenticationError, ConfigError, ConflictError
from assay.services.actor import Actor
from assay.services.catalog import assignments, courses, packages
from assay.services.identity import accounts
from assay.services.platform import Platform
from assay.storage.models import Assignment, Role, utcnow

COURSE_CODE = "demo"
COURSE_NAME = "Assay demo course"
INSTRUCTOR = "demo-instructor"
STUDENT = "demo-student"
LOGINS_FILE = "demo-logins.json"
DUE_IN = timedelta(days=7)


class DemoAccount(BaseModel):
    username: str
    password: str
    role: Role


class DemoAssignment(BaseModel):
    id: int
    slug: str
    title: str
    example: Path  # the example package it was made from


class DemoInfo(BaseModel):
    course_code: str
    course_id: int
    accounts: list[DemoAccount]
    assignments: list[DemoAssignment]
    student_token: str
    logins_file: Path

    def lines(self, url: str) -> list[str]:
        """What ``assay serve --demo`` prints, for a server reachable at ``url``."""
        base = url.rstrip("/")
        out = [
            f"Demo course {self.course_code!r}: {len(self.assignments)} assignments, due in a week",
            f"  web UI:     {base}/login  (log in as one of the accounts below)",
            f"  API docs:   {base}/api/v1/docs",
            f"  health:     {base}/healthz  {base}/readyz  {base}/metrics",
        ]
        out += [f"  {a.role.value:<10}  {a.username} / {a.password}" for a in self.accounts]
        out.append(f"  student API token: {self.student_token}")
        if self.assignments:
            pick = next((a for a in self.assignments if a.slug == "python-io"), self.assignments[0])
            out += [
                "  try, as the student:",
                f"    export ASSAY_SERVER={base} ASSAY_TOKEN={self.student_token}",
                f"    assay submit {pick.id} {pick.example}/solution/* --wait",
            ]
        out.append(f"  (logins kept in {self.logins_file})")
        return out


class _Stored(BaseModel):
    passwords: dict[str, str] = {}
    student_token: str = ""


def checkout_examples_dir() -> Path:
    """``examples/assignments`` of the source checkout this code runs from (if it does)."""
    return Path(__file__).resolve().parents[3] / "examples" / "assignments"


def packaged_examples_dir() -> Path:
    """The copy of ``examples/assignments`` that the wheel carries (setup.py puts it
    there at build time; a checkout has none)."""
    return Path(__file__).resolve().parents[1] / "demo_examples"


def default_examples_dir() -> Path:
    """The checkout's examples when running from one (tests and docs edit those), else
    the wheel's copy."""
    checkout = checkout_examples_dir()
    return checkout if checkout.is_dir() else packaged_examples_dir()


class DemoExamplesMissingError(ConfigError):
    """The demo's example assignments are not there (neither a checkout nor the wheel's)."""

    fix = (
        "reinstall Assay from its wheel (which carries them) or run it from a source "
        "checkout; or give it a copy of the checkout's examples/assignments: "
        "assay serve --demo --examples DIR"
    )


def seed_demo(platform: Platform, examples_dir: Path | None = None) -> DemoInfo:
    """Create what is missing of the demo; return its logins and assignments.

    Raises DemoExamplesMissingError (before changing anything) when ``examples_dir``
    (default: ``default_examples_dir()``) holds no package.
    """
    examples = examples_dir or default_examples_dir()
    packages_found = examples.is_dir() and any(examples.glob("*/assignment.toml"))
    if not packages_found:
        raise DemoExamplesMissingError(
            "the demo needs Assay's example assignments (examples/assignments of the source, "
            f"shipped in the wheel as assay/demo_examples); {examples} has none"
        )
    system = Actor.system("demo")
    logins_path = Path(platform.settings.state_dir) / LOGINS_FILE
    stored = _load(logins_path)
    course = _course(platform, system)
    people = [(INSTRUCTOR, Role.INSTRUCTOR), (STUDENT, Role.STUDENT)]
    members = {m.username: m.role for m in courses.list_members(platform, system, course.id)}
    demo_accounts = []
    for username, role in people:
        password = _account(platform, system, username, stored.passwords.get(username))
        stored.passwords[username] = password
        if members.get(username) != role:
            courses.enroll(platform, system, course.id, username, role)
        demo_accounts.append(DemoAccount(username=username, password=password, role=role))
    stored.student_token = _token(platform, system, stored.student_token)
    _save(logins_path, stored)
    due = utcnow() + DUE_IN
    demo_assignments = [
        _assignment(platform, system, course.id, path, due)
        for path in sorted(examples.iterdir())
        if (path / "assignment.toml").is_file()
    ]
    return DemoInfo(
        course_code=course.code,
        course_id=course.id,
        accounts=demo_accounts,
        assignments=demo_assignments,
        student_token=stored.student_token,
        logins_file=logins_path,
    )


def _load(path: Path) -> _Stored:
    try:
        return _Stored.model_validate_json(path.read_text())
    except (OSError, ValidationError):
        return _Stored()


def _save(path: Path, stored: _Stored) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(stored.model_dump(), indent=2))


def _course(platform: Platform, system: Actor) -> courses.CourseOut:
    try:
        return courses.create_course(platform, system, COURSE_CODE, COURSE_NAME)
    except ConflictError:
        return courses.find_course(platform, system, COURSE_CODE)


def _account(platform: Platform, system: Actor, username: str, known: str | None) -> str:
    """The account's password: the stored one if it still works, else a new one."""
    if known:
        try:
            accounts.authenticate(platform, username, known)
        except AuthenticationError:
            pass
        else:
            return known
    password = secrets.token_urlsafe(12)
    try:
        accounts.create_user(platform, system, username, password, display_name=username)
    except ConflictError:
        accounts.set_password(platform, system, username, password)
    return password


def _token(platform: Platform, system: Actor, known: str) -> str:
    if known:
        try:
            accounts.actor_from_token(platform, known)
        except AuthenticationError:
            pass
        else:
            return known
    student = accounts.find_user(platform, system, STUDENT)
    return accounts.create_token_for(platform, system, student.id, "demo").token


def _assignment(
    platform: Platform, system: Actor, course_id: int, path: Path, due: datetime
) -> DemoAssignment:
    data = packages.pack_directory(path)
    summary = packages.validate(data)
    with platform.db.session() as session:
        existing = session.scalar(
            select(Assignment).where(
                Assignment.course_id == course_id, Assignment.slug == summary.name
            )
        )
        if existing is not None:
            return DemoAssignment(
                id=existing.id, slug=existing.slug, title=existing.title, example=path
            )
    created = assignments.create_assignment(
        platform, system, course_id, data, due_at=due, publish=True
    )
    return DemoAssignment(id=created.id, slug=created.slug, title=created.title, example=path)
