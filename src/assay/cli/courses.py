"""``assay course create | enroll``: courses, on the server's own database."""

from __future__ import annotations

from typing import Annotated

import typer

from assay.cli.local import local_platform
from assay.services.catalog import courses
from assay.storage.models import Role

app = typer.Typer(help="Manage courses (on this machine's database).", no_args_is_help=True)


@app.command("create")
def create(
    code: Annotated[str, typer.Argument(help="Short unique code, e.g. cs101-2026.")],
    name: Annotated[str, typer.Argument(help="The course's name.")],
) -> None:
    """Create a course."""
    with local_platform() as (platform, system):
        course = courses.create_course(platform, system, code, name)
    typer.echo(f"created course {course.code} (id {course.id})")


@app.command("enroll")
def enroll(
    code: Annotated[str, typer.Argument(help="The course's code.")],
    username: Annotated[str, typer.Argument(help="The user to enroll.")],
    role: Annotated[Role, typer.Option("--role", help="Their role in the course.")] = Role.STUDENT,
) -> None:
    """Add a user to a course, or change their role in it."""
    with local_platform() as (platform, system):
        course = courses.find_course(platform, system, code)
        member = courses.enroll(platform, system, course.id, username, role)
    typer.echo(f"{member.username} is now {member.role.value} in {course.code}")
