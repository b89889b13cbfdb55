"""``assay env list|build|check|publish|rm|gc``: the store of built environments."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assay.cli.console import EXIT_INFRASTRUCTURE, err, fail
from assay.cli.envbuild import ensure_tree
from assay.cli.local import local_platform
from assay.config import get_settings
from assay.errors import AssayError, ConfigError, UnknownEnvironmentError
from assay.sandbox.envs.builtin import BUILTIN_SPECS
from assay.sandbox.envs.check import run_probe
from assay.sandbox.envs.plan import BuildPlan
from assay.sandbox.envs.resolve import builtin_plans, plan_target, store_from_settings
from assay.sandbox.envs.store import EnvironmentStore, Removal
from assay.sandbox.spec import format_size
from assay.services.catalog import environments as shared

app = typer.Typer(
    help="List, build, check and remove environments (root filesystems built from a spec).",
    no_args_is_help=True,
)
out = Console()

_DAY_S = 86400.0

StoreOption = Annotated[
    Path | None,
    typer.Option("--store", help="The store directory (default: ASSAY_ENVIRONMENTS_DIR)."),
]
Target = Annotated[
    str, typer.Argument(help="A built-in environment's name, or a spec file or its directory.")
]


def _store(store_dir: Path | None) -> EnvironmentStore:
    return store_from_settings(get_settings(), store_dir=store_dir)


def _plan(target: str) -> BuildPlan:
    """The plan of what the user named; a name that is no environment is a usage
    error (exit 2, as a bad spec is), not an infrastructure one."""
    try:
        return plan_target(target)
    except UnknownEnvironmentError as exc:
        raise ConfigError(exc.message) from exc


def _age(iso: str) -> str:
    seconds = (datetime.now(UTC) - datetime.fromisoformat(iso)).total_seconds()
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < _DAY_S:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / _DAY_S:.0f} days ago"


@app.command("list")
def list_environments(store_dir: StoreOption = None) -> None:
    """Show the built-in environments and every stored one: key, size, last use."""
    try:
        store = _store(store_dir)
        builtins = builtin_plans()
        table = Table("name", "key", "status", "size", "last used", "from")
        listed: set[str] = set()
        for plan in builtins:
            meta = store.meta(plan.key)
            listed.add(plan.key)
            if meta is None:
                table.add_row(plan.name, plan.key[:12], "[red]not built[/]", "", "", "built-in")
            else:
                size, used = format_size(meta.size_bytes), _age(meta.last_used)
                table.add_row(plan.name, plan.key[:12], "[green]built[/]", size, used, "built-in")
        for meta in store.entries():
            if meta.key not in listed:
                table.add_row(escape(meta.name), meta.key[:12], "[green]built[/]",
                              format_size(meta.size_bytes), _age(meta.last_used),
                              escape(meta.origin))  # fmt: skip
    except AssayError as exc:
        raise fail(exc) from exc
    out.print(table)
    out.print(f"store: {store.root}", highlight=False)


@app.command()
def build(
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="Built-in environments' names, or spec files or their directories."),
    ] = None,
    builtins: Annotated[
        bool, typer.Option("--builtins", help="Every built-in environment too.")
    ] = False,
    store_dir: StoreOption = None,
) -> None:
    """Build environments the store lacks; print each one's key, time and size."""
    names = [*(sorted(BUILTIN_SPECS) if builtins else []), *(targets or [])]
    if not names:
        err.print("[bold red]error:[/] name environments to build, or give --builtins")
        raise typer.Exit(2)
    try:
        store = _store(store_dir)
        for target in names:
            ensure_tree(store, _plan(target), out)
    except AssayError as exc:
        raise fail(exc) from exc


@app.command()
def check(target: Target, store_dir: StoreOption = None) -> None:
    """Run the environment's probe in its built tree (read-only /, no network)."""
    try:
        plan = _plan(target)
        store = _store(store_dir)
        rootfs = store.lookup(plan.key)
        if rootfs is None:
            err.print(f"[bold red]error:[/] {escape(plan.name)} is not built; build it with: "
                      f"[bold]assay env build {escape(target)}[/]")  # fmt: skip
            raise typer.Exit(EXIT_INFRASTRUCTURE)
        done = run_probe(rootfs, plan.probe, plan.env, bwrap=get_settings().bwrap)
    except AssayError as exc:
        raise fail(exc) from exc
    output = done.stdout.decode("utf-8", errors="replace").rstrip()
    command = " ".join(plan.probe)
    if output:
        out.print(escape(output), highlight=False)
    if done.returncode != 0:
        err.print(f"[bold red]probe failed[/] ({escape(command)}: status {done.returncode})")
        raise typer.Exit(1)
    out.print(f"[green]ok[/] {escape(plan.name)}: {escape(command)}", highlight=False)


@app.command()
def publish(
    targets: Annotated[
        list[str],
        typer.Argument(help="Built-in environments' names, or spec files or their directories."),
    ],
    store_dir: StoreOption = None,
) -> None:
    """Publish environments to the platform's database (ASSAY_DATABASE_URL, PostgreSQL),
    where workers on other machines fetch what they lack; builds what the store lacks
    first. One already published is left as it is."""
    try:  # every name is known before the database is opened (and migrated)
        store = _store(store_dir)
        plans = [_plan(target) for target in targets]
    except AssayError as exc:
        raise fail(exc) from exc
    with local_platform() as (platform, _system):
        if platform.db.is_sqlite:
            err.print(
                "[bold red]error:[/] publishing needs the platform's shared database: "
                "set ASSAY_DATABASE_URL (PostgreSQL)"
            )
            raise typer.Exit(2)
        for plan in plans:
            ensure_tree(store, plan, out)
            info = shared.publish(platform.db, store, plan.key)
            if info is None:
                out.print(f"{plan.name}: published already", highlight=False)
            else:
                size = format_size(info.size_bytes)
                out.print(
                    f"{plan.name}: published, a {size} archive in {info.chunks} chunks",
                    highlight=False,
                )


@app.command("rm")
def remove(
    target: Annotated[
        str, typer.Argument(help="A key (or its first 6+ characters), a name or a spec path.")
    ],
    store_dir: StoreOption = None,
) -> None:
    """Remove one environment from the store (not while it is in use or being built)."""
    try:
        store = _store(store_dir)
        try:
            key = plan_target(target).key
        except UnknownEnvironmentError:  # neither a name nor a path: a key
            key = store.resolve_key(target)
        meta = store.meta(key)
        removal = store.remove(key, wait=False)
        if removal is not Removal.REMOVED:
            why = "is not built" if removal is Removal.ABSENT else "is in use (or being built)"
            err.print(f"[bold red]error:[/] {escape(target)} ({key[:12]}) {why}")
            raise typer.Exit(1)
    except AssayError as exc:
        raise fail(exc) from exc
    freed = format_size(meta.size_bytes) if meta else "?"
    out.print(f"removed {escape(meta.name if meta else target)} ({key[:12]}), {freed} freed",
              highlight=False)  # fmt: skip


@app.command()
def gc(
    days: Annotated[
        float, typer.Option("--days", min=0, help="Remove environments unused for this long.")
    ] = 30.0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what would be removed.")
    ] = False,
    store_dir: StoreOption = None,
) -> None:
    """Remove environments unused for DAYS days (and older failed logs); built-ins stay."""
    try:
        store = _store(store_dir)
        keep = {plan.key for plan in builtin_plans()}
        stale = store.stale(days * _DAY_S, keep)
        freed = 0
        for meta in stale:
            verb = "would remove" if dry_run else "removing"
            out.print(f"{verb} {escape(meta.name)} ({meta.key[:12]}), "
                      f"{format_size(meta.size_bytes)}, last used {_age(meta.last_used)}",
                      highlight=False)  # fmt: skip
            if dry_run:
                continue
            if store.remove(meta.key, wait=False) is Removal.REMOVED:
                freed += meta.size_bytes
            else:
                out.print(f"kept {escape(meta.name)} ({meta.key[:12]}): in use", highlight=False)
        if not dry_run:
            for path in store.sweep(failed_older_than_s=days * _DAY_S):
                out.print(f"removed leftover {path.name}", highlight=False)
    except AssayError as exc:
        raise fail(exc) from exc
    if not stale:
        out.print(f"nothing unused for {days:g} days")
    elif not dry_run:
        out.print(f"{format_size(freed)} freed")
