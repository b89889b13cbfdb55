"""What every ``assay`` command shares: the error console and error exits."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from assay.errors import AssayError, ConfigError

err = Console(stderr=True)

EXIT_USAGE = 2
EXIT_INFRASTRUCTURE = 3


def fail(exc: AssayError) -> typer.Exit:
    """Report an Assay error (with its fix, if it has one); the exit to raise."""
    err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
    fix = getattr(exc, "fix", None)
    if fix and fix not in exc.message:
        err.print(f"[bold]fix:[/] {escape(fix)}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_INFRASTRUCTURE)
