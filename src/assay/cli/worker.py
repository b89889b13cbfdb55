"""``assay worker``: run grading and execution jobs from the shared database."""

from __future__ import annotations

from typing import Annotated

import typer

from assay.cli.console import fail
from assay.config import get_settings
from assay.errors import ConfigError, SandboxUnavailableError
from assay.logs import configure_logging
from assay.worker import health
from assay.worker.main import run_worker


def worker_command(
    slots: Annotated[
        int | None,
        typer.Option(
            "--slots", min=0, help="Jobs run at a time (default: ASSAY_WORKER_SLOTS; 0 = auto)."
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Do not work: exit 0 if this host's worker is alive (its health file is "
            "fresh), else 1 (a container health check or liveness probe).",
        ),
    ] = False,
    max_age: Annotated[
        float | None,
        typer.Option(
            "--max-age",
            min=0,
            help="With --check: the oldest heartbeat that counts as alive, in seconds "
            f"(default: {health.MISSED_BEATS} heartbeat intervals, at least "
            f"{health.MIN_MAX_AGE_S:.0f} s).",
        ),
    ] = None,
) -> None:
    """Take jobs from the queue until SIGTERM or Ctrl-C (distributed mode).

    Point it at the server's database with ASSAY_DATABASE_URL (PostgreSQL) and
    give it the same ASSAY_STATE_DIR layout; it needs the sandbox (root) like
    `assay grade`. SIGTERM drains: no new jobs, running ones finish within
    ASSAY_WORKER_STOP_TIMEOUT_S, the rest go back to the queue.
    """
    settings = get_settings()
    if check:
        healthy, why = health.check(
            health.health_file(settings), health.max_age_s(settings) if max_age is None else max_age
        )
        typer.echo(why, err=not healthy)
        raise typer.Exit(0 if healthy else 1)
    configure_logging(settings.log_format, settings.log_level)
    try:
        run_worker(settings, slots=slots)
    except (SandboxUnavailableError, ConfigError) as exc:  # ConfigError: the database URL
        raise fail(exc) from exc
