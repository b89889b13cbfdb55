"""The ``assay`` command."""

from __future__ import annotations

import logging
from typing import Any

import typer
from pydantic import ValidationError

# typer (pinned) vendors its own click and exports no public name for its Context.
from typer._click import Context

from assay import __version__
from assay.cli.console import fail
from assay.cli.lazy import LazyCommand, lazy_group
from assay.config import Settings, get_settings, invalid_settings, unknown_settings
from assay.errors import ConfigError
from assay.logs import FORMATS, configure_logging

log = logging.getLogger("assay.config")

# Each command's module (and what it imports: the web app, SQLAlchemy, the sandbox)
# loads only when that command runs, so `assay --version` and `assay grade` start fast.
COMMANDS = {
    "grade": LazyCommand(
        "assay.cli.grade:grade_command", "Grade SUBMISSION against the ASSIGNMENT package."
    ),
    "submit": LazyCommand(
        "assay.cli.submit:submit_command", "Submit files for an assignment to an Assay server."
    ),
    "serve": LazyCommand(
        "assay.cli.serve:serve_command",
        "Serve the HTTP API (migrating the database first) with embedded workers.",
    ),
    "worker": LazyCommand(
        "assay.cli.worker:worker_command",
        "Take jobs from the queue until SIGTERM or Ctrl-C (distributed mode).",
    ),
    "sandbox": LazyCommand(
        "assay.cli.sandbox:app", "Run commands in a sandbox and check this host's isolation."
    ),
    "image": LazyCommand(
        "assay.cli.image:app",
        "Build and list the Docker backend's images (built locally, never pulled).",
    ),
    "env": LazyCommand(
        "assay.cli.env:app",
        "List, build, check and remove environments (root filesystems built from a spec).",
    ),
    "assignment": LazyCommand(
        "assay.cli.assignment:app", "Create, check and import assignment packages."
    ),
    "db": LazyCommand("assay.cli.db:app", "Migrate and check the database schema."),
    "user": LazyCommand("assay.cli.users:app", "Manage accounts (on this machine's database)."),
    "course": LazyCommand("assay.cli.courses:app", "Manage courses (on this machine's database)."),
    "token": LazyCommand("assay.cli.tokens:app", "Manage API tokens (on this machine's database)."),
}


class _Assay(lazy_group(COMMANDS)):  # type: ignore[misc]
    """The ``assay`` group: a command that reads settings which are not valid (the
    settings are read where they are needed: `assay submit` does not) ends with one
    line naming each bad variable, exit 2, instead of pydantic's traceback."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            if exc.title != Settings.__name__:
                raise
            raise fail(ConfigError(invalid_settings(exc))) from None


app = typer.Typer(
    name="assay",
    cls=_Assay,
    help="Assay: safe, fast execution and grading of untrusted student code.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"assay {__version__}")
        raise typer.Exit


@app.callback()
def main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug details."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    # Commands that run a service (serve, worker) reconfigure with the settings' level.
    configure_logging(_log_format(), logging.DEBUG if verbose else logging.WARNING)
    # A misspelt ASSAY_* variable would otherwise leave its setting at the default unseen.
    for unknown in unknown_settings():
        log.warning("%s", unknown.message())


def _log_format() -> str:
    try:
        log_format = get_settings().log_format
    except ValidationError:
        return "console"  # the command that needs the settings reports them
    return log_format if log_format in FORMATS else "console"
