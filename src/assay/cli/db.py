"""``assay db migrate | check``: the database schema, as a step of its own.

``assay serve`` migrates at start (several servers starting together take turns: the
migration runs under a lock, see ``Database.migrate``); ``assay worker`` never
migrates, it waits for a current schema. ``assay db migrate`` does the migration
without serving, as the first step of an upgrade (docs/deploy.md, Upgrades);
``assay db check`` says whether this Assay can use the schema (exit 0) or it needs
migrating (exit 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from assay.cli.console import fail
from assay.cli.local import load_settings
from assay.errors import AssayError
from assay.storage.db import Database, SchemaState

app = typer.Typer(help="Migrate and check the database schema.", no_args_is_help=True)


def _database() -> Database:
    settings = load_settings()
    try:
        return Database(
            settings.resolved_database_url,
            busy_timeout_s=settings.sqlite_busy_timeout_s,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
    except AssayError as exc:  # a URL that cannot be used
        raise fail(exc) from None


@contextmanager
def _opened() -> Iterator[Database]:
    """The configured database, disposed of afterwards; an Assay error while it is
    used ends the command with that error."""
    db = _database()
    try:
        yield db
    except AssayError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()


@app.command("migrate")
def migrate() -> None:
    """Bring the schema to the newest migration (waits while another process migrates)."""
    with _opened() as db:
        before, after = db.migrate()
        state = db.schema_state()
    if state is SchemaState.AHEAD:
        typer.echo(f"left as it is: revision {after} is newer than this Assay knows")
    elif before == after:
        typer.echo(f"the schema was current already (revision {after})")
    else:
        typer.echo(f"migrated the schema from revision {before or 'none'} to {after}")


@app.command("check")
def check() -> None:
    """Exit 0 if this Assay can use the schema (at its newest migration, or at a newer
    one a newer release made), 1 if it needs migrating."""
    with _opened() as db:
        state = db.schema_state()
        current, head = db.revisions()
    if state is SchemaState.BEHIND:
        typer.echo(f"the schema is at revision {current or 'none'}; this Assay needs {head}")
        raise typer.Exit(1)
    if state is SchemaState.AHEAD:
        typer.echo(f"the schema is at revision {current}, newer than this Assay's {head}")
    else:
        typer.echo(f"the schema is current (revision {head})")
