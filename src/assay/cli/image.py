"""``assay image build`` and ``assay image list``: the Docker backend's images."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from assay.cli.console import EXIT_INFRASTRUCTURE, err, fail
from assay.errors import AssayError
from assay.sandbox.docker.constants import DEFAULT_CACHE_DIR
from assay.sandbox.environments import ENVIRONMENTS
from assay.sandbox.spec import format_size

if TYPE_CHECKING:
    from assay.sandbox.docker.images import BuildEvent

app = typer.Typer(
    help="Build and list the Docker backend's images (built locally, never pulled).",
    no_args_is_help=True,
)
out = Console()

_DETAIL_WIDTH = 70


def _images() -> ModuleType:
    """The image builder, imported when a command needs it: it loads the Docker
    SDK, which would otherwise add a quarter of a second to every ``assay`` call."""
    return importlib.import_module("assay.sandbox.docker.images")


@app.command()
def build(
    environments: Annotated[
        list[str] | None,
        typer.Argument(help=f"Environments to build (default: all of {', '.join(ENVIRONMENTS)})."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild images that exist (cached trees reused).")
    ] = False,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Also rebuild the cached Debian trees.")
    ] = False,
    mirror: Annotated[
        str | None, typer.Option(help="Debian mirror (default: this host's apt sources).")
    ] = None,
    cache_dir: Annotated[
        Path, typer.Option(help="Where Debian trees are cached.")
    ] = DEFAULT_CACHE_DIR,
) -> None:
    """Build environment images with debootstrap and docker import (needs root)."""
    images = _images()
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[image]}[/]"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def report(event: BuildEvent) -> None:
            if event.image not in tasks:
                tasks[event.image] = progress.add_task("", image=event.image, total=None)
            task = tasks[event.image]
            if event.detail:
                progress.update(task, description=f"{event.step}: {event.detail[:_DETAIL_WIDTH]}")
            elif event.step == "done" or event.step.startswith("present"):
                progress.update(task, description=event.step, total=1, completed=1)
            else:
                progress.update(task, description=event.step)
                progress.console.print(f"{event.image}: {event.step}", highlight=False)

        try:
            rows = images.build_images(
                environments or None,
                force=force,
                fresh=fresh,
                progress=report,
                cache_dir=cache_dir,
                mirror=mirror,
            )
        except AssayError as exc:
            raise fail(exc) from exc
    missing = [r.image for r in rows if not r.present]
    if missing:
        err.print(f"[bold red]not built:[/] {', '.join(missing)}")
        raise typer.Exit(EXIT_INFRASTRUCTURE)


@app.command("list")
def list_images() -> None:
    """Show which environment images exist in the local Docker daemon."""
    try:
        rows = _images().image_status()
    except AssayError as exc:
        raise fail(exc) from exc
    table = Table("environment", "image", "status", "id", "size", "created")
    for row in rows:
        status = "[green]present[/]" if row.present else "[red]missing[/]"
        size = format_size(row.size_bytes) if row.present else ""
        table.add_row(row.environment, row.image, status, row.image_id, size, row.created[:19])
    out.print(table)
    if not all(r.present for r in rows):
        err.print("build the missing images with: [bold]assay image build[/]")
        raise typer.Exit(1)
