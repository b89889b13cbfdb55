"""``assay user create``: local accounts, on the server's own database."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from assay.cli.console import fail
from assay.cli.local import local_platform
from assay.errors import InvalidRequestError
from assay.services.identity import accounts

app = typer.Typer(help="Manage accounts (on this machine's database).", no_args_is_help=True)


def read_password(password: str | None, from_stdin: bool) -> str:
    if password is not None and from_stdin:
        raise fail(InvalidRequestError("give --password or --password-stdin, not both"))
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if password is not None:
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="Login name.")],
    admin: Annotated[bool, typer.Option("--admin", help="An administrator.")] = False,
    password: Annotated[
        str | None,
        typer.Option("--password", help="The password (visible to other users' `ps`)."),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    display_name: Annotated[str, typer.Option("--display-name", help="Full name.")] = "",
    email: Annotated[str, typer.Option("--email")] = "",
) -> None:
    """Create a local account; asks for the password unless one is given."""
    secret = read_password(password, password_stdin)
    with local_platform() as (platform, system):
        user = accounts.create_user(
            platform,
            system,
            username,
            secret,
            display_name=display_name,
            email=email,
            is_admin=admin,
        )
    kind = "administrator" if user.is_admin else "user"
    typer.echo(f"created {kind} {user.username} (id {user.id})")
