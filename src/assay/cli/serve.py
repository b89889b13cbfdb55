"""``assay serve``: the API and (embedded mode) the workers in one process."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import uvicorn

from assay.cli.console import fail
from assay.cli.demo import seed_demo
from assay.config import get_settings
from assay.errors import AssayError, ConfigError
from assay.logs import configure_logging
from assay.services import Platform
from assay.web.app import create_app
from assay.worker.pool import WorkerPool


def serve_command(
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            help="Worker slots in this process (default: ASSAY_WORKER_SLOTS, 0 there = auto). "
            "--workers 0: API only; run `assay worker` processes instead.",
        ),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Create a demo course, assignments and accounts; print the logins."
        ),
    ] = False,
    examples: Annotated[
        Path | None,
        typer.Option(
            "--examples",
            help="With --demo: the example assignments to publish "
            "(default: the source checkout's examples/assignments, or the wheel's copy).",
        ),
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on.")] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=0, max=65535, help="Port to listen on.")
    ] = None,
) -> None:
    """Serve the HTTP API (migrating the database first) with embedded workers."""
    settings = get_settings()
    updates: dict[str, object] = {}
    if host is not None:
        updates["host"] = host
    if port is not None:
        updates["port"] = port
    settings = settings.model_copy(update=updates)
    configure_logging(settings.log_format, settings.log_level)
    try:
        platform = Platform.open(settings)  # migrates
    except AssayError as exc:  # a database URL that cannot be used, or not reached
        raise fail(exc) from None
    try:
        url = settings.public_url or f"http://{settings.host}:{settings.port}"
        if demo:
            try:
                info = seed_demo(platform, examples)
            except ConfigError as exc:
                raise fail(exc) from None  # exit 2, with what to do
            for line in info.lines(url):
                typer.echo(line)
        app = create_app(platform)
        pool = WorkerPool(platform, workers, owns_sandboxes=True) if workers != 0 else None
        app.state.embedded_workers = pool.slots if pool is not None else 0
        if pool is not None:
            pool.start()
        mode = f"{pool.slots} embedded worker slots" if pool else "no embedded workers"
        typer.echo(f"Assay is serving at {url}  (API docs: {url}/api/v1/docs; {mode})")
        try:
            config = uvicorn.Config(
                app,
                host=settings.host,
                port=settings.port,
                log_config=None,
                access_log=False,
            )
            # uvicorn re-raises the SIGTERM/SIGINT it stopped on once it is done; with
            # these handlers that lands here, so the workers below still drain cleanly
            # (and a signal while they drain hands their jobs back at once).
            stopping = _Stopping(pool)
            signal.signal(signal.SIGTERM, stopping.on_signal)
            signal.signal(signal.SIGINT, stopping.on_signal)
            _Server(config, pool).run()
        finally:
            if pool is not None:
                pool.stop()
    finally:
        platform.close()


class _Server(uvicorn.Server):
    """uvicorn's server; its first SIGTERM/SIGINT also makes the embedded workers
    stop claiming at once (their drain runs while the HTTP side shuts down), a
    second one while they drain hands their jobs back."""

    def __init__(self, config: uvicorn.Config, pool: WorkerPool | None) -> None:
        super().__init__(config)
        self.pool = pool

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.pool is not None:
            if self.pool.draining:
                self.pool.hurry()
            self.pool.drain()
        super().handle_exit(sig, frame)


class _Stopping:
    def __init__(self, pool: WorkerPool | None) -> None:
        self.pool = pool
        self.seen = 0

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        self.seen += 1
        if self.pool is not None and self.seen > 1:
            typer.echo(f"{name}: handing the workers' running jobs back now", err=True)
            self.pool.hurry()
            return
        typer.echo(f"{name}: draining the workers", err=True)
