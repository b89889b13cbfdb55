"""The watchdog: jobs of dead workers, jobs out of attempts, dead workers, stale sandboxes."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from assay.sandbox.native.cgroups import detect_driver
from assay.sandbox.native.stale import remove_stale_sandboxes
from assay.sandbox.native.workspace import _mount_tmpfs
from assay.services import Platform, workers
from assay.storage.models import (
    GradingRun,
    Job,
    JobStatus,
    RunEvent,
    RunStatus,
    Worker,
    WorkerState,
    utcnow,
)
from helpers import require_backend
from platform_helpers import DATABASE_KINDS, database_url, settings_for
from worker_helpers import make_course, submit_batch


@pytest.fixture(params=DATABASE_KINDS)
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    with database_url(request.param, tmp_path) as url:
        settings = settings_for(url, tmp_path / "state", worker_lease_s=5.0, job_max_attempts=2)
        platform = Platform.open(settings)
        yield platform
        platform.close()


def expire(platform: Platform) -> None:
    """Move every running lease and heartbeat into the past (a dead worker)."""
    past = utcnow() - timedelta(seconds=60)
    with platform.db.session() as session:
        session.execute(
            update(Job).where(Job.status == JobStatus.RUNNING).values(lease_expires_at=past)
        )
        session.execute(update(Worker).values(heartbeat_at=past))


def test_jobs_of_a_dead_worker_are_requeued_then_failed_out_of_attempts(
    platform: Platform,
) -> None:
    course = make_course(platform)
    (run_id,) = submit_batch(platform, course, 1)
    workers.register(platform, "dead-1", 1)
    assert platform.queue.claim("dead-1") is not None
    expire(platform)
    report = workers.watchdog(platform, clean_sandboxes=False)
    assert len(report.requeued) == 1 and report.dead_workers == ["dead-1"]
    workers.register(platform, "dead-2", 1)
    claimed = platform.queue.claim("dead-2")
    assert claimed is not None and claimed.attempt == 2  # the last one
    expire(platform)
    report = workers.watchdog(platform, clean_sandboxes=False)
    assert report.requeued == [] and report.failed == [claimed.id]
    assert workers.watchdog(platform, clean_sandboxes=False).failed == []  # once
    with platform.db.session() as session:
        run = session.get(GradingRun, run_id)
        job = session.get(Job, claimed.id)
        stages = list(
            session.scalars(
                select(RunEvent.stage).where(RunEvent.run_id == run_id).order_by(RunEvent.seq)
            )
        )
        states = set(session.scalars(select(Worker.state)))
    assert run is not None and job is not None
    assert run.status == RunStatus.ERROR and "lease expired" in run.error
    assert job.status == JobStatus.FAILED
    assert stages == ["queued", "error"]
    assert states == {WorkerState.DEAD}


def test_a_job_past_the_timeout_is_reported(platform: Platform) -> None:
    course = make_course(platform)
    submit_batch(platform, course, 1)
    claimed = platform.queue.claim("slow")
    assert claimed is not None
    assert workers.watchdog(platform, clean_sandboxes=False).overdue == []
    with platform.db.session() as session:
        session.execute(update(Job).values(started_at=utcnow() - timedelta(seconds=2 * 900)))
    assert workers.watchdog(platform, clean_sandboxes=False).overdue == [claimed.id]


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_stale_sandboxes_of_a_dead_process_are_killed_and_removed() -> None:
    require_backend("native", "python3")
    state = Path(tempfile.mkdtemp(prefix="assay-stale-"))
    settings = settings_for("sqlite://", state)
    owner = dead_pid()
    driver = detect_driver(settings.cgroup_parent)
    cgroup = driver.create(f"job-{owner}-0")
    mine = driver.create(f"job-{os.getpid()}-999999")  # alive owner: must be kept
    orphan = subprocess.Popen(["sleep", "600"])
    workspace = state / "sandboxes" / f"{owner}-0123abcd"
    (workspace / "work").mkdir(parents=True)
    try:
        for procs in cgroup.procs_files:
            procs.write_text(str(orphan.pid))
        _mount_tmpfs(workspace / "work", 1 << 20, 0, 0)
        removed = remove_stale_sandboxes(settings)
        assert f"cgroup job-{owner}-0" in removed
        assert str(workspace) in removed
        assert orphan.wait(5) == -9  # killed with its cgroup
        assert f"job-{owner}-0" not in driver.job_names()
        assert f"job-{os.getpid()}-999999" in driver.job_names()
        assert not workspace.exists()
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()
        mine.remove()
        if f"job-{owner}-0" in driver.job_names():
            cgroup.kill_all()
            cgroup.remove()
        subprocess.run(["umount", "-l", str(workspace / "work")], capture_output=True, check=False)
        shutil.rmtree(state, ignore_errors=True)
