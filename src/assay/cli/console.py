"""What every ``assay`` command shares: the error console and error exits."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from assay.errors import AssayError, ConfigError, StorageError

err = Console(stderr=True)

EXIT_USAGE = 2
EXIT_INFRASTRUCTURE = 3


def fail(exc: AssayError) -> typer.Exit:
    """Report an Assay error (with its fix, if it has one); the exit to raise."""
    message = _storage_reason(exc) or exc.message
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    fix = getattr(exc, "fix", None)
    if fix and fix not in exc.message:
        err.print(f"[bold]fix:[/] {escape(fix)}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_INFRASTRUCTURE)


def _storage_reason(exc: AssayError) -> str | None:
    """A database failure as the operator needs it, in one line: what failed and the
    driver's own reason (refused, unknown host, bad password, not a database), without
    SQLAlchemy's SQL and link, and without the web's "try again soon"."""
    if not isinstance(exc, StorageError) or exc.what is None or exc.reason is None:
        return None
    return f"{exc.what}: {exc.reason}"
