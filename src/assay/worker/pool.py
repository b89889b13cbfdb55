"""A pool of worker threads in this process: claim jobs, run them, keep them alive.

One ``WorkerPool`` is one registered worker (a ``Worker`` row) running up to
``slots`` jobs at a time. One dispatcher thread claims a job from the durable
queue whenever a slot is free and runs it on a thread of its own, so an idle
pool makes one claim per poll interval however many slots it has (many slots
are cheap: with the native CPU scheduler, a job that waits for a core costs a
thread and its sandbox's workspace), and many idle pools share the polling
(``idle_poll_s``: the heartbeat says how many there are). A heartbeat thread
records that the worker is alive and extends the leases of its running jobs; a watchdog thread
re-queues the jobs of dead workers and removes the sandboxes they left (see
``services.workers.watchdog``).

Lanes: bulk jobs (regrades) never take all the slots; one is always kept for
the interactive lane, so a student's submission starts at once during a regrade
of a whole course (unless the pool has a single slot).

Timeout checker: a job running longer than ``job_timeout_s`` is reported and its
lease is no longer extended, so the watchdog re-queues it (or fails it when out
of attempts); if its thread ever finishes, its result is dropped because the
job is no longer its own.

Draining (``stop``, on SIGTERM): the dispatcher stops claiming at once; running
jobs get up to ``worker_stop_timeout_s`` to finish (heartbeats go on extending
their leases meanwhile; ``hurry`` cuts the wait short); the jobs still running
then are HANDED BACK (``workers.hand_back``: queued again at once, attempt not
used, nothing recorded), and only after that are their sandboxes killed (a pool
that owns its process's sandboxes), so a run cut short can never be recorded: its
job is no longer this worker's when its thread tries to finish it. A hand-back
racing with the job's own finish resolves to exactly one of them (both update the
job's row on condition that this worker owns it).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from assay.config import Settings
from assay.errors import AssayError, StorageError
from assay.logs import log_context
from assay.queue import ClaimedJob
from assay.services.catalog.environments import EnvironmentSharing, share_environments
from assay.services.intake import workers
from assay.services.platform import Platform
from assay.storage.models import Lane
from assay.worker import health

log = logging.getLogger(__name__)

AUTO_SLOTS_PER_CORE = 2
SCHEDULED_SLOTS_PER_CORE = 64
# With the CPU scheduler, a claimed job that waits (or is frozen) costs a thread, its
# workspace (a tmpfs: only what it holds) and at most its sandbox's memory limit
# (admission waits for MemAvailable before a run starts). One slot per this much RAM:
SCHEDULED_SLOT_MEMORY_BYTES = 32 * 1024 * 1024
MAX_AUTO_SLOTS = 1024
MAX_ERROR_CHARS = 4000
# Jobs claimed in one transaction at most: enough that a burst is claimed in a few
# writes, few enough that one worker of several does not take a whole burst at once.
CLAIM_BATCH = 16
# After handing jobs back: how long their threads get to end once their sandboxes are
# killed (a thread may start one more run before it notices: killed again each round).
HAND_BACK_KILL_S = 5.0
HAND_BACK_KILL_ROUND_S = 0.5
# Idle workers share the polling: together they ask about this many times per
# ``worker_poll_s``, each at most every ``MAX_IDLE_POLL_S`` (jittered), see ``idle_poll_s``.
FLEET_POLLS = 8
MAX_IDLE_POLL_S = 10.0


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def auto_slots(settings: Settings, *, memory_bytes: int | None = None) -> int:
    """Slots when none are configured.

    With the native backend's CPU scheduler (the default), runs beyond one per core
    wait (or are frozen) without their clocks running, so a job only overtakes the
    long ones ahead of it if it has been claimed: a light job queued in the database
    behind hundreds of frozen heavy ones waits for them all. So as many slots as
    memory allows (one per 32 MiB of RAM, at least 64 per core, at most 1024; a
    24 GiB machine gets 753), since admission still waits for memory before a run
    starts. Without the scheduler every claimed run competes for the CPU at once, so
    two per core: enough to keep a core busy while another job sets up its sandbox.
    """
    cores = os.cpu_count() or 1
    scheduled = settings.grading_backend == "native" and settings.native_cpu_scheduling
    if not scheduled:
        return max(2, AUTO_SLOTS_PER_CORE * cores)
    memory = _memory_bytes() if memory_bytes is None else memory_bytes
    by_memory = min(MAX_AUTO_SLOTS, memory // SCHEDULED_SLOT_MEMORY_BYTES)
    return max(2, SCHEDULED_SLOTS_PER_CORE * cores, by_memory)


def idle_poll_s(poll_s: float, idle_fleet: int) -> float:
    """How long an idle worker waits before asking the database for a job again.

    Up to ``FLEET_POLLS`` idle workers each ask every ``poll_s``. A larger idle fleet
    shares the asking: each of n workers asks every n / FLEET_POLLS polls (at most
    ``MAX_IDLE_POLL_S``), jittered so they do not ask together; the fleet as a whole
    still asks about FLEET_POLLS times per ``poll_s``, so a new job waits about as
    long as before for someone to see it, while 50 idle workers make 16 reads a
    second instead of 100. Busy workers are not slowed: a freed slot claims at once,
    and a claim that found jobs is followed by another at once."""
    if idle_fleet <= FLEET_POLLS:
        return poll_s
    shared = min(MAX_IDLE_POLL_S, poll_s * idle_fleet / FLEET_POLLS)
    return max(poll_s, shared * random.uniform(0.5, 1.5))  # noqa: S311 - jitter


@dataclass(frozen=True)
class _Running:
    job: ClaimedJob
    started: float  # monotonic


class WorkerPool:
    def __init__(
        self,
        platform: Platform,
        slots: int | None = None,
        *,
        sharing: EnvironmentSharing | None = None,
        health_path: Path | None = None,
        owns_sandboxes: bool = False,
    ) -> None:
        """``sharing``: the environments' link to a shared database, installed already
        (by ``assay worker``, before its sandbox check); else the pool installs one on
        a shared database. ``health_path``: a liveness file the heartbeat rewrites
        (``worker.health``; ``assay worker`` gives one). ``owns_sandboxes``: this pool
        is the only user of its process's sandboxes (``assay worker``, ``assay
        serve``), so on a stop that hands jobs back it kills them all
        (``SandboxBackend.kill_own``); otherwise the runs of handed-back jobs go on
        until they end (their results are dropped)."""
        self.platform = platform
        settings = platform.settings
        wanted = settings.worker_slots if slots is None else slots
        self.slots = wanted if wanted > 0 else auto_slots(settings)
        self.bulk_limit = max(1, self.slots - 1)
        self.worker_id = workers.new_worker_id()
        self.jobs_done = 0
        self._lock = threading.Lock()
        self._running: dict[int, _Running] = {}
        self._bulk = 0
        self._draining = threading.Event()  # no more claims
        self._drain_started = 0.0  # monotonic
        self._hurry = threading.Event()  # no more waiting for running jobs
        self._stopping = threading.Event()  # heartbeat and watchdog end
        self._changed = threading.Condition(self._lock)  # a job thread ended
        self._handed_back: set[int] = set()
        self._owns_sandboxes = owns_sandboxes
        self._free = threading.Semaphore(self.slots)
        self._job_threads: set[threading.Thread] = set()
        self._dispatcher: threading.Thread | None = None
        self._service_threads: list[threading.Thread] = []
        self._started = False
        self._sharing = sharing
        self._health_path = health_path
        self._idle_fleet = 1  # live workers with a free slot (each heartbeat says)

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> WorkerPool:
        if self._started:
            return self
        workers.register(self.platform, self.worker_id, self.slots)
        if self._sharing is None and not self.platform.db.is_sqlite:  # a shared database
            self._sharing = share_environments(self.platform)
        self._started = True
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name="assay-dispatch", daemon=True
        )
        self._service_threads = [
            threading.Thread(target=self._heartbeat_loop, name="assay-heartbeat", daemon=True),
            threading.Thread(target=self._watchdog_loop, name="assay-watchdog", daemon=True),
        ]
        for thread in (self._dispatcher, *self._service_threads):
            thread.start()
        log.info(
            "worker %s started with %d slots", self.worker_id, self.slots,
            extra={"worker_id": self.worker_id, "slots": self.slots},
        )  # fmt: skip
        return self

    def stop(self, timeout: float | None = None) -> list[int]:
        """Drain: stop claiming at once; wait up to ``timeout`` s
        (``worker_stop_timeout_s``) for the running jobs, or less if ``hurry`` is
        called; hand back those still running (see the module docstring); stop.
        Returns the ids of the jobs handed back."""
        if not self._started:
            return []
        if timeout is None:
            timeout = self.platform.settings.worker_stop_timeout_s
        self.drain()
        deadline = self._drain_started + timeout
        log.info(
            "worker %s draining: no more claims; %d jobs running get %.0f s to finish",
            self.worker_id, self.busy, timeout,
        )  # fmt: skip
        if self._dispatcher is not None:  # its last claim's jobs are running after this
            self._dispatcher.join(max(5.0, deadline - time.monotonic()))
        self._write_health(database_ok=True)
        with self._changed:
            self._changed.wait_for(
                lambda: not self._job_threads or self._hurry.is_set(),
                timeout=max(0.0, deadline - time.monotonic()),
            )
        handed = self._hand_back_running()
        self._stopping.set()
        for thread in self._service_threads:
            thread.join(5.0)
        if self._sharing is not None:  # an environment being published, built by a job
            self._sharing.close(max(0.0, deadline - time.monotonic()))
        try:
            workers.mark_stopped(self.platform, self.worker_id, jobs_done=self.jobs_done)
        except StorageError as exc:
            log.warning("cannot mark worker %s stopped: %s", self.worker_id, exc)
        self._started = False
        log.info(
            "worker %s stopped (%d jobs done, %d handed back)",
            self.worker_id, self.jobs_done, len(handed),
        )  # fmt: skip
        return handed

    def drain(self) -> None:
        """Stop claiming now (without waiting); ``stop``'s timeout counts from here.
        ``assay serve`` calls it at SIGTERM, while its HTTP side shuts down."""
        with self._lock:
            if self._draining.is_set():
                return
            self._drain_started = time.monotonic()
            self._draining.set()
        self.platform.queue.notify()  # the dispatcher's wait for work ends

    def hurry(self) -> None:
        """Stop waiting for running jobs: a draining ``stop`` hands them back now (a
        second SIGTERM or Ctrl-C)."""
        self._hurry.set()
        with self._changed:
            self._changed.notify_all()

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def _hand_back_running(self) -> list[int]:
        """Hand back every job still running, then (owning the sandboxes) kill the
        sandboxes until the jobs' threads have ended (``HAND_BACK_KILL_S`` at most)."""
        with self._lock:
            running = [item.job for item in self._running.values()]
        handed: list[int] = []
        for job in running:
            try:
                if workers.hand_back(self.platform, job, self.worker_id):
                    with self._lock:
                        self._handed_back.add(job.id)
                    handed.append(job.id)
            except AssayError as exc:
                log.warning("cannot hand back job %s (left to its lease): %s", job.id, exc)
        if handed:
            log.warning(
                "worker %s handed back jobs %s: still running at the stop deadline",
                self.worker_id,
                handed,
            )
        if handed and self._owns_sandboxes:
            self._kill_sandboxes()
        return handed

    def _kill_sandboxes(self) -> None:
        backend = self.platform.backend
        end = time.monotonic() + HAND_BACK_KILL_S
        while True:
            try:
                killed = backend.kill_own()
            except (AssayError, OSError) as exc:
                log.warning("cannot kill this process's sandboxes: %s", exc)
                return
            if killed:
                log.info("killed the sandboxes of handed-back jobs: %s", ", ".join(killed))
            with self._changed:
                remaining = end - time.monotonic()
                if remaining <= 0 or self._changed.wait_for(
                    lambda: not self._job_threads, timeout=min(HAND_BACK_KILL_ROUND_S, remaining)
                ):
                    return

    def __enter__(self) -> WorkerPool:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- state ----------------------------------------------------------------------

    @property
    def busy(self) -> int:
        with self._lock:
            return len(self._running)

    def running_job_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._running)

    def _leased_job_ids(self) -> list[int]:
        """Running jobs whose lease the heartbeat extends (not those past the timeout)."""
        bound = self.platform.settings.job_timeout_s
        now = time.monotonic()
        with self._lock:
            running = list(self._running.values())
        keep = []
        for item in running:
            if now - item.started <= bound:
                keep.append(item.job.id)
            else:
                log.error(
                    "job %s has run %.0f s (job_timeout_s=%s); its lease is left to run out",
                    item.job.id,
                    now - item.started,
                    bound,
                )
        return keep

    # --- dispatching ----------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        """Claim jobs whenever slots are free (up to ``CLAIM_BATCH`` in one transaction);
        run each on a thread of its own."""
        queue = self.platform.queue
        poll_s = self.platform.settings.worker_poll_s
        while not self._draining.is_set():
            if not self._free.acquire(timeout=poll_s):
                continue  # every slot busy: look at the stop flag again
            taken = 1
            while taken < CLAIM_BATCH and self._free.acquire(blocking=False):
                taken += 1
            seen = queue.generation()
            if self._draining.is_set():  # told to stop while waiting for a slot
                for _ in range(taken):
                    self._free.release()
                return
            jobs = self._claim(taken)
            for _ in range(taken - len(jobs)):
                self._free.release()
            if not jobs:
                queue.wait(seen, idle_poll_s(poll_s, self._idle_fleet))
                continue
            for job in jobs:
                thread = threading.Thread(
                    target=self._run_in_slot, args=(job,), name=f"assay-job-{job.id}", daemon=True
                )
                with self._lock:
                    self._job_threads.add(thread)
                thread.start()

    def _run_in_slot(self, job: ClaimedJob) -> None:
        try:
            self._run(job)
        finally:
            with self._changed:
                self._job_threads.discard(threading.current_thread())
                self._changed.notify_all()
            self._free.release()

    def _claim(self, limit: int) -> list[ClaimedJob]:
        """Up to ``limit`` jobs, their start steps done in the claiming transaction."""
        with self._lock:
            bulk_room = max(0, self.bulk_limit - self._bulk)

        def start(session: Session, jobs: list[ClaimedJob]) -> list[ClaimedJob]:
            return workers.start_claimed(self.platform, session, jobs, self.worker_id)

        try:
            jobs = self.platform.queue.claim_many(
                self.worker_id, limit, bulk_limit=bulk_room, on_claimed=start
            )
        except AssayError as exc:
            log.warning("cannot claim jobs: %s", exc)
            self._draining.wait(self.platform.settings.worker_poll_s)
            return []
        now = time.monotonic()
        with self._lock:
            for job in jobs:
                self._running[job.id] = _Running(job, now)
                if job.lane is Lane.BULK:
                    self._bulk += 1
        return jobs

    def _run(self, job: ClaimedJob) -> None:
        # every line logged while the job runs (grading, sandbox, failures) carries these
        with log_context(job_id=job.id, kind=str(job.kind), target_id=job.target_id):
            self._run_job(job)

    def _run_job(self, job: ClaimedJob) -> None:
        started = time.monotonic()
        log.info("job %s (%s %s) attempt %d started", job.id, job.kind, job.target_id, job.attempt)
        try:
            workers.run_handler(job.kind)(self.platform, job, self.worker_id)
        except Exception as exc:  # noqa: BLE001 - whatever a handler raises is our failure
            if job.id in self._handed_back:  # its sandbox was killed: expected, not retried
                log.info("handed-back job %s ended: %s", job.id, exc)
            else:
                self._failed(job, exc)
        finally:
            with self._lock:
                self._running.pop(job.id, None)
                if job.lane is Lane.BULK:
                    self._bulk -= 1
                handed_back = job.id in self._handed_back
                if not handed_back:
                    self.jobs_done += 1
        if handed_back:
            log.info("handed-back job %s ended here; its result (if any) was dropped", job.id)
        else:
            log.info("job %s finished in %.2f s", job.id, time.monotonic() - started)

    def _failed(self, job: ClaimedJob, exc: Exception) -> None:
        """Infrastructure failure: retry the job, or record it failed when out of attempts."""
        detail = exc.message if isinstance(exc, AssayError) else str(exc)
        error = f"{type(exc).__name__}: {detail}\n{traceback.format_exc()}"[:MAX_ERROR_CHARS]
        log.error("job %s attempt %d failed: %s", job.id, job.attempt, detail, exc_info=exc)
        queue = self.platform.queue
        try:
            if queue.release(job.id, self.worker_id, error=error):
                return
            with self.platform.db.session() as session:
                if queue.finish(session, job.id, self.worker_id, error=error):
                    workers.fail_handler(job.kind)(session, job.target_id, error)
        except AssayError:
            log.exception("cannot record job %s's failure (left to its lease)", job.id)

    # --- heartbeat and watchdog -----------------------------------------------------

    def _heartbeat_loop(self) -> None:
        interval = self.platform.settings.worker_heartbeat_s
        self._write_health(database_ok=True)
        while not self._stopping.wait(interval):
            try:
                self._idle_fleet = workers.heartbeat(
                    self.platform,
                    self.worker_id,
                    busy=self.busy,
                    jobs_done=self.jobs_done,
                    job_ids=self._leased_job_ids(),
                )
            except StorageError as exc:
                log.warning("heartbeat of worker %s failed: %s", self.worker_id, exc)
                self._write_health(database_ok=False, detail=exc.message)
            else:
                self._write_health(database_ok=True)

    def _write_health(self, *, database_ok: bool, detail: str = "") -> None:
        if self._health_path is None:
            return
        state = "draining" if self._draining.is_set() else "running"
        health.write(
            self._health_path,
            health.Health(
                state=state,
                pid=os.getpid(),
                worker_id=self.worker_id,
                slots=self.slots,
                busy=self.busy,
                database_ok=database_ok,
                detail=detail,
            ),
        )

    def _watchdog_loop(self) -> None:
        interval = self.platform.settings.watchdog_interval_s
        while not self._stopping.wait(interval):
            try:
                workers.watchdog(self.platform, self.platform.backend)
            except AssayError as exc:
                log.warning("watchdog round failed: %s", exc)
