"""The ``assay`` command."""

from __future__ import annotations

import logging

import typer
from pydantic import ValidationError

from assay import __version__
from assay.cli import (
    assignment,
    courses,
    grade,
    image,
    sandbox,
    serve,
    submit,
    tokens,
    users,
    worker,
)
from assay.config import get_settings
from assay.logs import FORMATS, configure_logging

app = typer.Typer(
    name="assay",
    help="Assay: safe, fast execution and grading of untrusted student code.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(image.app, name="image")
app.add_typer(assignment.app, name="assignment")
app.command("grade")(grade.grade_command)
app.add_typer(users.app, name="user")
app.add_typer(courses.app, name="course")
app.add_typer(tokens.app, name="token")
app.command("submit")(submit.submit_command)
app.command("serve")(serve.serve_command)
app.command("worker")(worker.worker_command)


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


def _log_format() -> str:
    try:
        log_format = get_settings().log_format
    except ValidationError:
        return "console"  # the command that needs the settings reports them
    return log_format if log_format in FORMATS else "console"
