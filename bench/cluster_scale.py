"""Cluster scale: an exam's 10,000 submissions in 10 minutes on 50 workers of 8 slots.

Simulated on one machine, with real PostgreSQL, real API servers and real worker
code; only the sandbox is a stand-in. What runs:

- PostgreSQL: a fresh database of its own on the server ``--postgres-url`` names
  (default: ``$ASSAY_BENCH_POSTGRES_URL``, else what ``scripts/postgres.sh`` prints),
  dropped at the end (``--keep`` keeps it).
- ``--servers`` API servers (default 2): ``assay serve --workers 0`` on free loopback
  ports, each with its own state directory, one database.
- ``--workers`` worker processes (default 50) of ``--slots`` slots (default 8):
  ``bench/cluster_worker.py``, the real ``WorkerPool``, queue and grading job handler,
  with ``bench/sleep_backend.py``'s sandbox backend whose runs only sleep (log-normal,
  median ``--run-median-s``; an infinite loop sleeps the 3 s wall-clock limit). Each
  times its claim transactions.
- the arrival (planned here, sent over HTTP by ``--senders`` processes of
  ``bench/cluster_sender.py``, one per API server by default, which report each 201
  back): ``--submissions`` (10,000) within
  ``--minutes`` (10) as an exam's deadline rush, a Poisson process whose rate rises
  from ``--base-share`` of the peak to the peak at the end (``rate ~ base + t^2``).
  A course of ``--students`` (default a quarter of the submissions); each arrival is
  a student who has not submitted in the last ``--think-s`` s, or, for
  ``--resubmit-share`` of them, one who just did (that resubmission cancels the queued
  one, as the flood bench's students would). 80% correct, 15% wrong, 5% infinite
  loops (``--mix``). Submissions alternate between the API servers.
- live-progress viewers (``bench/cluster_sse.py``, one process per API server) hold
  ``--streams`` (1,000) SSE streams on the servers for submissions being graded, each
  for a submission sent to another server than the one it watches.

Printed: claim latency p50/p99 (the pool's ``claim_many``: depth read + claiming
transaction, claims that took jobs; idle polls apart), queue wait p50/p99 (job
queued -> claimed, the database's times), end-to-end p50/p99 (submission due in the
arrival -> report recorded), the database's CPU (its backend processes for this
database, from /proc, as % of one core) and connections (peak of pg_stat_activity
for this database), SSE delivery latency p50/p99 with the open-stream count, lost
submissions, wrong verdicts; CPU of each part and the machine's idle time, per minute.

Then the queue's ceiling (``--ceiling-jobs`` > 0): the exam's workers stop, the queue
is filled with that many submissions (directly, through the intake service), and
fresh workers whose runs take no time (``--ceiling-run-s``, default 0) are let go in
steps of ``--ceiling-step`` every ``--ceiling-step-s`` s (started beforehand and
held at a gate, so their start-up is not in the measurement): claims per second per
step, until they stop rising, with each part's CPU in that step: what saturates first.

    .venv/bin/python bench/cluster_scale.py --quick        # 500 in 1 min, 10 workers
    .venv/bin/python bench/cluster_scale.py                # the full profile (~20 min)

Exits 1 if a submission is lost or a verdict wrong. Figures: docs/performance.md
("Cluster scale").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from assay.config import Settings
from assay.files.fileset import FileSet
from assay.services import Actor, Platform
from assay.services.catalog import assignments, packages
from assay.services.intake import submissions as intake
from flood import ASSIGNMENT
from flood_http import CpuGroup, free_port, idle_core_s, own_cpu_s, seed, wait_ready

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
API = "/api/v1"
IN_FLIGHT = 32  # submission requests open at once per API server
SECRET = "cluster-scale-bench-secret-0123456789"  # noqa: S105 - a throwaway database's
SOURCES = {
    "correct": "a, b = map(int, input().split())\nprint(a + b)\n",
    "wrong": "a, b = map(int, input().split())\nprint(a + b + 1)\n",
    "loop": "while True:\n    pass\n",
}
SERVER_ENV = {
    # the limits would refuse a benchmark's many requests per token
    "ASSAY_RATE_LIMIT_PER_MINUTE": "1000000",
    "ASSAY_SUBMIT_RATE_LIMIT_PER_MINUTE": "1000000",
    "ASSAY_EVENTS_MAX_STREAMS": "5000",
    "ASSAY_EVENTS_MAX_STREAMS_PER_USER": "64",
    "ASSAY_LOG_LEVEL": "WARNING",
    "ASSAY_SECRET_KEY": SECRET,
}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def p50_p99(values: list[float], scale: float = 1.0, unit: str = "s") -> str:
    if not values:
        return "n/a"
    return (
        f"p50 {percentile(values, 50) * scale:.1f} {unit}  p99 {percentile(values, 99) * scale:.1f}"
        f" {unit}  max {max(values) * scale:.1f} {unit}  (n={len(values)})"
    )


def unix(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# ----------------------------------------------------------------------------- arrival
@dataclass
class Arrival:
    n: int
    due: float  # seconds from the start
    student: int
    kind: str
    server: int = 0
    sent: float = 0.0  # unix time the submission was due
    accepted: float | None = None  # unix time the 201 arrived
    submission_id: int | None = None
    problem: str = ""


def arrival_times(count: int, seconds: float, base_share: float, rng: random.Random) -> list[float]:
    """``count`` times in [0, seconds): a Poisson process with rate ~ base + (1 - base) t^2,
    conditioned on its count (the order statistics of draws from that density)."""
    times: list[float] = []
    while len(times) < count:
        t = rng.random()
        if rng.random() * 1.0 <= base_share + (1 - base_share) * t * t:
            times.append(t * seconds)
    return sorted(times)


def plan_arrivals(args: argparse.Namespace, rng: random.Random) -> list[Arrival]:
    kinds, weights = zip(*args.mix.items(), strict=True)
    last: dict[int, float] = {}
    arrivals = []
    for n, due in enumerate(
        arrival_times(args.submissions, args.minutes * 60, args.base_share, rng)
    ):
        recent = [s for s, at in last.items() if due - at < args.think_s]
        if recent and rng.random() < args.resubmit_share:
            student = rng.choice(recent)
        else:
            student = rng.randrange(args.students)
            for _ in range(50):
                if due - last.get(student, -1e9) >= args.think_s:
                    break
                student = rng.randrange(args.students)
        last[student] = due
        kind = rng.choices(kinds, weights)[0]
        arrivals.append(Arrival(n, due, student, kind, server=n % args.servers))
    return arrivals


def in_flight_per_sender(servers: int, senders: int) -> int:
    """Requests each sender keeps open per server, so that each server has about
    ``IN_FLIGHT`` open in all: submission n goes to server n % servers and to sender
    n % senders, so a server gets its submissions from senders / gcd of them."""
    return max(1, math.ceil(IN_FLIGHT * math.gcd(servers, senders) / senders))


def send_all(
    *, urls: list[str], assignment_id: int, tokens: list[str], arrivals: list[Arrival],
    viewers: list[subprocess.Popen[bytes]], senders: int, root: Path, monitor: Monitor,
    give_up_factor: float, seconds: float,
) -> float:  # fmt: skip
    """Open loop: each submission at its due time, whatever the servers do, from
    ``senders`` processes (``bench/cluster_sender.py``; arrival n is sender n %
    senders's); their results come back here, where the accepted ones are handed to
    the viewers. Returns the start (unix time)."""
    shares: list[list[dict[str, Any]]] = [[] for _ in range(senders)]
    for arrival in arrivals:
        shares[arrival.n % senders].append(
            {
                "n": arrival.n,
                "due": arrival.due,
                "server": arrival.server,
                "token": tokens[arrival.student],
                "source": SOURCES[arrival.kind],
            }
        )
    processes: list[subprocess.Popen[bytes]] = []
    for number, share in enumerate(shares):
        plan = root / f"sender-{number}.json"
        plan.write_text(
            json.dumps(
                {
                    "urls": urls,
                    "assignment_id": assignment_id,
                    "in_flight": in_flight_per_sender(len(urls), senders),
                    "submissions": share,
                }
            )
        )
        argv = [sys.executable, str(BENCH / "cluster_sender.py"), "--plan", str(plan)]
        with (root / f"sender-{number}.log").open("wb") as log:
            processes.append(
                subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
            )
    monitor.groups["senders"] = [p.pid for p in processes]
    for process in processes:  # each has read its plan and made its coroutines
        assert process.stdout is not None
        if not process.stdout.readline().startswith(b'{"ready"'):
            raise SystemExit(f"a sender did not start: see {root}/sender-*.log")
    started = time.time() + 1.0
    give_up = started + seconds * give_up_factor
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(f"start {started} {give_up}\n".encode())
        process.stdin.close()
    by_n = {a.n: a for a in arrivals}
    for arrival in arrivals:
        arrival.sent = started + arrival.due
    viewer_lock = threading.Lock()

    def collect(process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = json.loads(raw)
            arrival = by_n[int(line["n"])]
            if "problem" in line:
                arrival.problem = str(line["problem"])
                continue
            arrival.accepted = float(line["accepted"])
            arrival.submission_id = int(line["id"])
            if viewers:  # watched on another server than the one it went to
                viewer = viewers[(arrival.server + 1) % len(viewers)]
                assert viewer.stdin is not None
                with viewer_lock:
                    viewer.stdin.write(
                        f"{arrival.submission_id} {tokens[arrival.student]}\n".encode()
                    )
                    viewer.stdin.flush()

    readers = [threading.Thread(target=collect, args=(p,), daemon=True) for p in processes]
    for reader in readers:
        reader.start()
    try:
        for reader, process in zip(readers, processes, strict=True):
            reader.join()
            if process.wait() != 0:
                code = process.returncode
                raise SystemExit(f"a sender exited with {code}: see {root}/sender-*.log")
    finally:  # one failed: the others stop too
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return started


# ----------------------------------------------------------------------------- monitor
@dataclass
class Sample:
    t: float
    connections: int
    server_connections: int  # all databases of the server (the tests' too)
    cpu: dict[str, float]  # cumulative seconds per part
    idle: float  # cumulative idle core-seconds


@dataclass
class Monitor:
    """Each second: this database's connections and the CPU of each part."""

    engine: sa.Engine
    database: str
    groups: dict[str, list[int]] = field(  # part -> pids (the keys fixed: a thread reads)
        default_factory=lambda: {"api servers": [], "workers": [], "viewers": [], "senders": []}
    )
    samples: list[Sample] = field(default_factory=list)
    _cpu: dict[str, CpuGroup] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _first: bool = True

    def start(self) -> Monitor:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        query = sa.text(
            "SELECT pid, datname = :db FROM pg_stat_activity WHERE backend_type = 'client backend'"
        )
        while True:
            try:
                with self.engine.connect() as connection:
                    rows = connection.execute(query, {"db": self.database}).all()
            except sa.exc.DBAPIError:
                rows = []
            pids = [pid for pid, ours in rows if ours]
            parts = {**self.groups, "database": pids}
            for name, members in parts.items():
                self._cpu.setdefault(name, CpuGroup()).sample(members, born_now=not self._first)
            self._first = False
            cpu = {name: group.total for name, group in self._cpu.items()}
            cpu["bench client"] = own_cpu_s()
            # the monitor's own connection is one of them: not counted
            self.samples.append(
                Sample(time.time(), max(0, len(pids) - 1), len(rows), cpu, idle_core_s())
            )
            if self._stop.wait(1.0):
                return

    def peak_server_connections(self, start: float, end: float) -> int:
        return max((s.server_connections for s in self.samples if start <= s.t <= end), default=0)

    def between(self, start: float, end: float) -> tuple[dict[str, float], float, int]:
        """CPU seconds per part, idle core-seconds, peak connections within [start, end]."""
        inside = [s for s in self.samples if start <= s.t <= end]
        if len(inside) < 2:
            return {}, 0.0, max((s.connections for s in inside), default=0)
        first, last = inside[0], inside[-1]
        cpu = {k: v - first.cpu.get(k, 0.0) for k, v in last.cpu.items()}
        return cpu, last.idle - first.idle, max(s.connections for s in inside)


def cpu_line(monitor: Monitor, start: float, end: float) -> str:
    cpu, idle, peak = monitor.between(start, end)
    span = max(end - start, 1e-9)
    parts = "  ".join(f"{k} {100 * v / span:.0f}%" for k, v in sorted(cpu.items()))
    return (
        f"CPU (% of one core): {parts}  | machine idle {100 * idle / span:.0f}%"
        f"  | peak conns {peak}"
    )


# ----------------------------------------------------------------------------- processes
@dataclass
class Cluster:
    admin_url: str
    database: str
    url: str
    root: Path
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    server_urls: list[str] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    worker_outs: list[Path] = field(default_factory=list)
    src: str = ""  # another source tree's src/ for the servers (bench/intake_cost.py's A/B)

    def env(self, state: Path, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
        return {
            **env,
            **SERVER_ENV,
            "ASSAY_DATABASE_URL": self.url,
            "ASSAY_STATE_DIR": str(state),
            "PYTHONPATH": os.pathsep.join(filter(None, [self.src, str(BENCH)])),
            **extra,
        }

    def start_server(self, submit_concurrency: int) -> None:
        port = free_port()
        state = self.root / f"server-{len(self.servers)}"
        env = self.env(state, ASSAY_HOST="127.0.0.1", ASSAY_PORT=str(port))
        if submit_concurrency:
            env["ASSAY_SUBMIT_CONCURRENCY"] = str(submit_concurrency)
        log = self.root / f"server-{len(self.servers)}.log"
        argv = [str(Path(sys.executable).parent / "assay"), "serve", "--workers", "0"]
        with log.open("wb") as out:
            server = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, server, log)
        self.servers.append(server)
        self.server_urls.append(url)

    def start_worker(self, args: argparse.Namespace, tag: str, *extra: str, run_s: float) -> None:
        number = len(self.workers)
        out = self.root / f"{tag}-{number}.json"
        argv = [sys.executable, str(BENCH / "cluster_worker.py"), "--slots", str(args.slots)]
        argv += ["--out", str(out), "--median-s", str(run_s), "--seed", str(args.seed + number)]
        log = self.root / f"{tag}-{number}.log"
        env = self.env(self.root / f"{tag}-{number}", ASSAY_WORKER_POLL_S=str(args.poll_s))
        if args.worker_pool > 0:  # the platform's pool settings, as a deployment sets them
            env["ASSAY_DATABASE_POOL_SIZE"] = str(args.worker_pool)
            env["ASSAY_DATABASE_MAX_OVERFLOW"] = "0"
        with log.open("wb") as output:
            worker = subprocess.Popen(
                [*argv, *extra], env=env, stdout=output, stderr=subprocess.STDOUT
            )
        self.workers.append(worker)
        self.worker_outs.append(out)

    def check_workers(self) -> None:
        """Stop the bench if a worker process has died (its log's end says why)."""
        for worker, out in zip(self.workers, self.worker_outs, strict=True):
            if worker.poll() is not None:
                log = out.with_suffix(".log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"worker {out.stem} exited ({worker.returncode}):\n{log}")

    def stop_workers(self) -> list[dict[str, Any]]:
        for worker in self.workers:
            worker.send_signal(signal.SIGTERM)
        figures = []
        for worker, out in zip(self.workers, self.worker_outs, strict=True):
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            if out.exists():
                figures.append(json.loads(out.read_text()))
        self.workers, self.worker_outs = [], []
        return figures

    def stop(self) -> None:
        self.stop_workers()
        for server in self.servers:
            server.send_signal(signal.SIGTERM)
        for server in self.servers:
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def admin_url(given: str) -> str:
    if given:
        return given
    if os.environ.get("ASSAY_BENCH_POSTGRES_URL"):
        return os.environ["ASSAY_BENCH_POSTGRES_URL"]
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "postgres.sh")],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


def create_database(admin: str) -> tuple[str, str]:
    name = f"assay_cluster_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return name, sa.make_url(admin).set(database=name).render_as_string(hide_password=False)


def drop_database(admin: str, name: str) -> None:
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        for attempt in range(20):
            try:
                with engine.connect() as connection:
                    connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except sa.exc.DBAPIError:
                if attempt == 19:
                    raise
                time.sleep(0.25)
            else:
                return
    finally:
        engine.dispose()


def live_workers(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.text("SELECT count(*) FROM workers WHERE state = 'running'")
            ).scalar_one()
        )


def wait_until(check: Any, timeout_s: float, what: str, step_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(step_s)


def open_runs(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.text("SELECT count(*) FROM grading_runs WHERE status IN ('queued', 'running')")
            ).scalar_one()
        )


# ----------------------------------------------------------------------------- figures
def claim_figures(workers: list[dict[str, Any]], start: float, end: float) -> tuple[
    list[float], list[float], int
]:  # fmt: skip
    """Seconds of claims that took jobs, of idle polls, and jobs claimed, in [start, end]."""
    took: list[float] = []
    idle: list[float] = []
    jobs = 0
    for worker in workers:
        for at, seconds, count, *_ in worker["claims"]:
            if start <= at <= end:
                (took if count else idle).append(seconds)
                jobs += count
    return took, idle, jobs


def claim_split(workers: list[dict[str, Any]], start: float, end: float) -> str:
    """Where the wall time of the claims that took jobs went, on average."""
    rows = [
        claim
        for worker in workers
        for claim in worker["claims"]
        if start <= claim[0] <= end and claim[2] and len(claim) >= 5
    ]
    if not rows:
        return "n/a"
    wall = statistics.fmean(c[1] for c in rows) * 1000
    cpu = statistics.fmean(c[3] for c in rows) * 1000
    queue = statistics.fmean(c[4] for c in rows) * 1000
    unqueued = [(c[1] - c[4]) * 1000 for c in rows]
    return (
        f"mean {wall:.1f} ms = the dispatcher thread's CPU {cpu:.1f} ms + waiting for a CPU"
        f" {queue:.1f} ms + waiting for the database or the GIL {wall - cpu - queue:.1f} ms;"
        f" without the wait for a CPU: p50 {percentile(unqueued, 50):.1f} ms"
        f" p99 {percentile(unqueued, 99):.1f} ms"
    )


def exam_figures(
    engine: sa.Engine, arrivals: list[Arrival], started: float
) -> tuple[dict[str, Any], int]:
    """Queue wait, end-to-end, verdicts and lost submissions from the database."""
    by_id = {a.submission_id: a for a in arrivals if a.submission_id is not None}
    with engine.connect() as connection:
        runs = connection.execute(
            sa.text(
                "SELECT DISTINCT ON (r.submission_id) r.submission_id, r.status, r.score,"
                " r.max_score, r.report, r.finished_at, s.created_at, s.user_id"
                " FROM grading_runs r JOIN submissions s ON s.id = r.submission_id"
                " ORDER BY r.submission_id, r.id DESC"
            )
        ).all()
        jobs = connection.execute(
            sa.text(
                "SELECT created_at, started_at, attempts FROM jobs"
                " WHERE kind = 'grade' AND status = 'done' AND created_at >= :t"
            ),
            {"t": datetime.fromtimestamp(started, UTC).replace(tzinfo=None)},
        ).all()
    waits = [unix(j.started_at) - unix(j.created_at) for j in jobs if j.started_at]  # type: ignore[operator]
    retried = sum(j.attempts > 1 for j in jobs)
    # a student's newest submission (by id): the others may be cancelled by it
    newest: dict[int, int] = {}
    for row in runs:
        newest[row.user_id] = max(newest.get(row.user_id, 0), row.submission_id)
    end_to_end, server_side = [], []
    verdicts: Counter[str] = Counter()
    lost, errors, superseded, wrong = [], [], 0, []
    seen = set()
    for row in runs:
        arrival = by_id.get(row.submission_id)
        if arrival is None:
            continue
        seen.add(row.submission_id)
        if row.status == "cancelled":
            if newest[row.user_id] > row.submission_id:
                superseded += 1
            else:
                lost.append(f"{row.submission_id} cancelled, nothing newer")
            continue
        if row.status == "error":
            errors.append(row.submission_id)
            continue
        if row.status != "graded":
            lost.append(f"{row.submission_id} {row.status}")
            continue
        finished = unix(row.finished_at) or 0.0
        end_to_end.append(finished - arrival.sent)
        server_side.append(finished - (unix(row.created_at) or 0.0))
        tests = (row.report or {}).get("tests") or [{}]
        status = tests[0].get("status")
        expected = {"correct": "passed", "wrong": "failed", "loop": "timeout"}[arrival.kind]
        right = status == expected and (row.score == row.max_score) == (arrival.kind == "correct")
        verdicts[f"{arrival.kind} {'right' if right else 'WRONG'}"] += 1
        if not right:
            wrong.append(row.submission_id)
    lost += [f"{sid} no run" for sid in by_id if sid not in seen]
    figures = {
        "queue wait": waits,
        "end-to-end": end_to_end,
        "server-side": server_side,
        "verdicts": verdicts,
        "superseded": superseded,
        "errors": errors,
        "lost": lost,
        "wrong": wrong,
        "retried": retried,
    }
    return figures, len(lost) + len(errors) + len(wrong)


def sse_figures(viewer_outs: list[Path]) -> dict[str, Any]:
    latencies, pushed, opened, problems, left = [], [], 0, Counter[str](), 0
    open_counts: dict[int, int] = {}
    stages: dict[str, list[float]] = {}
    for out in viewer_outs:
        if not out.exists():
            continue
        data = json.loads(out.read_text())
        opened += data["opened"]
        left += data["left_open"]
        problems.update(data["problems"])
        for _received, latency, stage, after_open in data["latencies"]:
            latencies.append(latency)
            if after_open:
                pushed.append(latency)
            stages.setdefault(stage, []).append(latency)
        for at, count in data["open_by_second"]:
            open_counts[int(at)] = open_counts.get(int(at), 0) + count
    return {
        "latencies": latencies,
        "pushed": pushed,
        "stages": stages,
        "opened": opened,
        "left_open": left,
        "problems": problems,
        "open": list(open_counts.values()),
    }


# ----------------------------------------------------------------------------- phases
def seed_course(settings: Settings, students: int) -> tuple[str, int, int, list[str]]:
    teacher, assignment_id, tokens = seed(settings, students)
    platform = Platform.open(settings, migrate=False)
    try:
        with platform.db.reading() as session:
            course_id = int(
                session.execute(
                    sa.text("SELECT course_id FROM assignments WHERE id = :a"), {"a": assignment_id}
                ).scalar_one()
            )
    finally:
        platform.close()
    return teacher, course_id, assignment_id, tokens


def run_exam(
    *, args: argparse.Namespace, cluster: Cluster, monitor: Monitor, engine: sa.Engine,
    assignment_id: int, tokens: list[str],
) -> int:  # fmt: skip
    rng = random.Random(args.seed)  # noqa: S311 - an arrival, not a secret
    arrivals = plan_arrivals(args, rng)
    viewers: list[subprocess.Popen[bytes]] = []
    viewer_outs: list[Path] = []
    if args.streams > 0:
        for number, url in enumerate(cluster.server_urls):
            out = cluster.root / f"viewers-{number}.json"
            argv = [sys.executable, str(BENCH / "cluster_sse.py"), "--url", url, "--out", str(out)]
            argv += ["--target", str(args.streams // len(cluster.server_urls))]
            log = (cluster.root / f"viewers-{number}.log").open("wb")
            viewers.append(
                subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)
            )
            viewer_outs.append(out)
        monitor.groups["viewers"] = [v.pid for v in viewers]
    idle_from = time.time()
    time.sleep(args.idle_s)
    idle_to = time.time()
    print(f"idle cluster ({args.idle_s:g} s before the first submission):")
    print("  " + cpu_line(monitor, idle_from, idle_to))
    peak = 1.0 / (args.base_share + (1 - args.base_share) / 3)  # peak / mean of the rate
    print(
        f"arrival: {len(arrivals)} submissions in {args.minutes:g} min, {args.students} students,"
        f" mean {len(arrivals) / (args.minutes * 60):.1f}/s, peak about"
        f" {peak * len(arrivals) / (args.minutes * 60):.1f}/s at the end;"
        f" mix {dict(Counter(a.kind for a in arrivals))}"
    )
    started = send_all(
        urls=cluster.server_urls,
        assignment_id=assignment_id,
        tokens=tokens,
        arrivals=arrivals,
        viewers=viewers,
        senders=args.senders or len(cluster.server_urls),
        root=cluster.root,
        monitor=monitor,
        give_up_factor=args.give_up_factor,
        seconds=args.minutes * 60,
    )
    sent_by = time.time()
    monitor.groups["senders"] = []
    accepted = [a for a in arrivals if a.submission_id is not None]
    print(f"sent: {len(accepted)} accepted in {sent_by - started:.0f} s")
    with contextlib.suppress(SystemExit):
        wait_until(lambda: open_runs(engine) == 0, args.drain_s, "the last runs", 1.0)
    ended = time.time()
    for viewer in viewers:
        assert viewer.stdin is not None
        viewer.stdin.close()
    for viewer in viewers:
        try:
            viewer.wait(180)
        except subprocess.TimeoutExpired:
            viewer.kill()
    workers = cluster.stop_workers()
    monitor.groups["workers"] = []
    figures, bad = exam_figures(engine, arrivals, started)
    took, idle, claimed = claim_figures(workers, started, ended)
    sse = sse_figures(viewer_outs)
    span = ended - started
    print(f"\n== exam: {len(accepted)} submissions, {args.workers} workers x {args.slots} slots,"
          f" {len(cluster.servers)} API servers, {span:.0f} s from first due"
          " to last report ==")  # fmt: skip
    print(f"claim latency (claims that took jobs): {p50_p99(took, 1000, 'ms')}")
    print(f"  jobs per claim: {claimed / max(len(took), 1):.2f};"
          f" idle polls (found nothing): {p50_p99(idle, 1000, 'ms')}")  # fmt: skip
    print(f"  where a claim's time goes: {claim_split(workers, started, ended)}")
    print(f"  claim p99 goal < 100 ms: {'met' if percentile(took, 99) < 0.1 else 'MISSED'}")
    lag = [a.accepted - a.sent for a in accepted if a.accepted is not None]
    print(f"intake (due -> 201 received): {p50_p99(lag)}")
    print(f"queue wait (queued -> claimed): {p50_p99(figures['queue wait'])}")
    print(f"end-to-end (due -> report recorded): {p50_p99(figures['end-to-end'])}")
    print(f"  server-side (accepted -> report recorded): {p50_p99(figures['server-side'])}")
    cpu, _idle, conns = monitor.between(started, ended)
    print(f"database: CPU {100 * cpu.get('database', 0) / span:.0f}% of a core on average,"
          f" peak connections {conns} (the whole server's, all databases:"
          f" {monitor.peak_server_connections(started, ended)})")  # fmt: skip
    print("  " + cpu_line(monitor, started, ended))
    worst = worst_minute(monitor, started, ended)
    if worst:
        print(f"  busiest minute for the database: {worst}")
    print(f"SSE delivery (receipt - event at), {sse['opened']} streams opened:"
          f" {p50_p99(sse['latencies'], 1000, 'ms')}")  # fmt: skip
    print(f"  of which pushed to an open stream: {p50_p99(sse['pushed'], 1000, 'ms')}")
    if sse["open"]:
        print(f"  streams open at once: median {statistics.median(sse['open']):.0f},"
              f" max {max(sse['open'])}; refused/failed: {dict(sse['problems']) or 'none'};"
              f" left open at the end: {sse['left_open']}")  # fmt: skip
    print(f"verdicts: {dict(sorted(figures['verdicts'].items()))}; superseded by a resubmission:"
          f" {figures['superseded']}; retried jobs: {figures['retried']}")  # fmt: skip
    unsent = [a for a in arrivals if a.problem.startswith("not sent")]
    refused = [a for a in arrivals if a.submission_id is None and a not in unsent]
    print(f"lost: {len(figures['lost'])}  errors: {len(figures['errors'])}  wrong verdicts:"
          f" {len(figures['wrong'])}  not accepted: {len(refused)}  not sent (the bench gave"
          f" up on them, the servers being too far behind): {len(unsent)}")  # fmt: skip
    for what in figures["lost"][:10]:
        print(f"  lost: {what}")
    for problem, count in Counter(a.problem[:120] for a in refused).most_common(5):
        print(f"  not accepted ({count}): {problem}")
    print("per minute (submissions due, accepted, jobs claimed, claim p99, DB CPU, conns, idle):")
    for minute_start in range(int(started), int(ended), 60):
        end = min(minute_start + 60, ended)
        due = sum(minute_start <= started + a.due < end for a in arrivals)
        taken = sum(minute_start <= (a.accepted or 0) < end for a in arrivals)
        took_m, _idle_m, jobs_m = claim_figures(workers, minute_start, end)
        cpu_m, idle_m, conns_m = monitor.between(minute_start, end)
        length = max(end - minute_start, 1e-9)
        print(f"  {(minute_start - started) / 60:4.0f}  due {due / length:5.1f}/s  accepted"
              f" {taken / length:5.1f}/s  claimed"
              f" {jobs_m / length:5.1f}/s  claim p99 {percentile(took_m, 99) * 1000:6.1f} ms"
              f"  DB {100 * cpu_m.get('database', 0) / length:4.0f}%  conns {conns_m:3d}"
              f"  idle {100 * idle_m / length:4.0f}%")  # fmt: skip
    return 1 if bad or refused else 0


def worst_minute(monitor: Monitor, start: float, end: float) -> str:
    best = None
    for t in range(int(start), int(end) - 59, 10):
        cpu, _idle, conns = monitor.between(t, t + 60)
        share = cpu.get("database", 0.0) / 60
        if best is None or share > best[0]:
            best = (share, t, conns)
    if best is None:
        return ""
    return f"{100 * best[0]:.0f}% of a core from {(best[1] - start) / 60:.1f} min, conns {best[2]}"


def prefill(settings: Settings, course_id: int, count: int, students: int, tag: str) -> float:
    """``count`` queued submissions, through the intake service (no workers run)."""
    platform = Platform.open(settings, migrate=False)
    system = Actor.system("cluster-bench")
    try:
        with platform.db.reading() as session:
            users = [
                int(row[0])
                for row in session.execute(
                    sa.text("SELECT id FROM users WHERE username LIKE 's%' ORDER BY id")
                )
            ][:students]
        package = packages.pack_directory(ASSIGNMENT)
        targets = []
        for number in range(math.ceil(count / len(users))):
            made = assignments.create_assignment(
                platform, system, course_id, package, slug=f"{tag}-{number}", publish=True
            )
            targets += [(made.id, user) for user in users]
        files = FileSet.from_mapping({"add.py": SOURCES["correct"]})
        started = time.monotonic()

        def one(target: tuple[int, int]) -> None:
            intake.submit(platform, system, target[0], files, user_id=target[1])

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, targets[:count]))
        return time.monotonic() - started
    finally:
        platform.close()


def run_ceiling(
    *, args: argparse.Namespace, cluster: Cluster, monitor: Monitor, engine: sa.Engine,
    settings: Settings, course_id: int, mode: str,
) -> float:  # fmt: skip
    """The ceiling with workers that grade (``mode`` "grading", runs of
    ``--ceiling-run-s``) or finish jobs without grading ("claim-only"): claims/s."""
    gates = []
    extra = ["--claim-only"] if mode == "claim-only" else []
    for number in range(args.workers):
        gate = cluster.root / f"gate-{mode}-{number}"
        gates.append(gate)
        cluster.start_worker(
            args, f"ceiling-{mode}", "--gate", str(gate), *extra, run_s=args.ceiling_run_s
        )
    outs = list(cluster.worker_outs)
    monitor.groups["workers"] = [w.pid for w in cluster.workers]

    def ready() -> bool:
        cluster.check_workers()
        return all(o.with_suffix(".ready").exists() for o in outs)

    wait_until(ready, 600, "the ceiling's workers")
    filled = prefill(settings, course_id, args.ceiling_jobs, args.students, f"ceiling-{mode}")
    what = (
        "finish each job at once without grading it (the queue's own work)"
        if mode == "claim-only"
        else f"grade (runs of {args.ceiling_run_s:g} s)"
    )
    print(f"\n== queue ceiling, {mode}: {args.ceiling_jobs} jobs queued in {filled:.0f} s; workers"
          f" that {what} let go {args.ceiling_step} every"
          f" {args.ceiling_step_s:g} s ==")  # fmt: skip
    steps: list[tuple[int, float, float]] = []  # (workers, start, end)
    released = 0
    while released < len(gates) and open_runs(engine) > 0:
        for gate in gates[released : released + args.ceiling_step]:
            gate.touch()
        released = min(len(gates), released + args.ceiling_step)
        start = time.time()
        time.sleep(args.ceiling_step_s)
        steps.append((released, start, time.time()))
    with contextlib.suppress(SystemExit):
        wait_until(lambda: open_runs(engine) == 0, args.drain_s, "the queue to drain", 1.0)
    left = open_runs(engine)
    workers = cluster.stop_workers()
    monitor.groups["workers"] = []
    best, previous = 0.0, 0.0
    for count, start, end in steps:
        # the first 2 s of a step are the new workers' first claims: measured after them
        took, _idle, jobs = claim_figures(workers, start + 2, end)
        rate = jobs / max(end - start - 2, 1e-9)
        best = max(best, rate)
        flat = " (no longer rising)" if previous and rate < previous * 1.05 else ""
        print(f"  {count:3d} workers: {rate:6.1f} claims/s, claim p50"
              f" {percentile(took, 50) * 1000:.1f}"
              f" ms p99 {percentile(took, 99) * 1000:.1f} ms{flat}")  # fmt: skip
        print("      " + cpu_line(monitor, start + 2, end))
        print("      claims: " + claim_split(workers, start + 2, end))
        previous = rate
    print(f"ceiling ({mode}): {best:.0f} claims/s (queue left at the end: {left})")
    return best


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--students", type=int, default=0, help="0: a quarter of submissions")
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument(
        "--submit-concurrency", type=int, default=0,
        help="the servers' ASSAY_SUBMIT_CONCURRENCY (0: their default)",
    )  # fmt: skip
    parser.add_argument(
        "--senders", type=int, default=0,
        help="processes sending the arrival (0: one per API server)",
    )  # fmt: skip
    parser.add_argument("--streams", type=int, default=1000, help="SSE streams held open")
    parser.add_argument("--base-share", type=float, default=0.1, help="rate at start / peak")
    parser.add_argument("--think-s", type=float, default=30.0)
    parser.add_argument("--resubmit-share", type=float, default=0.02)
    parser.add_argument("--run-median-s", type=float, default=0.5)
    parser.add_argument(
        "--worker-pool", type=int, default=3,
        help="database connections per worker process: its ASSAY_DATABASE_POOL_SIZE, with no"
        " overflow (0: the platform's defaults, 10 + 20)",
    )  # fmt: skip
    parser.add_argument("--poll-s", type=float, default=0.5, help="workers' ASSAY_WORKER_POLL_S")
    parser.add_argument("--idle-s", type=float, default=15.0, help="idle cluster measured first")
    parser.add_argument(
        "--give-up-factor", type=float, default=1.5,
        help="submissions not sent by this many times --minutes are left unsent (counted)",
    )  # fmt: skip
    parser.add_argument("--drain-s", type=float, default=300.0)
    parser.add_argument("--ceiling-jobs", type=int, default=8000, help="0: no ceiling phase")
    parser.add_argument("--ceiling-step", type=int, default=10)
    parser.add_argument("--ceiling-step-s", type=float, default=15.0)
    parser.add_argument("--ceiling-run-s", type=float, default=0.0)
    parser.add_argument(
        "--ceiling-modes", default="grading,claim-only",
        help="the ceiling's workers: grading (the real handler), claim-only (no grading)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--postgres-url", default="", help="a role that may create databases")
    parser.add_argument("--keep", action="store_true", help="keep the database and state")
    parser.add_argument(
        "--quick", action="store_true",
        help="try it: 500 submissions in 1 min, 10 workers, 200 streams, 1,000 ceiling jobs",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:  # other defaults; options given still count (--quick --streams 0)
        parser.set_defaults(submissions=500, minutes=1.0, workers=10, streams=200)
        parser.set_defaults(ceiling_jobs=1000, ceiling_step=5, ceiling_step_s=8.0, idle_s=5.0)
        args = parser.parse_args(argv)
    args.students = args.students or max(1, args.submissions // 4)
    args.mix = {"correct": 0.80, "wrong": 0.15, "loop": 0.05}

    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs,"
          f" load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
          f" (a shared VM: other work may run)")  # fmt: skip
    admin = admin_url(args.postgres_url)
    name, url = create_database(admin)
    root = Path(tempfile.mkdtemp(prefix="assay-cluster-"))
    cluster = Cluster(admin, name, url, root)
    engine = sa.create_engine(url, pool_size=2, max_overflow=2)
    monitor = Monitor(engine, name)
    status = 1
    try:
        settings = Settings(database_url=url, state_dir=root / "seed", secret_key=SECRET)
        began = time.monotonic()
        teacher, course_id, assignment_id, tokens = seed_course(settings, args.students)
        del teacher
        print(f"database {name}; {args.students} students seeded in"
              f" {time.monotonic() - began:.0f} s;"
              f" state {root}")  # fmt: skip
        monitor.start()
        for _ in range(args.servers):
            cluster.start_server(args.submit_concurrency)
        monitor.groups["api servers"] = [s.pid for s in cluster.servers]
        began = time.monotonic()
        for _ in range(args.workers):
            cluster.start_worker(args, "worker", run_s=args.run_median_s)
        monitor.groups["workers"] = [w.pid for w in cluster.workers]

        def all_up() -> bool:
            cluster.check_workers()
            return bool(live_workers(engine) >= args.workers)

        wait_until(all_up, 600, "the workers")
        print(f"{args.servers} API servers {cluster.server_urls}; {args.workers} workers up in"
              f" {time.monotonic() - began:.0f} s")  # fmt: skip
        status = run_exam(
            args=args,
            cluster=cluster,
            monitor=monitor,
            engine=engine,
            assignment_id=assignment_id,
            tokens=tokens,
        )
        if args.ceiling_jobs > 0:
            for mode in filter(None, args.ceiling_modes.split(",")):
                run_ceiling(
                    args=args,
                    cluster=cluster,
                    monitor=monitor,
                    engine=engine,
                    settings=settings,
                    course_id=course_id,
                    mode=mode,
                )
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        monitor.stop()
        cluster.stop()
        engine.dispose()
        if not args.keep:
            drop_database(admin, name)
            shutil.rmtree(root, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
