"""What the commands acting on this machine's database share.

``assay user | course | token`` open the database named by the settings
(``ASSAY_DATABASE_URL``, default SQLite in ``ASSAY_STATE_DIR``) and act as the
system actor: whoever can run them on the server already holds its files.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from pydantic import ValidationError
from rich.markup import escape

from assay.cli.console import EXIT_USAGE, err, fail
from assay.config import Settings, get_settings, invalid_settings
from assay.errors import AssayError, ConfigError, ServiceError
from assay.services import Actor, Platform


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        raise fail(ConfigError(invalid_settings(exc))) from None


@contextmanager
def local_platform() -> Iterator[tuple[Platform, Actor]]:
    """The platform (schema migrated) and the system actor; Assay errors become exits."""
    try:
        platform = Platform.open(load_settings())
    except AssayError as exc:
        raise fail(exc) from None
    try:
        yield platform, Actor.system("cli")
    except ServiceError as exc:  # a refusal (exists already, no such user): exit 2
        err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except AssayError as exc:
        raise fail(exc) from None
    finally:
        platform.close()
