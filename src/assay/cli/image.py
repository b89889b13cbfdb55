"""``assay image build|list|prune``: the Docker backend's images of environments.

An environment's image is its built tree imported with ``docker import``
(``assay.sandbox.docker.images``); ``build`` makes sure of both.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assay.cli.console import err, fail
from assay.cli.envbuild import ensure_tree
from assay.config import get_settings
from assay.errors import AssayError
from assay.sandbox.environments import ENVIRONMENTS, Environment
from assay.sandbox.envs.plan import BuildPlan
from assay.sandbox.envs.provider import EnvironmentProvider
from assay.sandbox.envs.resolve import builtin_plans, plan_target, store_from_settings
from assay.sandbox.envs.store import EnvironmentStore
from assay.sandbox.spec import format_size

if TYPE_CHECKING:
    from assay.sandbox.docker.images import EnvironmentImages

app = typer.Typer(
    help="Build and list the Docker backend's images (built locally, never pulled).",
    no_args_is_help=True,
)
out = Console()

StoreOption = Annotated[
    Path | None,
    typer.Option("--store", help="The store directory (default: ASSAY_ENVIRONMENTS_DIR)."),
]


def _docker() -> tuple[ModuleType, ModuleType]:
    """The Docker modules, imported when a command needs them: they load the Docker
    SDK, which would otherwise add a quarter of a second to every ``assay`` call."""
    return (
        importlib.import_module("assay.sandbox.docker.api"),
        importlib.import_module("assay.sandbox.docker.images"),
    )


def _images(store: EnvironmentStore) -> EnvironmentImages:
    api_module, images_module = _docker()
    api = api_module.DockerAPI(get_settings().docker_url)
    images: EnvironmentImages = images_module.EnvironmentImages(api, EnvironmentProvider(store))
    return images


def _plans(targets: list[str] | None) -> list[BuildPlan]:
    return [plan_target(t) for t in targets] if targets else builtin_plans()


@app.command()
def build(
    environments: Annotated[
        list[str] | None,
        typer.Argument(
            help="Built-in environments' names, or spec files or their directories "
            f"(default: every built-in: {', '.join(ENVIRONMENTS)})."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Import again images that exist.")] = False,
    store_dir: StoreOption = None,
) -> None:
    """Build each environment's tree unless stored (needs root), then import it."""
    try:
        store = store_from_settings(get_settings(), store_dir=store_dir)
        plans = _plans(environments)
        images = _images(store)
        try:
            for plan in plans:
                ensure_tree(store, plan, out)
                outcome = images.ensure(Environment(plan), force=force)
                if outcome.imported:
                    out.print(f"{plan.name}: imported as {outcome.image} in "
                              f"{outcome.seconds:.1f} s, {format_size(outcome.size_bytes)}",
                              highlight=False)  # fmt: skip
                else:
                    out.print(f"{plan.name}: image {outcome.image} present", highlight=False)
        finally:
            images.api.close()
    except AssayError as exc:
        raise fail(exc) from exc


@app.command("list")
def list_images(
    environments: Annotated[
        list[str] | None,
        typer.Argument(help="Names or spec paths (default: every built-in)."),
    ] = None,
    store_dir: StoreOption = None,
) -> None:
    """Show each environment's image in the local Docker daemon: key, tree, image."""
    try:
        store = store_from_settings(get_settings(), store_dir=store_dir)
        images = _images(store)
        table = Table("environment", "key", "tree", "image", "status", "size", "created")
        missing = 0
        for plan in _plans(environments):
            row = images.status(Environment(plan))
            tree = "built" if store.meta(plan.key) is not None else "[red]not built[/]"
            status = "[green]present[/]" if row.present else "[red]missing[/]"
            missing += not row.present
            size = format_size(row.size_bytes) if row.present else ""
            table.add_row(escape(plan.name), plan.key[:12], tree, row.image, status, size,
                          row.created[:19])  # fmt: skip
        images.api.close()
    except AssayError as exc:
        raise fail(exc) from exc
    out.print(table)
    if missing:
        err.print("build and import the missing ones with: [bold]assay image build NAME...[/] "
                  "(or let the Docker backend import them when a sandbox first opens)")  # fmt: skip
        raise typer.Exit(1)


@app.command()
def prune(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what would be removed.")
    ] = False,
    store_dir: StoreOption = None,
) -> None:
    """Remove Assay's images no stored tree backs: the old builder's (assay-<name>:N)
    and those of environments removed from the store. Images in use stay."""
    try:
        store = store_from_settings(get_settings(), store_dir=store_dir)
        images = _images(store)
        keep = {plan.key for plan in builtin_plans()}
        stale = images.stale(keep)
        for reference, why in stale:
            if dry_run:
                out.print(f"would remove {reference}: {why}", highlight=False)
                continue
            try:
                images.api.remove_image(reference)
            except AssayError as exc:
                out.print(f"kept {reference}: {exc.message}", highlight=False)
            else:
                out.print(f"removed {reference}: {why}", highlight=False)
        images.api.close()
    except AssayError as exc:
        raise fail(exc) from exc
    if not stale:
        out.print("no stale image")
