"""``assay worker``: run grading and execution jobs from the shared database."""

from __future__ import annotations

from typing import Annotated

import typer

from assay.cli.console import fail
from assay.config import get_settings
from assay.errors import SandboxUnavailableError
from assay.logs import configure_logging
from assay.worker.main import run_worker


def worker_command(
    slots: Annotated[
        int | None,
        typer.Option(
            "--slots", min=0, help="Jobs run at a time (default: ASSAY_WORKER_SLOTS; 0 = auto)."
        ),
    ] = None,
) -> None:
    """Take jobs from the queue until SIGTERM or Ctrl-C (distributed mode).

    Point it at the server's database with ASSAY_DATABASE_URL (PostgreSQL) and
    give it the same ASSAY_STATE_DIR layout; it needs the sandbox (root) like
    `assay grade`.
    """
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    try:
        run_worker(settings, slots=slots)
    except SandboxUnavailableError as exc:
        raise fail(exc) from exc
