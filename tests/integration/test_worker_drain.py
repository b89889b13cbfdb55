"""Workers drain on SIGTERM: real `assay worker` processes, PostgreSQL, the native sandbox.

A slow but correct submission (python-io's solution sleeping before it answers, so
a job takes several seconds) is running when the worker gets SIGTERM:

- with a long drain the worker claims nothing more, lets the job finish, records it
  itself (graded once, first attempt) and exits 0;
- with a short drain the job is handed back at the deadline: queued again at once
  (not after a lease), attempt not used, nothing recorded but a ``queued`` event
  saying so, the first worker's sandboxes killed; a second worker grades it, once,
  with the right score.

Also the hand-back's race with the job's own finish on PostgreSQL (two connections),
and the health check of a live, draining and stopped worker.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.grading.submission import load_submission
from assay.queue import JobQueue
from assay.queue.jobs import HANDED_BACK_ERROR
from assay.services import Actor, Platform
from assay.services.catalog import courses
from assay.services.identity import accounts
from assay.services.intake import submissions
from assay.services.intake.runs import REQUEUED_DETAIL
from assay.storage.db import Database
from assay.storage.models import GradingRun, Job, JobKind, JobStatus, Role, RunEvent, RunStatus
from assay.worker import health
from integration.test_faults import (
    CGROUP_JOBS,
    env_for,
    fault_platform,
    running_jobs_of,
    wait_until,
    worker_prefix,
)
from platform_helpers import database_url, free_port
from worker_helpers import KINDS, Course, assert_exactly_once, make_course, start_assay

SLEEP_PER_TEST_S = 0.6  # python-io has 10 tests, run two at a time: a job takes ~4 s


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    with fault_platform("postgresql", tmp_path) as platform:
        yield platform


def slow_solution(tmp_path: Path) -> Path:
    """python-io's solution, sleeping before it reads its input (still right: 10/10)."""
    directory = tmp_path / "slow"
    shutil.copytree(KINDS["solution"][0], directory)
    stats = directory / "stats.py"
    stats.write_text(f"import time\ntime.sleep({SLEEP_PER_TEST_S})\n" + stats.read_text())
    return directory


def submit(platform: Platform, course: Course, files_dir: Path, count: int) -> list[int]:
    admin = Actor.system()
    files = load_submission(files_dir)
    runs: list[int] = []
    for _ in range(count):
        username = f"s{len(runs)}-{time.monotonic_ns()}"
        user = accounts.create_user(platform, admin, username, None)
        courses.enroll(platform, admin, course.course_id, username, Role.STUDENT)
        student = Actor(user_id=user.id, username=username)
        runs.append(submissions.submit(platform, student, course.assignment_id, files).run_id)
    return runs


def worker_env(platform: Platform, stop_timeout_s: float, health: Path) -> dict[str, str]:
    env = env_for(platform)
    env["ASSAY_WORKER_STOP_TIMEOUT_S"] = str(stop_timeout_s)
    env["ASSAY_WORKER_HEALTH_FILE"] = str(health)
    return env


def check_health(env: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "assay"), "worker", "--check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def job_rows(platform: Platform, runs: list[int]) -> dict[int, Job]:
    with platform.db.session() as session:
        return {
            job.target_id: job
            for job in session.scalars(select(Job).where(Job.target_id.in_(runs)))
        }


def stages(platform: Platform, run_id: int) -> list[tuple[str, str]]:
    with platform.db.session() as session:
        rows = session.execute(
            select(RunEvent.stage, RunEvent.detail)
            .where(RunEvent.run_id == run_id)
            .order_by(RunEvent.seq)
        ).all()
    return [(row[0], row[1]) for row in rows]


def live_job_cgroups(pid: int) -> list[str]:
    """Job cgroups of ``pid`` that still hold processes."""
    if not CGROUP_JOBS.is_dir():
        return []
    return [
        path.name
        for path in CGROUP_JOBS.glob(f"job-{pid}-*")
        if (path / "cgroup.procs").read_text().strip()
    ]


@dataclass
class Drained:
    """A process (``assay worker`` or ``assay serve``) that drained on SIGTERM mid-run."""

    argv: list[str]
    name: str
    env: dict[str, str]
    runs: list[int]
    log: Path
    took: float  # SIGTERM -> exit, seconds


def sigterm_mid_run(
    platform: Platform,
    processes: list[subprocess.Popen[bytes]],
    tmp_path: Path,
    argv: list[str],
    name: str,
) -> Drained:
    """Two slow runs of a new course; ``assay ARGV`` with a 1 s drain gets SIGTERM once
    both are testing. It must exit 0 within 10 s, both jobs queued again at once with
    their attempt unused, its sandboxes killed."""
    course = make_course(platform)
    runs = submit(platform, course, slow_solution(tmp_path), 2)
    env = worker_env(platform, 1.0, tmp_path / f"{name}.health")
    log = tmp_path / f"{name}-1.log"
    first = start_assay(argv, env, log)
    processes.append(first)
    wait_until(
        lambda: all(any(stage == "testing" for stage, _ in stages(platform, run)) for run in runs),
        60,
        "both runs to be testing",
    )
    os.kill(first.pid, signal.SIGTERM)
    signalled = time.monotonic()
    first.wait(30)
    took = time.monotonic() - signalled
    assert first.returncode == 0, log.read_text()[-3000:]
    assert took < 10, f"the drain took {took:.1f} s with a 1 s stop timeout"
    for job in job_rows(platform, runs).values():
        assert (job.status, job.attempts) == (JobStatus.QUEUED, 0)
    assert live_job_cgroups(first.pid) == []  # its sandboxes were killed
    return Drained(argv, name, env, runs, log, took)


def regraded_once(
    platform: Platform,
    processes: list[subprocess.Popen[bytes]],
    drained: Drained,
    what: str,
) -> subprocess.Popen[bytes]:
    """The same ``assay`` command started again grades the handed-back runs, each once
    with its score, on its first attempt (the hand-back used none)."""
    second = start_assay(drained.argv, drained.env, drained.log.with_name(f"{drained.name}-2.log"))
    processes.append(second)
    wait_until(
        lambda: all(j.status == JobStatus.DONE for j in job_rows(platform, drained.runs).values()),
        90,
        what,
    )
    figures = assert_exactly_once(platform, dict.fromkeys(drained.runs, 10.0))
    assert figures["max_attempts"] == 1
    return second


def test_sigterm_with_a_long_drain_lets_the_jobs_finish_there(
    platform: Platform, processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    course = make_course(platform)
    runs = submit(platform, course, slow_solution(tmp_path), 2)
    health_path = tmp_path / "worker.health"
    env = worker_env(platform, 60.0, health_path)
    log = tmp_path / "worker.log"
    worker = start_assay(["worker"], env, log)
    processes.append(worker)
    wait_until(lambda: running_jobs_of(platform, worker.pid) == 2, 60, "both jobs running")
    code, said = check_health(env)
    assert code == 0 and "running" in said, said
    os.kill(worker.pid, signal.SIGTERM)  # to the worker alone, as Kubernetes does
    signalled = time.monotonic()
    wait_until(  # read here: the CLI's start-up may outlast the drain on a busy machine
        lambda: "draining" in health.check(health_path, 10.0)[1], 10, "the health file to drain"
    )
    late = submit(platform, course, KINDS["solution"][0], 1)  # after SIGTERM: not claimed
    worker.wait(60)
    took = time.monotonic() - signalled
    assert worker.returncode == 0, log.read_text()[-3000:]
    figures = assert_exactly_once(platform, dict.fromkeys(runs, 10.0))
    assert figures["max_attempts"] == 1  # graded by the first attempt, not retried
    with platform.db.session() as session:
        graders = set(session.scalars(select(GradingRun.worker_id).where(GradingRun.id.in_(runs))))
    assert len(graders) == 1 and str(next(iter(graders))).startswith(worker_prefix(worker.pid))
    (waiting,) = job_rows(platform, late).values()
    assert (waiting.status, waiting.attempts) == (JobStatus.QUEUED, 0)
    code, said = check_health(env)
    assert code == 1 and "does not exist" in said, said  # removed at exit
    print(f"\nlong drain: exited {took:.1f} s after SIGTERM with both jobs graded there")


def test_sigterm_with_a_short_drain_hands_the_jobs_back_to_another_worker(
    platform: Platform, processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    drained = sigterm_mid_run(platform, processes, tmp_path, ["worker"], "worker")
    runs = drained.runs
    # handed back at once (the lease is 3 s; no watchdog ran): no owner, the reason said
    for job in job_rows(platform, runs).values():
        assert (job.worker_id, job.error) == (None, HANDED_BACK_ERROR)
    for run in runs:
        events = stages(platform, run)
        assert events[-1] == ("queued", REQUEUED_DETAIL), events
        assert not any(stage in ("done", "error") for stage, _ in events)
    with platform.db.session() as session:
        statuses = set(session.scalars(select(GradingRun.status).where(GradingRun.id.in_(runs))))
    assert statuses == {RunStatus.QUEUED}
    assert "handed back jobs" in drained.log.read_text()
    second = regraded_once(platform, processes, drained, "the second worker to grade both")
    with platform.db.session() as session:
        graders = set(session.scalars(select(GradingRun.worker_id).where(GradingRun.id.in_(runs))))
        started = session.scalar(
            select(func.count(RunEvent.id)).where(
                RunEvent.run_id.in_(runs), RunEvent.stage == "started"
            )
        )
    assert len(graders) == 1 and str(next(iter(graders))).startswith(worker_prefix(second.pid))
    assert started == 4  # once per worker that took each run
    print(f"\nshort drain: handed back and exited {drained.took:.1f} s after SIGTERM")


@pytest.mark.parametrize("finish_first", [True, False], ids=["finish-first", "hand-back-first"])
def test_a_hand_back_and_the_jobs_own_finish_race_to_exactly_one(
    tmp_path: Path, finish_first: bool
) -> None:
    """On PostgreSQL, each waits for the other's transaction on the job's row: whichever
    commits first wins, the other finds the job is no longer its worker's."""
    with database_url("postgresql", tmp_path) as url:
        db = Database(url)
        db.migrate()
        queue = JobQueue(db, lease_s=30, max_attempts=2)
        try:
            with db.session() as session:
                job_id = queue.enqueue(session, JobKind.GRADE, 1)[0].id
            assert queue.claim("w") is not None

            def finish(session: Session) -> bool:
                return queue.finish(session, job_id, "w")

            def hand_back(session: Session) -> bool:
                return queue.hand_back(session, job_id, "w")

            first, second = (finish, hand_back) if finish_first else (hand_back, finish)
            outcome: dict[str, bool] = {}
            holds, commit = threading.Event(), threading.Event()

            def first_transaction() -> None:
                with db.session() as session:
                    outcome[first.__name__] = first(session)
                    holds.set()
                    commit.wait(10)  # commit only once the second one waits

            thread = threading.Thread(target=first_transaction)
            thread.start()
            assert holds.wait(10)
            timer = threading.Timer(0.5, commit.set)
            timer.start()
            started = time.monotonic()
            with db.session() as session:
                outcome[second.__name__] = second(session)
            waited = time.monotonic() - started
            thread.join(10)
            timer.join()
            assert waited >= 0.4  # it waited for the row the first one held
            assert outcome == {first.__name__: True, second.__name__: False}
            with db.session() as session:
                row = session.get(Job, job_id)
                assert row is not None
                want = (JobStatus.DONE, 1) if finish_first else (JobStatus.QUEUED, 0)
                assert (row.status, row.attempts) == want
        finally:
            db.dispose()


def test_sigterm_to_assay_serve_hands_its_embedded_workers_jobs_back(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """The embedded deployment (SQLite, workers in the server): the same drain, and the
    restarted server grades the handed-back runs once each."""
    with fault_platform("sqlite", tmp_path) as platform:
        serve = ["serve", "--port", str(free_port()), "--workers", "2"]
        drained = sigterm_mid_run(platform, processes, tmp_path, serve, "serve")
        regraded_once(platform, processes, drained, "the restarted server to grade both")
        for run in drained.runs:
            assert ("queued", REQUEUED_DETAIL) in stages(platform, run)
        print(f"\nassay serve: handed back and exited {drained.took:.1f} s after SIGTERM")
