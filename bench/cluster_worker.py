"""One simulated grading machine of the cluster-scale benchmark (bench/cluster_scale.py).

The real ``WorkerPool`` (dispatcher, heartbeat, watchdog threads), the real queue and
the real grading job handler against the configured database (``ASSAY_DATABASE_URL``,
PostgreSQL), as ``assay worker`` runs them, with one difference: the sandbox backend
is ``sleep_backend.SleepBackend``, whose runs only sleep. So a job costs what the
platform costs (claim, progress events, package and files from the database, the
report) and the time a run takes, but no CPU for the run.

Instrumented here, not in src/: every ``claim_many`` call of the pool (the claim
transaction: the read of the queue's depth, then the claiming write transaction with
the runs' start step) is timed, with the number of jobs it took. On SIGTERM the pool
stops as ``assay worker``'s does and the timings are written as JSON to ``--out``:

    {"worker_id": ..., "slots": 8,
     "claims": [[unix_time, seconds, jobs, thread_cpu_s, runqueue_wait_s], ...], ...}

With ``--claim-only`` a GRADE job is finished at once, without grading (the queue's
own work: see ``finish_at_once``), for the queue's ceiling.

With ``--gate FILE`` it gets ready (imports, database reachable), writes
``<out>.ready`` and starts its pool only when FILE exists: the queue-ceiling phase
adds workers in steps without paying their start-up in the measured window.

    ASSAY_DATABASE_URL=postgresql+psycopg://... python bench/cluster_worker.py --out w1.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import update

from assay.config import get_settings
from assay.logs import configure_logging
from assay.queue import ClaimedJob
from assay.services import Platform
from assay.services.intake import workers
from assay.storage.models import GradingRun, JobKind, RunStatus, utcnow
from assay.worker.main import wait_for_schema
from assay.worker.pool import WorkerPool
from sleep_backend import SleepBackend

log = logging.getLogger("cluster_worker")


def thread_schedstat() -> tuple[float, float]:
    """Seconds this thread has run on a CPU and waited in a run queue for one
    (``/proc/thread-self/schedstat``; zeros where the kernel has no schedstats)."""
    try:
        fields = Path("/proc/thread-self/schedstat").read_text().split()
        return int(fields[0]) / 1e9, int(fields[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


class ClaimTimer:
    """Wraps the queue's ``claim_many`` on one platform: times each call, and splits
    its wall time into the dispatcher thread's own CPU, its wait for a CPU (the
    machine is busy) and the rest (waiting for the database, or for the GIL while the
    job threads of the process run)."""

    def __init__(self, platform: Platform) -> None:
        # (unix time, seconds, jobs, thread CPU seconds, run-queue wait seconds)
        self.claims: list[tuple[float, float, int, float, float]] = []
        self._lock = threading.Lock()
        self._claim_many = platform.queue.claim_many
        platform.queue.claim_many = self  # type: ignore[method-assign]  # the pool calls this

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        at = time.time()
        ran, waited = thread_schedstat()
        started = time.perf_counter()
        jobs = self._claim_many(*args, **kwargs)
        took = time.perf_counter() - started
        ran_after, waited_after = thread_schedstat()
        with self._lock:
            self.claims.append((at, took, len(jobs), ran_after - ran, waited_after - waited))
        return jobs


def finish_at_once(platform: Platform, job: ClaimedJob, worker_id: str) -> None:
    """A GRADE job done without grading (``--claim-only``): the job finished and its
    run given a report of nothing, in one transaction, as the real handler's end does.
    So a job costs the queue's work only: the claim (with the runs' start step) and
    the finishing write."""
    with platform.db.session() as session:
        if platform.queue.finish(session, job.id, worker_id):
            session.execute(
                update(GradingRun)
                .where(GradingRun.id == job.target_id, GradingRun.status == RunStatus.RUNNING)
                .values(status=RunStatus.GRADED, score=0.0, max_score=0.0, finished_at=utcnow())
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--out", type=Path, required=True, help="where the timings go (JSON)")
    parser.add_argument("--median-s", type=float, default=0.5, help="median run duration")
    parser.add_argument("--sigma", type=float, default=0.8, help="log-normal shape of runs")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--claim-only", action="store_true", help="finish GRADE jobs without grading them"
    )
    parser.add_argument(
        "--gate",
        type=Path,
        default=None,
        help="ready: write <out>.ready, then start the pool only once this file exists",
    )
    args = parser.parse_args(argv)

    if args.claim_only:
        grade = workers.HANDLERS[JobKind.GRADE]
        workers.HANDLERS[JobKind.GRADE] = dataclasses.replace(grade, run=finish_at_once)
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    backend = SleepBackend(args.median_s, args.sigma, seed=args.seed)
    platform = Platform.open(settings, migrate=False, backend=backend)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    timer = ClaimTimer(platform)
    started = time.time()
    try:
        if not wait_for_schema(platform, stop):
            return 0
        if args.gate is not None:
            args.out.with_suffix(".ready").touch()
            while not args.gate.exists():
                if stop.wait(0.1):
                    return 0
        pool = WorkerPool(platform, args.slots).start()
        stop.wait()
        pool.stop(timeout=settings.worker_stop_timeout_s)
        figures = {
            "worker_id": pool.worker_id,
            "pid": os.getpid(),
            "slots": pool.slots,
            "started": started,
            "stopped": time.time(),
            "jobs_done": pool.jobs_done,
            "claims": timer.claims,
        }
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(figures))
        tmp.replace(args.out)
    finally:
        platform.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
