"""``assay token create``: API tokens for a user, on the server's own database."""

from __future__ import annotations

from typing import Annotated

import typer

from assay.cli.console import err
from assay.cli.local import local_platform
from assay.services.identity import accounts

app = typer.Typer(help="Manage API tokens (on this machine's database).", no_args_is_help=True)


@app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="Whose token.")],
    name: Annotated[str, typer.Option("--name", help="What the token is for.")],
    ttl_days: Annotated[
        int | None, typer.Option("--ttl-days", min=1, help="Expire after this many days.")
    ] = None,
) -> None:
    """Create a bearer token; prints it once (only its hash is stored)."""
    with local_platform() as (platform, system):
        user = accounts.find_user(platform, system, username)
        token = accounts.create_token_for(platform, system, user.id, name, ttl_days=ttl_days)
    err.print(f"token {token.name!r} for {username} (shown once; keep it secret):")
    typer.echo(token.token)
