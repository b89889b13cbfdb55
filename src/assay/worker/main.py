"""``assay worker``: a worker process for distributed mode.

Runs a ``WorkerPool`` (slots, heartbeats, watchdog) against the configured
database until SIGTERM or SIGINT, then drains: stops claiming, waits for its
running jobs up to ``worker_stop_timeout_s``, hands the jobs still running back to
the queue and kills their sandboxes, and marks itself stopped. A second signal
while draining hands the jobs back at once. Workers do not migrate
the database (many starting at once would race); they wait until the schema is
current, which ``assay serve`` (or ``assay db migrate``) makes it.

Liveness: from its start to its exit the worker keeps a health file fresh
(``worker.health``), which ``assay worker --check`` reads.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from assay.config import Settings
from assay.errors import SandboxUnavailableError, StorageError
from assay.services import Platform
from assay.services.catalog.environments import EnvironmentSharing, share_environments
from assay.services.intake import workers
from assay.worker import health
from assay.worker.pool import WorkerPool

log = logging.getLogger(__name__)

SCHEMA_WAIT_S = 1.0


def wait_for_schema(platform: Platform, stop: threading.Event) -> bool:
    """Block until the database is reachable and migrated; False if stopped first."""
    warned = False
    while not stop.is_set():
        try:
            if platform.db.is_current():
                return True
            reason = "the database schema is not current (start `assay serve` to migrate it)"
        except StorageError as exc:
            reason = f"the database is not reachable: {exc}"
        if not warned:
            log.warning("waiting: %s", reason)
            warned = True
        stop.wait(SCHEMA_WAIT_S)
    return False


def run_worker(settings: Settings, *, slots: int | None = None) -> None:
    """Serve jobs until SIGTERM/SIGINT (call from the main thread).

    Raises SandboxUnavailableError, before claiming anything, if this host cannot
    run the sandbox.
    """
    platform = Platform.open(settings, migrate=False)  # connects on first use only
    health_path = health.health_file(settings)
    try:
        with _starting(health_path, settings.worker_heartbeat_s) as hand_over:
            # before the sandbox check, whose python3 tree an empty store then fetches
            sharing = share_environments(platform)
            problems = workers.sandbox_problems(platform.backend)
            if problems:
                raise SandboxUnavailableError(
                    f"this host cannot run the {settings.grading_backend} sandbox: "
                    + "; ".join(problems),
                    fix="`assay sandbox check` shows each feature",
                )
            _serve(platform, slots, sharing, health_path, hand_over)
    finally:
        health.remove(health_path)
        platform.close()


@contextmanager
def _starting(path: Path, interval_s: float) -> Iterator[Callable[[], None]]:
    """Keep the health file fresh (state ``starting``) until the function given is
    called (the pool's heartbeat takes over) or the block ends."""
    done = threading.Event()

    def beat() -> None:
        while True:
            health.write(path, health.Health(state="starting", pid=os.getpid()))
            if done.wait(interval_s):
                return

    thread = threading.Thread(target=beat, name="assay-starting", daemon=True)
    thread.start()

    def stop() -> None:
        done.set()
        thread.join()

    try:
        yield stop
    finally:
        stop()


def _serve(
    platform: Platform,
    slots: int | None,
    sharing: EnvironmentSharing | None,
    health_path: Path,
    hand_over: Callable[[], None],
) -> None:
    stop = threading.Event()
    pools: list[WorkerPool] = []

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.is_set() and pools:
            log.warning("signal %s again: handing the running jobs back now", name)
            pools[0].hurry()
            return
        log.info("signal %s: draining", name)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    if not wait_for_schema(platform, stop):
        return
    pool = WorkerPool(
        platform, slots, sharing=sharing, health_path=health_path, owns_sandboxes=True
    )
    pools.append(pool)
    hand_over()  # the pool's heartbeat writes the health file from here on
    pool.start()
    stop.wait()
    pool.stop(timeout=platform.settings.worker_stop_timeout_s)
