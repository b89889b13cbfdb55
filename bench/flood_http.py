"""The flood over HTTP against ``assay serve`` on embedded defaults (see flood.py).

The accounts are made with the same services the CLI's local commands use
(``assay user create`` etc.) before the server starts; everything timed goes
through the HTTP API: each student submits with their own bearer token, and
an instructor token follows the submissions list until every run has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from assay.config import Settings
from assay.services import Actor, Platform
from assay.services.catalog import assignments, courses, packages
from assay.services.identity import accounts
from assay.storage.models import Role
from flood import ASSIGNMENT, KINDS, Outcome

API = "/api/v1"
IN_FLIGHT = 32  # submission requests the client keeps open at once
# Only to learn which runs ended (latencies come from server times); shorter than the
# server's keep-alive (5 s), so a polling connection is not closed as it is reused.
POLL_S = 3.0
TIMEOUT_S = 900.0
ENDED = ("graded", "error", "cancelled")
OPEN = ("queued", "running")
# The per-user limits would refuse a benchmark's polling; the flood measures grading.
SERVER_ENV = {
    "ASSAY_RATE_LIMIT_PER_MINUTE": "1000000",
    "ASSAY_SUBMIT_RATE_LIMIT_PER_MINUTE": "1000000",
    "ASSAY_LOG_LEVEL": "WARNING",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(
    settings: Settings, students: int, assignment_dir: Path = ASSIGNMENT, slug: str = "flood"
) -> tuple[str, int, list[str]]:
    """Instructor token, assignment id, one token per student (bench/exam_peak.py
    seeds its own assignment)."""
    platform = Platform.open(settings)
    try:
        system = Actor.system("flood")
        teacher = accounts.create_user(platform, system, "teacher", None)
        course = courses.create_course(platform, system, "FLOOD", "Flood")
        courses.enroll(platform, system, course.id, "teacher", Role.INSTRUCTOR)
        package = packages.pack_directory(assignment_dir)
        assignment = assignments.create_assignment(
            platform, system, course.id, package, slug=slug, publish=True
        )
        teacher_token = accounts.create_token_for(platform, system, teacher.id, "flood").token
        tokens = []
        for n in range(students):
            user = accounts.create_user(platform, system, f"s{n:04d}", None)
            courses.enroll(platform, system, course.id, user.username, Role.STUDENT)
            tokens.append(accounts.create_token_for(platform, system, user.id, "flood").token)
        return teacher_token, assignment.id, tokens
    finally:
        platform.close()


def server_env(state: Path, port: int) -> dict[str, str]:
    """The environment of a bench's ``assay serve``: this process's, with SERVER_ENV, the
    state directory ``state`` (SQLite there: no ASSAY_DATABASE_URL, no config file), the
    machine's environment store and the loopback ``port``."""
    env = {
        **os.environ,
        **SERVER_ENV,
        "ASSAY_STATE_DIR": str(state),
        # not the store in the fresh state directory: the first runs would wait for
        # python3's tree to be made there (47 s on the development VM)
        "ASSAY_ENVIRONMENTS_DIR": str(Settings().resolved_environments_dir),
        "ASSAY_HOST": "127.0.0.1",
        "ASSAY_PORT": str(port),
    }
    env.pop("ASSAY_DATABASE_URL", None)  # embedded defaults: SQLite in the state dir
    env.pop("ASSAY_CONFIG_FILE", None)
    return env


def start_server(env: dict[str, str], workers: int, log: Path) -> subprocess.Popen[bytes]:
    argv = [str(Path(sys.executable).parent / "assay"), "serve"]
    if workers:
        argv += ["--workers", str(workers)]
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop_server(server: subprocess.Popen[bytes], wait_s: float = 30.0) -> None:
    """SIGTERM (the server drains its workers), SIGKILL after ``wait_s``."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(wait_s)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def wait_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"assay serve exited: {log.read_text()[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit("assay serve did not become ready in 60 s")


async def flood(
    url: str,
    assignment_id: int,
    teacher: str,
    kinds: list[str],
    tokens: list[str],
    *,
    rate: float,
    files: Mapping[str, Mapping[str, str]] | None = None,
) -> list[Outcome]:
    """Send every submission, then follow them to their reports.

    ``rate`` > 0: an open-loop arrival, submission i is due ``i / rate`` s after the
    start and its latency counts from then, even if the client is late to send it
    (so a slow server cannot hide its queue by slowing the sender). ``rate`` 0: all
    at once (a burst; latency counts from the start for every one). ``files``: each
    kind's submitted files (default: the flood's ``add.py`` of each kind)."""
    if files is None:
        files = {kind: {"add.py": (path / "add.py").read_text()} for kind, path in KINDS.items()}
    outcomes = [Outcome(kind) for kind in kinds]
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    # A bounded number of requests in flight: httpx's pool gets slow with hundreds of
    # requests queued in it, and that CPU would be taken from the server it measures.
    gate = asyncio.Semaphore(IN_FLIGHT)
    async with httpx.AsyncClient(base_url=url + API, limits=limits, timeout=120) as client:
        started = time.monotonic()

        async def submit(n: int, outcome: Outcome, token: str) -> None:
            due = started + (n / rate if rate > 0 else 0.0)
            if due > time.monotonic():
                await asyncio.sleep(due - time.monotonic())
            outcome.extra["sent"] = due
            async with gate:
                try:
                    response = await client.post(
                        f"/assignments/{assignment_id}/submissions",
                        json={"files": dict(files[outcome.kind])},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                except httpx.TransportError as exc:
                    # Not retried: the server may have stored it (a retry would be a
                    # second submission that cancels the first). Reported as failed.
                    outcome.problem = f"submit failed after {time.monotonic() - due:.1f} s: {exc!r}"
                    return
            outcome.submitted = time.monotonic()
            if response.status_code == 201:
                body = response.json()
                outcome.extra["id"] = body["id"]
                outcome.extra["created"] = _timestamp(str(body["created_at"]))
            else:
                outcome.problem = f"submit refused: {response.status_code} {response.text[:200]}"

        await asyncio.gather(
            *(submit(n, o, t) for n, (o, t) in enumerate(zip(outcomes, tokens, strict=True)))
        )
        print(f"all {len(outcomes)} submitted in {time.monotonic() - started:.1f} s")
        await follow(client, assignment_id, teacher, outcomes)
    return outcomes


def _timestamp(iso: str) -> float:
    """Seconds since the epoch of an ISO time from the API (naive times are UTC)."""
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


async def follow(
    client: httpx.AsyncClient, assignment_id: int, teacher: str, outcomes: list[Outcome]
) -> None:
    """Poll the staff list of the runs still open until every run ended; fetch each
    report once.

    Only open runs are listed (queued first, then running: a run only moves on, so
    one that is in neither list has ended; its report confirms it). Listing every
    run with its report four times a second made the server decode hundreds of
    reports per poll: load from the measuring client, not from grading.
    """
    headers = {"Authorization": f"Bearer {teacher}"}
    by_id = {int(o.extra["id"]): o for o in outcomes if "id" in o.extra}
    pending = set(by_id)
    deadline = time.monotonic() + TIMEOUT_S
    while pending and time.monotonic() < deadline:
        seen = time.monotonic()
        still_open: set[int] = set()
        for status in OPEN:
            for offset in range(0, len(by_id), 500):
                response = await _get(
                    client,
                    "/admin/submissions",
                    params={
                        "assignment_id": assignment_id,
                        "status": status,
                        "limit": 500,
                        "offset": offset,
                    },
                    headers=headers,
                )
                response.raise_for_status()
                rows = response.json()
                still_open |= {int(str(row["id"])) for row in rows}
                if len(rows) < 500:
                    break
        for sid in sorted(pending - still_open):
            response = await _get(client, f"/submissions/{sid}/report", headers=headers)
            response.raise_for_status()
            body = response.json()
            if body.get("status") not in ENDED:
                continue  # retried meanwhile: still open after all
            pending.discard(sid)
            outcome = by_id[sid]
            outcome.done = seen
            report = body.get("report") or {"status": body["status"], "error": body.get("error")}
            outcome.report = report
            if body.get("report") and "created" in outcome.extra:
                graded = _timestamp(str(report["graded_at"]))
                outcome.extra["server_latency"] = graded - outcome.extra["created"]
                # when the report was recorded, on this clock: accepted (the POST's
                # answer arrived) + the server's accepted -> recorded. No polling error,
                # so the poll can be slow and light on the server it measures.
                outcome.done = outcome.submitted + outcome.extra["server_latency"]
        if pending:
            await asyncio.sleep(max(0.0, POLL_S - (time.monotonic() - seen)))


async def _get(client: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
    """A GET, once more if the connection broke (a GET may be repeated: a kept-alive
    connection the server closed just as it was reused fails this way)."""
    try:
        return await client.get(url, **kwargs)
    except httpx.TransportError:
        return await client.get(url, **kwargs)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuGroup:
    """CPU seconds of a changing set of processes since they were first seen (one
    born since the last sample, ``born_now``: all its CPU)."""

    def __init__(self) -> None:
        self.base: dict[int, float] = {}
        self.last: dict[int, float] = {}

    def sample(self, pids: Iterable[int], *, born_now: bool) -> None:
        for pid in pids:
            try:
                cpu = process_cpu_s(pid)
            except (OSError, IndexError, ValueError):
                continue
            if pid not in self.base:  # a process born since the last sample: all its CPU
                self.base[pid] = 0.0 if born_now else cpu
            self.last[pid] = cpu

    @property
    def total(self) -> float:
        return sum(self.last[pid] - self.base[pid] for pid in self.last)


def idle_core_s() -> float:
    """Core-seconds the whole machine has been idle since boot (``/proc/stat``)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")


class IdleTimeline:
    """The machine's idle core-seconds in each ``step_s`` of the flood (a thread)."""

    def __init__(self, step_s: float = 10.0) -> None:
        self.step_s = step_s
        self.idle: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        last = idle_core_s()
        while not self._stop.wait(self.step_s):
            now = idle_core_s()
            self.idle.append(now - last)
            last = now

    def stop(self) -> str:
        self._stop.set()
        self._thread.join()
        return " ".join(f"{value:.1f}" for value in self.idle)


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def print_stages(
    database: Path, outcomes: list[Outcome], kinds: Iterable[str] = tuple(KINDS)
) -> None:
    """Median seconds from each recorded stage of a run to the next, per kind: where
    the server-side latency goes (queued -> started is waiting for a slot, started ->
    setup the sandbox and package, testing -> done the run itself and its report)."""
    if not database.exists():
        return
    kind_of = {int(o.extra["id"]): o.kind for o in outcomes if "id" in o.extra}
    gaps: dict[tuple[str, str], list[float]] = {}
    with contextlib.closing(sqlite3.connect(database)) as connection:
        rows = connection.execute(
            "SELECT r.submission_id, e.stage, e.created_at FROM run_events e"
            " JOIN grading_runs r ON r.id = e.run_id ORDER BY e.run_id, e.seq"
        ).fetchall()
    previous: dict[int, tuple[str, datetime]] = {}
    for submission_id, stage, created in rows:
        moment = datetime.fromisoformat(str(created))
        kind = kind_of.get(int(submission_id))
        if kind is None:
            continue
        if submission_id in previous:
            before, at = previous[submission_id]
            key = (kind, f"{before}->{stage}")
            gaps.setdefault(key, []).append((moment - at).total_seconds())
        previous[submission_id] = (stage, moment)
    print("server-side stages (median / max s):")
    for kind in kinds:
        parts = [
            f"{step} {statistics.median(values):.2f}/{max(values):.2f}"
            for (k, step), values in gaps.items()
            if k == kind
        ]
        print(f"  {kind:9s}: " + "  ".join(parts))


def run_http(kinds: list[str], workers: int, rate: float) -> tuple[list[Outcome], float]:
    state = Path(tempfile.mkdtemp(prefix="assay-flood-"))
    port = free_port()
    env = server_env(state, port)
    settings = Settings(state_dir=state, host="127.0.0.1", port=port)
    teacher, assignment_id, tokens = seed(settings, len(kinds))
    url = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkstemp(prefix="assay-flood-", suffix=".log")[1])
    server = start_server(env, workers, log)
    print(f"server: {url}, state {state}, log {log}")
    try:
        wait_ready(url, server, log)
        started = time.monotonic()
        client_before, idle_before = own_cpu_s(), idle_core_s()
        server_before = process_cpu_s(server.pid)
        timeline = IdleTimeline()
        outcomes = asyncio.run(flood(url, assignment_id, teacher, kinds, tokens, rate=rate))
        client_cpu, idle = own_cpu_s() - client_before, idle_core_s() - idle_before
        server_cpu = process_cpu_s(server.pid) - server_before
        idle_steps = timeline.stop()
        for outcome in outcomes:
            outcome.submitted = outcome.extra.get("sent", started)  # client: request sent
        print_stages(state / "assay.db", outcomes)
        print(
            f"during the flood: CPU of the server process (its own threads, not the "
            f"runs) {server_cpu:.1f} s, of this client {client_cpu:.1f} s; the machine's "
            f"cores idle {idle:.1f} s"
        )
        print(f"idle core-seconds in each {timeline.step_s:g} s of the flood: {idle_steps}")
        return outcomes, started
    finally:
        stop_server(server)
        shutil.rmtree(state, ignore_errors=True)
