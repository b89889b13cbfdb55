"""The ``assay`` command."""

from __future__ import annotations

import logging

import typer

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
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
