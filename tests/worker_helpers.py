"""Test support for the queue and workers: a course with python-io, batches, checks.

The checks are the fault tests' definition of "exactly once": every run of the
batch ends graded with the expected score, has exactly one terminal event, and
no job is left queued or running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from assay.config import get_settings
from assay.grading.submission import load_submission
from assay.services import Actor, Platform
from assay.services.catalog import assignments, courses
from assay.services.catalog.packages import pack_directory
from assay.services.identity import accounts
from assay.services.intake import submissions
from assay.storage.models import (
    GradingRun,
    Job,
    JobKind,
    JobStatus,
    Role,
    RunEvent,
    RunStatus,
)

ROOT = Path(__file__).resolve().parents[1]
PYTHON_IO = ROOT / "examples" / "assignments" / "python-io"
# kind of submission -> (directory, expected score)
KINDS = {
    "solution": (PYTHON_IO / "solution", 10.0),
    "wrong-answer": (PYTHON_IO / "bad" / "wrong-answer", 7.0),
}
TERMINAL = ("done", "error", "cancelled")


@dataclass(frozen=True)
class Course:
    course_id: int
    assignment_id: int
    instructor: Actor


def make_course(platform: Platform, code: str = "CS101") -> Course:
    admin = Actor.system()
    course = courses.create_course(platform, admin, code, "Queue tests")
    accounts.create_user(platform, admin, f"teach-{code}", None)
    courses.enroll(platform, admin, course.id, f"teach-{code}", Role.INSTRUCTOR)
    out = assignments.create_assignment(
        platform, admin, course.id, pack_directory(PYTHON_IO), publish=True
    )
    instructor = Actor(user_id=None, username=f"teach-{code}", is_admin=True)
    return Course(course.id, out.id, instructor)


def submit_batch(
    platform: Platform, course: Course, count: int, *, prefix: str = "s"
) -> dict[int, float]:
    """``count`` students submit once each (alternating kinds); run id -> expected score."""
    admin = Actor.system()
    kinds = list(KINDS)
    files = {kind: load_submission(path) for kind, (path, _score) in KINDS.items()}
    expected: dict[int, float] = {}
    for number in range(count):
        username = f"{prefix}{number}"
        user = accounts.create_user(platform, admin, username, None)
        courses.enroll(platform, admin, course.course_id, username, Role.STUDENT)
        kind = kinds[number % len(kinds)]
        student = Actor(user_id=user.id, username=username)
        out = submissions.submit(platform, student, course.assignment_id, files[kind])
        expected[out.run_id] = KINDS[kind][1]
    return expected


def run_statuses(platform: Platform, run_ids: Sequence[int]) -> dict[int, str]:
    with platform.db.session() as session:
        rows = session.execute(
            select(GradingRun.id, GradingRun.status).where(GradingRun.id.in_(run_ids))
        ).all()
    return {row[0]: row[1] for row in rows}


def wait_finished(platform: Platform, run_ids: Sequence[int], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    open_ = list(run_ids)
    while time.monotonic() < deadline:
        statuses = run_statuses(platform, run_ids)
        open_ = [r for r in run_ids if statuses[r] in (RunStatus.QUEUED, RunStatus.RUNNING)]
        if not open_:
            return
        time.sleep(0.2)
    raise AssertionError(f"{len(open_)} runs still open after {timeout_s} s: {open_[:10]}")


def graded_count(platform: Platform, run_ids: Sequence[int]) -> int:
    statuses = run_statuses(platform, run_ids)
    return sum(1 for status in statuses.values() if status == RunStatus.GRADED)


def assert_exactly_once(platform: Platform, expected: dict[int, float]) -> dict[str, int]:
    """Every run graded once with its score; returns figures (retried jobs...)."""
    run_ids = list(expected)
    with platform.db.session() as session:
        runs = {
            run.id: run
            for run in session.scalars(select(GradingRun).where(GradingRun.id.in_(run_ids)))
        }
        terminal = dict(
            session.execute(
                select(RunEvent.run_id, func.count(RunEvent.id))
                .where(RunEvent.run_id.in_(run_ids), RunEvent.stage.in_(TERMINAL))
                .group_by(RunEvent.run_id)
            ).all()
        )
        done_events = dict(
            session.execute(
                select(RunEvent.run_id, func.count(RunEvent.id))
                .where(RunEvent.run_id.in_(run_ids), RunEvent.stage == "done")
                .group_by(RunEvent.run_id)
            ).all()
        )
        # a grading job's target is a run; other kinds' ids (a check's version) may be equal
        of_runs = select(Job).where(Job.kind == JobKind.GRADE, Job.target_id.in_(run_ids))
        jobs = list(session.scalars(of_runs))
    problems = []
    for run_id, score in expected.items():
        run = runs[run_id]
        if run.status != RunStatus.GRADED or run.score != score or run.report is None:
            problems.append(f"run {run_id}: {run.status} score {run.score} (want {score})")
        if terminal.get(run_id) != 1 or done_events.get(run_id) != 1:
            problems.append(f"run {run_id}: {terminal.get(run_id)} terminal events")
    for job in jobs:
        if job.status != JobStatus.DONE:
            problems.append(f"job {job.id}: {job.status} ({job.error[:200]})")
    assert not problems, "\n".join(problems[:20])
    assert len(jobs) == len(expected), "one job per run"
    return {
        "runs": len(expected),
        "retried": sum(1 for job in jobs if job.attempts > 1),
        "max_attempts": max(job.attempts for job in jobs),
    }


# --- subprocesses ---------------------------------------------------------------------


def assay_env(settings_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    env.update(settings_env)
    env.setdefault("ASSAY_LOG_LEVEL", "INFO")
    # The machine's environment store, not STATE_DIR/environments of a temporary state
    # directory: a worker there would build every tree (a minute each) before grading.
    env.setdefault("ASSAY_ENVIRONMENTS_DIR", str(get_settings().resolved_environments_dir))
    return env


def start_assay(
    args: Sequence[str],
    env: dict[str, str],
    log_path: Path,
    *,
    netns: str | None = None,
) -> subprocess.Popen[bytes]:
    """``assay ARGS`` in its own process group, output to ``log_path``."""
    argv = [str(Path(sys.executable).parent / "assay"), *args]
    if netns is not None:
        # nsenter, not `ip netns exec`: that also remounts /sys, hiding the cgroups
        argv = ["nsenter", f"--net=/run/netns/{netns}", *argv]
    with log_path.open("ab") as log:
        return subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, wait_s: float = 30) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(wait_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
