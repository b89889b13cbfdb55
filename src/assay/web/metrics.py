"""Prometheus metrics read from the database at scrape time.

Workers may run in other processes or on other machines, so whatever describes
the whole platform (queue depth, running jobs, workers, job durations, verdicts)
comes from the database when Prometheus scrapes, never from counters inside one
worker. Two kinds:

- state, counted fresh on every scrape (gauges): queued jobs per lane and the age
  of the oldest, running jobs per kind, grading runs per status, live workers and
  their slots;
- events (counters and histograms): jobs and grading runs that finished since this
  process started (or became the leader, below), found by their ``finished_at`` and
  read once each. Like any Prometheus counter they start at zero with the process;
  use ``rate()`` / ``increase()``.

Several API servers of one PostgreSQL database would each export the same
platform-wide figures. Only one does: the process holding a PostgreSQL advisory
lock (``MetricsLeader``, taken by the first scrape that finds it free, held by a
connection of its own until the process ends or that connection drops). Every
server exports ``assay_metrics_leader`` (1 on the leader, 0 elsewhere), and
``sum()`` over the replicas of any metric is right: platform-wide ones come from
the leader only, per-process ones (HTTP requests, the process's own figures) add
up. When the leader goes away, the next scrape of another server takes over
(its event counters start at zero then, as after a restart). On SQLite (one
server) the process is always the leader.

A scrape that cannot reach the database still answers, with ``assay_database_up 0``.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.errors import StorageError
from assay.services.catalog import environments
from assay.services.operations import ops
from assay.services.platform import Platform
from assay.storage.models import GradingRun, Job, JobKind, JobStatus, Lane, RunStatus, utcnow
from assay.storage.pgconn import libpq_url

log = logging.getLogger(__name__)

DURATION_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# A row committed late (a slow transaction, a worker's clock behind ours) still has
# its finished_at this far back: each scrape looks that far behind the newest one seen.
LATE_COMMIT = timedelta(minutes=5)


class Histogram:
    """Cumulative bucket counts of one label set, as Prometheus exposes them."""

    def __init__(self, bounds: tuple[float, ...] = DURATION_BUCKETS_S) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        value = max(value, 0.0)
        self.total += value
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
                return
        self.counts[-1] += 1

    def buckets(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, float(running)))
        return out


class FinishedRows:
    """Reads each row that finished (``finished_at``) since ``start`` exactly once."""

    def __init__(self, start: datetime) -> None:
        self.newest = start
        self.floor = start
        self.seen: dict[int, datetime] = {}

    def since(self) -> datetime:
        return max(self.floor, self.newest - LATE_COMMIT)

    def take(self, rows: Iterable[Any]) -> Iterator[Any]:
        """The rows (with ``.id`` and ``.finished_at``) not taken before."""
        for row in rows:
            if row.id in self.seen or row.finished_at < self.floor:
                continue
            self.seen[row.id] = row.finished_at
            self.newest = max(self.newest, row.finished_at)
            yield row
        horizon = self.since()
        self.seen = {i: at for i, at in self.seen.items() if at >= horizon}


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


class MetricsLeader:
    """Whether this process exports the platform-wide metrics: it holds the PostgreSQL
    session-level advisory lock ``LOCK_KEY`` on a connection of its own (None: SQLite,
    one server, always the leader). Not thread-safe: the collector's lock guards it."""

    LOCK_KEY = 0x6173736179_01  # "assay" 1

    def __init__(self, url: str | None) -> None:
        self.url = url
        self._connection: psycopg.Connection[Any] | None = None
        self._held = False  # the lock, on _connection (it ends with it)

    def holds(self) -> bool:
        """True if this process leads, taking the lock if it is free; raises
        ``psycopg.Error`` when the database cannot be reached."""
        if self.url is None:
            return True
        if self._connection is not None:
            try:
                self._connection.execute("SELECT 1")
            except psycopg.Error:
                self.close()  # the lock went with the connection
        if self._connection is None:
            self._connection = psycopg.connect(
                libpq_url(self.url), autocommit=True, connect_timeout=5
            )
        if not self._held:
            row = self._connection.execute(
                "SELECT pg_try_advisory_lock(%s)", (self.LOCK_KEY,)
            ).fetchone()
            self._held = bool(row and row[0])
        return self._held

    def close(self) -> None:
        self._held = False
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None


class DatabaseCollector(Collector):
    """The platform-wide metrics, from the database, for a ``CollectorRegistry``;
    exported by the leading process only (see the module docstring)."""

    def __init__(self, platform: Platform, clock: Callable[[], datetime] = utcnow) -> None:
        self.platform = platform
        self.clock = clock
        self._lock = threading.Lock()
        self.leader = MetricsLeader(None if platform.db.is_sqlite else platform.db.url)
        self._leading = False
        self._reset(clock())

    def close(self) -> None:
        """Let go of the leadership (its connection); a later scrape may take it again."""
        with self._lock:
            self.leader.close()
            self._leading = False

    def _reset(self, start: datetime) -> None:
        """Count events from ``start`` (this process's start, or when it became leader)."""
        self._jobs = FinishedRows(start)
        self._runs = FinishedRows(start)
        self._job_durations: dict[tuple[str, str], Histogram] = defaultdict(Histogram)
        self._job_waits: dict[tuple[str, str], Histogram] = defaultdict(Histogram)
        self._runs_finished: dict[str, int] = defaultdict(int)
        self._verdicts: dict[str, int] = defaultdict(int)

    def describe(self) -> Iterable[Metric]:
        return []  # collected on demand; nothing to check at registration

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("assay_database_up", "1 if the last scrape reached the database.")
        leader = GaugeMetricFamily(
            "assay_metrics_leader",
            "1 if this process exports the platform-wide metrics (one process of a "
            "database does, so sum() across replicas counts each once), else 0.",
        )
        try:
            with self._lock:
                leads = self._lead()
                metrics: list[Metric] = []
                if leads:
                    with self.platform.db.reading() as session:
                        metrics = [*self._state(session), *self._events(session)]
        except (StorageError, psycopg.Error) as exc:
            log.warning("metrics: the database is unreachable: %s", exc)
            up.add_metric([], 0)
            leader.add_metric([], 0)
            return [up, leader]
        up.add_metric([], 1)
        leader.add_metric([], 1 if leads else 0)
        return [up, leader, *metrics]

    def _lead(self) -> bool:
        try:
            leads = self.leader.holds()
        except psycopg.Error:
            self._leading = False
            raise
        if leads and not self._leading and self.leader.url is not None:
            self._reset(self.clock())  # counting starts now, not when this process did
        self._leading = leads
        return leads

    # --- state ------------------------------------------------------------------------

    def _state(self, session: Session) -> list[Metric]:
        now = self.clock()
        depth = GaugeMetricFamily("assay_queue_depth", "Jobs waiting, per lane.", labels=["lane"])
        for lane, count in self.platform.queue.depth(session).items():
            depth.add_metric([lane], count)

        oldest = GaugeMetricFamily(
            "assay_queue_oldest_age_seconds",
            "Age of the oldest waiting job, per lane (0 when none waits).",
            labels=["lane"],
        )
        firsts = dict(
            session.execute(
                select(Job.lane, func.min(Job.created_at))
                .where(Job.status == JobStatus.QUEUED)
                .group_by(Job.lane)
            ).all()
        )
        for lane in Lane:
            first = firsts.get(lane.value)
            oldest.add_metric([lane.value], max(0.0, _seconds(first, now) or 0.0))

        running = GaugeMetricFamily(
            "assay_jobs_running", "Jobs being worked on, per kind.", labels=["kind"]
        )
        by_kind = dict(
            session.execute(
                select(Job.kind, func.count(Job.id))
                .where(Job.status == JobStatus.RUNNING)
                .group_by(Job.kind)
            ).all()
        )
        for kind in JobKind:
            running.add_metric([kind.value], by_kind.get(kind.value, 0))

        runs = GaugeMetricFamily(
            "assay_grading_runs", "Grading runs in the database, per status.", labels=["status"]
        )
        counts = dict(
            session.execute(
                select(GradingRun.status, func.count(GradingRun.id)).group_by(GradingRun.status)
            ).all()
        )
        for status in RunStatus:
            runs.add_metric([status.value], counts.get(status.value, 0))

        pool = ops.worker_summary(session, self.platform.settings, now)
        workers = GaugeMetricFamily(
            "assay_workers_alive", "Worker processes whose heartbeat is recent."
        )
        workers.add_metric([], pool.alive)
        lost = GaugeMetricFamily(
            "assay_workers_lost",
            "Workers still marked running whose heartbeat is older than the lease.",
        )
        lost.add_metric([], pool.lost)
        slots = GaugeMetricFamily("assay_worker_slots", "Job slots of the live workers.")
        slots.add_metric([], pool.slots)
        busy = GaugeMetricFamily("assay_worker_slots_busy", "Busy slots of the live workers.")
        busy.add_metric([], pool.busy)
        return [depth, oldest, running, runs, workers, lost, slots, busy, *_archives(session)]

    # --- events -----------------------------------------------------------------------

    def _events(self, session: Session) -> list[Metric]:
        self._read_jobs(session)
        self._read_runs(session)
        durations = HistogramMetricFamily(
            "assay_job_duration_seconds",
            "Time from a job's (last) claim to its end, per kind and outcome.",
            labels=["kind", "outcome"],
        )
        for (kind, outcome), hist in sorted(self._job_durations.items()):
            durations.add_metric([kind, outcome], hist.buckets(), hist.total)
        waits = HistogramMetricFamily(
            "assay_job_queue_wait_seconds",
            "Time a finished job waited in the queue before its (last) claim.",
            labels=["kind", "lane"],
        )
        for (kind, lane), hist in sorted(self._job_waits.items()):
            waits.add_metric([kind, lane], hist.buckets(), hist.total)
        finished = CounterMetricFamily(
            "assay_grading_runs_finished",
            "Grading runs that ended (graded or error) since this process started.",
            labels=["status"],
        )
        for status, count in sorted(self._runs_finished.items()):
            finished.add_metric([status], count)
        verdicts = CounterMetricFamily(
            "assay_test_verdicts",
            "Test verdicts in the reports recorded since this process started.",
            labels=["verdict"],
        )
        for verdict, count in sorted(self._verdicts.items()):
            verdicts.add_metric([verdict], count)
        return [durations, waits, finished, verdicts]

    def _read_jobs(self, session: Session) -> None:
        rows = session.execute(
            select(
                Job.id, Job.kind, Job.lane, Job.status, Job.created_at, Job.started_at,
                Job.finished_at,
            ).where(
                Job.finished_at >= self._jobs.since(),
                Job.status.in_([JobStatus.DONE, JobStatus.FAILED]),
            )
        )  # fmt: skip
        for row in self._jobs.take(rows):
            outcome = "done" if row.status == JobStatus.DONE else "failed"
            ran = _seconds(row.started_at, row.finished_at)
            if ran is not None:
                self._job_durations[(row.kind, outcome)].observe(ran)
            waited = _seconds(row.created_at, row.started_at)
            if waited is not None:
                self._job_waits[(row.kind, row.lane)].observe(waited)

    def _read_runs(self, session: Session) -> None:
        rows = session.execute(
            select(
                GradingRun.id, GradingRun.status, GradingRun.finished_at, GradingRun.report
            ).where(
                GradingRun.finished_at >= self._runs.since(),
                GradingRun.status.in_([RunStatus.GRADED, RunStatus.ERROR]),
            )
        )
        for row in self._runs.take(rows):
            self._runs_finished[row.status] += 1
            report = row.report if isinstance(row.report, dict) else {}
            for test in report.get("tests") or []:
                if isinstance(test, dict) and isinstance(test.get("status"), str):
                    self._verdicts[test["status"]] += 1


def _archives(session: Session) -> list[Metric]:
    """The environments published for workers, and the workers' fetches of them."""
    published = environments.summary(session)
    archives = GaugeMetricFamily(
        "assay_environment_archives", "Environments published in the database for workers."
    )
    archives.add_metric([], published.archives)
    size = GaugeMetricFamily(
        "assay_environment_archive_bytes", "Bytes of the environments' archives in the database."
    )
    size.add_metric([], published.size_bytes)
    fetches = CounterMetricFamily(
        "assay_environment_fetches",
        "Cold starts of workers that fetched an environment from the database, by name.",
        labels=["environment"],
    )
    for name, count in sorted(published.fetches.items()):
        fetches.add_metric([name], count)
    return [archives, size, fetches]
