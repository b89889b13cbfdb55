"""What every ``assay`` command shares: the error console and error exits."""

from __future__ import annotations

import typer
from rich.console import Console

from assay.errors import AssayError, ConfigError

err = Console(stderr=True)

EXIT_USAGE = 2
EXIT_INFRASTRUCTURE = 3


def fail(exc: AssayError) -> typer.Exit:
    """Report an Assay error (with its fix, if it has one); the exit to raise."""
    err.print(f"[bold red]error:[/] {exc.message}", highlight=False)
    fix = getattr(exc, "fix", None)
    if fix:
        err.print(f"[bold]fix:[/] {fix}", highlight=False)
    return typer.Exit(EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_INFRASTRUCTURE)
