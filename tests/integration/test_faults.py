"""Fault tolerance with real processes: a worker killed with SIGKILL, a server killed
and restarted, each in the middle of a batch of 50 submissions.

Afterwards every submission has exactly one graded run with the right score (10
for the reference solution, 7 for the wrong answer), one terminal event, and its
job is done; the jobs the dead process held were run again (attempt 2), and the
dead process's sandboxes were cleaned up by the survivor's watchdog.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from assay.services import Platform
from assay.storage.models import GradingRun, Job, JobStatus, RunEvent, Worker, WorkerState
from helpers import require_backend
from platform_helpers import DATABASE_KINDS, database_url, free_port, open_platform, settings_for
from worker_helpers import (
    assay_env,
    assert_exactly_once,
    graded_count,
    make_course,
    start_assay,
    stop,
    submit_batch,
    wait_finished,
)

BATCH = 50
LEASE_S = 3.0
CGROUP_JOBS = Path("/sys/fs/cgroup/pids/assay")


@contextmanager
def fault_platform(kind: str, tmp_path: Path) -> Iterator[Platform]:
    require_backend("native", "python3")
    # Not below tmp_path: pytest makes its parents 0700, and sandboxed processes
    # must be able to reach STATE_DIR/etc (the backend makes STATE_DIR itself 0711).
    state = Path(tempfile.mkdtemp(prefix="assay-faults-"))
    with database_url(kind, tmp_path) as url:
        settings = settings_for(
            url,
            state,
            worker_lease_s=LEASE_S,
            worker_heartbeat_s=0.5,
            watchdog_interval_s=1.0,
            worker_poll_s=0.2,
            worker_slots=2,
            worker_stop_timeout_s=5.0,
        )
        platform = open_platform(settings)
        try:
            yield platform
        finally:
            platform.close()
            shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(params=DATABASE_KINDS)
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    with fault_platform(request.param, tmp_path) as platform:
        yield platform


@pytest.fixture
def embedded_platform(tmp_path: Path) -> Iterator[Platform]:
    """The embedded deployment (`assay serve` on SQLite) that a restart is about."""
    with fault_platform("sqlite", tmp_path) as platform:
        yield platform


def env_for(platform: Platform) -> dict[str, str]:
    s = platform.settings
    return assay_env(
        {
            "ASSAY_DATABASE_URL": s.resolved_database_url,
            "ASSAY_STATE_DIR": str(s.state_dir),
            "ASSAY_SECRET_KEY": s.secret_key,
            "ASSAY_WORKER_LEASE_S": str(s.worker_lease_s),
            "ASSAY_WORKER_HEARTBEAT_S": str(s.worker_heartbeat_s),
            "ASSAY_WATCHDOG_INTERVAL_S": str(s.watchdog_interval_s),
            "ASSAY_WORKER_POLL_S": str(s.worker_poll_s),
            "ASSAY_WORKER_SLOTS": str(s.worker_slots),
            "ASSAY_WORKER_STOP_TIMEOUT_S": str(s.worker_stop_timeout_s),
        }
    )


def worker_prefix(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:"


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def running_jobs_of(platform: Platform, pid: int) -> int:
    with platform.db.session() as session:
        return int(
            session.scalar(
                select(func.count(Job.id)).where(
                    Job.status == JobStatus.RUNNING, Job.worker_id.like(worker_prefix(pid) + "%")
                )
            )
            or 0
        )


def kill_mid_batch(platform: Platform, process: subprocess.Popen[bytes], runs: list[int]) -> None:
    """SIGKILL ``process`` once it has graded some runs and holds running jobs."""
    wait_until(
        lambda: graded_count(platform, runs) >= 5 and running_jobs_of(platform, process.pid) > 0,
        timeout_s=120,
        what="the first process to be mid-batch",
    )
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    assert graded_count(platform, runs) < len(runs), "the batch ended before the kill"


def check_aftermath(platform: Platform, expected: dict[int, float], dead_pid: int) -> None:
    figures = assert_exactly_once(platform, expected)
    assert figures["retried"] >= 1, "the killed process's running jobs were not re-run"
    assert figures["max_attempts"] <= 2
    with platform.db.session() as session:
        # a run has a "started" event per attempt that got that far, never more
        rows = session.execute(
            select(Job.target_id, Job.attempts).where(Job.target_id.in_(expected))
        ).all()
        attempts = {row[0]: row[1] for row in rows}
        started = dict(
            session.execute(
                select(RunEvent.run_id, func.count(RunEvent.id))
                .where(RunEvent.run_id.in_(expected), RunEvent.stage == "started")
                .group_by(RunEvent.run_id)
            ).all()
        )
        for run_id in expected:
            assert 1 <= started[run_id] <= attempts[run_id], run_id
        dead = session.scalars(
            select(Worker).where(Worker.id.like(worker_prefix(dead_pid) + "%"))
        ).one()
        graders = set(session.scalars(select(GradingRun.worker_id)))
    assert dead.state == WorkerState.DEAD
    assert len(graders) == 2 and dead.id in graders  # it graded some before it died
    print(f"\nfault figures: {figures}")


def assert_sandboxes_cleaned(platform: Platform, dead_pid: int) -> None:
    """The survivor's watchdog removed the dead process's workspaces and job cgroups."""

    def leftovers() -> list[str]:
        found = [p.name for p in (platform.settings.state_dir / "sandboxes").glob(f"{dead_pid}-*")]
        if CGROUP_JOBS.is_dir():
            found += [p.name for p in CGROUP_JOBS.glob(f"job-{dead_pid}-*")]
        return found

    wait_until(lambda: not leftovers(), timeout_s=15, what=f"cleanup of {leftovers()}")


def test_a_worker_killed_mid_batch_loses_and_repeats_nothing(
    platform: Platform,
    processes: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    env = env_for(platform)
    course = make_course(platform)
    expected = submit_batch(platform, course, BATCH)
    runs = list(expected)
    first = start_assay(["worker"], env, tmp_path / "worker-1.log")
    processes.append(first)
    kill_mid_batch(platform, first, runs)
    started = time.monotonic()
    second = start_assay(["worker"], env, tmp_path / "worker-2.log")
    processes.append(second)
    wait_finished(platform, runs, timeout_s=180)
    print(f"\nthe rest of the batch took {time.monotonic() - started:.1f} s")
    stop(second, signal.SIGTERM)
    assert second.returncode == 0, (tmp_path / "worker-2.log").read_text()[-3000:]
    check_aftermath(platform, expected, first.pid)
    assert_sandboxes_cleaned(platform, first.pid)
    with platform.db.session() as session:
        survivor = session.scalars(
            select(Worker).where(Worker.id.like(worker_prefix(second.pid) + "%"))
        ).one()
    assert survivor.state == WorkerState.STOPPED


def test_a_server_killed_and_restarted_mid_batch_loses_and_repeats_nothing(
    embedded_platform: Platform,
    processes: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    platform = embedded_platform
    env = env_for(platform)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = ["serve", "--port", str(port), "--workers", "2"]
    course = make_course(platform)
    first = start_assay(serve, env, tmp_path / "serve-1.log")
    processes.append(first)
    wait_until(lambda: healthy(url), timeout_s=60, what="the server")
    expected = submit_batch(platform, course, BATCH)
    runs = list(expected)
    kill_mid_batch(platform, first, runs)
    assert not healthy(url)
    second = start_assay(serve, env, tmp_path / "serve-2.log")
    processes.append(second)
    wait_until(lambda: healthy(url), timeout_s=60, what="the restarted server")
    wait_finished(platform, runs, timeout_s=180)
    stop(second, signal.SIGTERM)
    assert second.returncode == 0, (tmp_path / "serve-2.log").read_text()[-3000:]
    check_aftermath(platform, expected, first.pid)
    assert_sandboxes_cleaned(platform, first.pid)


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
