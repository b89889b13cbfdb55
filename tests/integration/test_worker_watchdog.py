"""The watchdog: jobs of dead workers, jobs out of attempts, dead workers, and the
sandboxes dead workers left (with real worker processes, Docker and the native backend)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from assay.config import Settings
from assay.grading.submission import load_submission
from assay.sandbox.base import SessionConfig
from assay.sandbox.docker.backend import DockerBackend
from assay.sandbox.docker.constants import LABEL, LABEL_OWNER
from assay.sandbox.environments import get_environment
from assay.sandbox.fake import FakeBackend
from assay.sandbox.native.backend import BwrapBackend
from assay.sandbox.native.cgroups import detect_driver
from assay.sandbox.native.stale import remove_stale_sandboxes
from assay.sandbox.native.workspace import _mount_tmpfs
from assay.sandbox.owner import SandboxOwner, this_process
from assay.sandbox.spec import Limits
from assay.services import Actor, Platform
from assay.services.catalog import assignments, courses
from assay.services.catalog.packages import pack_directory
from assay.services.identity import accounts
from assay.services.intake import submissions, workers
from assay.storage.models import (
    GradingRun,
    Job,
    JobStatus,
    Role,
    RunEvent,
    RunStatus,
    Worker,
    WorkerState,
    utcnow,
)
from helpers import (
    BACKEND_NAMES,
    docker_client,
    docker_owner,
    docker_sandbox_containers,
    require_backend,
)
from platform_helpers import DATABASE_KINDS, database_url, open_platform, platform_on, settings_for
from worker_helpers import PYTHON_IO, assay_env, make_course, start_assay, stop, submit_batch


@pytest.fixture(params=DATABASE_KINDS)
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    with platform_on(request.param, tmp_path, worker_lease_s=5.0, job_max_attempts=2) as opened:
        yield opened


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
    report = workers.watchdog(platform)
    assert len(report.requeued) == 1 and report.dead_workers == ["dead-1"]
    workers.register(platform, "dead-2", 1)
    claimed = platform.queue.claim("dead-2")
    assert claimed is not None and claimed.attempt == 2  # the last one
    expire(platform)
    report = workers.watchdog(platform)
    assert report.requeued == [] and report.failed == [claimed.id]
    assert workers.watchdog(platform).failed == []  # once
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
    assert workers.watchdog(platform).overdue == []
    with platform.db.session() as session:
        session.execute(update(Job).values(started_at=utcnow() - timedelta(seconds=2 * 900)))
    assert workers.watchdog(platform).overdue == [claimed.id]


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


def test_native_leftovers_are_the_dead_owners_on_this_host_only() -> None:
    require_backend("native", "python3")
    state = Path(tempfile.mkdtemp(prefix="assay-stale-"))
    backend = BwrapBackend(settings_for("sqlite://", state))
    driver = detect_driver(backend.settings.cgroup_parent)
    dead, other = dead_pid(), dead_pid()
    live = os.getpid()  # as a pid a new process may have: only the pid names its sandboxes
    cgroups = {pid: driver.create(f"job-{pid}-{n}") for n, pid in enumerate((dead, other, live))}
    workspaces = {pid: state / "sandboxes" / f"{pid}-0123abcd" for pid in (dead, other)}
    orphan = subprocess.Popen(["sleep", "600"])
    try:
        for procs in cgroups[dead].procs_files:
            procs.write_text(str(orphan.pid))
        for workspace in workspaces.values():
            (workspace / "work").mkdir(parents=True)
            _mount_tmpfs(workspace / "work", 1 << 20, 0, 0)
        host = socket.gethostname()
        assert backend.remove_leftovers(SandboxOwner("elsewhere", dead, "0d")) == []
        assert backend.remove_leftovers(SandboxOwner(host, live, "0e")) == []
        assert backend.remove_leftovers(this_process()) == []
        removed = backend.remove_leftovers(SandboxOwner(host, dead, "0d"))
        assert sorted(removed) == sorted([f"cgroup job-{dead}-0", str(workspaces[dead])])
        assert orphan.wait(5) == -9
        assert not workspaces[dead].exists()
        assert workspaces[other].is_dir() and f"/sandboxes/{other}-" in "".join(tmpfs_mounts())
        assert {f"job-{other}-1", f"job-{live}-2"} <= set(driver.job_names())
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()
        for cgroup in cgroups.values():
            if cgroup.name in driver.job_names():
                cgroup.kill_all()
                cgroup.remove()
        for workspace in workspaces.values():
            umount = ["umount", "-l", str(workspace / "work")]
            subprocess.run(umount, capture_output=True, check=False)
        shutil.rmtree(state, ignore_errors=True)


def test_docker_leftovers_are_the_dead_owners_containers_from_any_host() -> None:
    """A worker on another machine using this Docker daemon: its containers are
    found by its owner label; a later process with the same host name and pid
    (another token) keeps its own, and so does this process until it kills its own
    (as a draining worker does)."""
    require_backend("docker", "python3")
    backend = DockerBackend(pool_size=0)
    api = backend.api()
    dead = SandboxOwner("another-host", 4242, "d0d0d0d0")
    later = SandboxOwner("another-host", 4242, "1a1a1a1a")
    made: dict[SandboxOwner, list[str]] = {dead: [], later: [], this_process(): []}
    try:
        for owner in (dead, dead, later, this_process()):
            container_id = api.create_container(
                get_environment("python3").docker_image,
                ["sleep", "infinity"],
                user="65534:65534",
                host_config=api.host_config(network_mode="none"),
                labels={LABEL: "1", LABEL_OWNER: str(owner)},
                network=False,
            )
            made[owner].append(container_id)
            api.start(container_id)
        removed = backend.remove_leftovers(dead)
        assert sorted(removed) == sorted(f"container {c[:12]}" for c in made[dead])
        left = {str(c["Id"]) for c in api.list_labelled(f"{LABEL}=1")}
        assert not left & set(made[dead])
        assert api.inspect(made[later][0])["State"]["Running"]
        assert backend.remove_leftovers(this_process()) == []
        [own] = made[this_process()]
        assert api.inspect(own)["State"]["Running"]
        assert backend.kill_own() == [f"container {own[:12]}"]
        assert own not in {str(c["Id"]) for c in api.list_labelled(f"{LABEL}=1")}
        assert api.inspect(made[later][0])["State"]["Running"]
    finally:
        for container_id in made[dead] + made[later] + made[this_process()]:
            api.remove(container_id)
        backend.shutdown()


# --- the sandboxes of dead workers ----------------------------------------------------


def fake_sessions(backend: FakeBackend, owner: SandboxOwner, count: int = 1) -> None:
    backend.owner = owner
    config = SessionConfig(get_environment("python3"), Limits())
    for _ in range(count):
        backend.open_session(config)
    backend.owner = this_process()


def test_the_watchdog_removes_the_sandboxes_of_dead_workers_only(platform: Platform) -> None:
    """Scoped by the dead worker's process: never a running worker's, nor this process's,
    nor those of a process that still has a running worker; not after the window."""
    dead = SandboxOwner("elsewhere", 101, "d0d0d0d0")
    alive = SandboxOwner("elsewhere", 101, "a1a1a1a1")  # same host and pid: a later process
    half = SandboxOwner("elsewhere", 102, "b2b2b2b2")  # one worker dead, one running
    old = SandboxOwner("elsewhere", 103, "c3c3c3c3")  # declared dead long ago
    backend = FakeBackend()
    for owner in (dead, alive, half, old, this_process()):
        fake_sessions(backend, owner, 2)
    ids = {
        "dead": f"{dead}:0",
        "alive": f"{alive}:0",
        "half-dead": f"{half}:0",
        "half-alive": f"{half}:1",
        "old": f"{old}:0",
        "me": workers.new_worker_id(),
    }
    for worker_id in ids.values():
        workers.register(platform, worker_id, 1)
    past = utcnow() - timedelta(seconds=60)
    stale = [ids["dead"], ids["half-dead"], ids["old"], ids["me"]]
    with platform.db.session() as session:
        session.execute(update(Worker).where(Worker.id.in_(stale)).values(heartbeat_at=past))
        session.execute(
            update(Worker)
            .where(Worker.id == ids["old"])
            .values(state=WorkerState.DEAD, stopped_at=utcnow() - 2 * workers.LEFTOVER_WINDOW)
        )
    report = workers.watchdog(platform, backend)
    assert sorted(report.dead_workers) == sorted([ids["dead"], ids["half-dead"], ids["me"]])
    assert report.leftovers == ["fake session 0", "fake session 1"]
    closed = {(s.owner, s.closed) for s in backend.sessions}
    assert closed == {
        (dead, True),
        (alive, False),
        (half, False),
        (old, False),
        (this_process(), False),
    }
    assert workers.watchdog(platform, backend).leftovers == []  # idempotent
    assert workers.watchdog(platform).leftovers == []  # without a backend: nothing to remove


LEASE_S = 3.0
WATCHDOG_S = 1.0
SLEEPER = "import time\ntime.sleep(300)\n"


def sleepy_course(platform: Platform, tmp_path: Path) -> tuple[int, int]:
    """python-io with a long wall limit (course id, assignment id): a submission that
    sleeps keeps a worker's sandbox busy for minutes."""
    package = tmp_path / "sleepy"
    shutil.copytree(PYTHON_IO, package)
    manifest = package / "assignment.toml"
    manifest.write_text(manifest.read_text().replace("wall_time_s = 3", "wall_time_s = 300"))
    course = courses.create_course(platform, Actor.system(), "SLEEPY", "Leftovers")
    made = assignments.create_assignment(
        platform, Actor.system(), course.id, pack_directory(package), publish=True
    )
    (tmp_path / "sleeper").mkdir()
    (tmp_path / "sleeper" / "stats.py").write_text(SLEEPER)
    return course.id, made.id


def submit_sleeper(platform: Platform, ids: tuple[int, int], name: str, tmp_path: Path) -> int:
    user = accounts.create_user(platform, Actor.system(), name, None)
    courses.enroll(platform, Actor.system(), ids[0], name, Role.STUDENT)
    files = load_submission(tmp_path / "sleeper")
    return submissions.submit(platform, Actor(user_id=user.id, username=name), ids[1], files).run_id


def tmpfs_mounts() -> list[str]:
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return [line.split(" ")[4] for line in lines if " - tmpfs " in line]


def sandboxes_of(backend: str, settings: Settings, pid: int) -> set[str]:
    """What the sandboxes of worker process ``pid`` hold here: its containers, or its
    job cgroups, workspaces and workspace mounts."""
    if backend == "docker":
        return {c.id for c in docker_sandbox_containers(docker_client(), owner=docker_owner(pid))}
    mine = f"{pid}-"
    jobs = detect_driver(settings.cgroup_parent).job_names()
    found = {name for name in jobs if name.startswith(f"job-{mine}")}
    found |= {str(path) for path in (settings.state_dir / "sandboxes").glob(f"{mine}*")}
    return found | {f"mount {point}" for point in tmpfs_mounts() if f"/sandboxes/{mine}" in point}


def run_processes(found: set[str]) -> set[int]:
    """Live host pids of the sleeping submission (``python3 stats.py``, not its wrappers,
    which come and go while a run starts) in these sandboxes."""
    pids = set()
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
            running = argv[:2] == [b"python3", b"stats.py"]
            cgroups = (entry / "cgroup").read_text() if running else ""
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0] if running else ""
        except OSError:
            continue  # gone meanwhile
        ours = any(f"/{name}\n" in cgroups or f"-{name}.scope" in cgroups for name in found)
        if ours and state != "Z":
            pids.add(int(entry.name))
    return pids


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - started


def remove_sandboxes_of(backend: str, settings: Settings, pid: int) -> None:
    """The test's own cleanup of a worker process it killed (whatever the watchdog did)."""
    if backend == "docker":
        for container in docker_sandbox_containers(docker_client(), owner=docker_owner(pid)):
            container.remove(force=True)
        return
    driver = detect_driver(settings.cgroup_parent)
    for name in driver.job_names():
        if name.startswith(f"job-{pid}-"):
            job = driver.open(name)
            job.kill_all()
            job.remove()
    for workspace in (settings.state_dir / "sandboxes").glob(f"{pid}-*"):
        subprocess.run(["umount", "-l", str(workspace / "work")], capture_output=True, check=False)
        shutil.rmtree(workspace, ignore_errors=True)


def job_state(platform: Platform, run_id: int) -> tuple[str, str | None]:
    with platform.db.session() as session:
        job = session.scalars(select(Job).where(Job.target_id == run_id)).one()
        return job.status, job.worker_id


def worker_states(platform: Platform) -> dict[int, str]:
    with platform.db.session() as session:
        return {pid: state for pid, state in session.execute(select(Worker.pid, Worker.state))}


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_a_killed_workers_sandboxes_are_removed_by_a_survivors_watchdog(
    backend: str, tmp_path: Path
) -> None:
    """A worker is SIGKILLed mid-run; the other worker's watchdog declares it dead and
    removes its containers (Docker) or cgroups, workspaces and mounts (native) within a
    watchdog period, while the survivor's own run goes on untouched."""
    require_backend(backend, "python3")
    # Not below tmp_path: pytest makes its parents 0700, and sandboxed processes
    # must be able to reach STATE_DIR/etc (the backend makes STATE_DIR itself 0711).
    state = Path(tempfile.mkdtemp(prefix="assay-leftovers-"))
    started: list[subprocess.Popen[bytes]] = []
    with database_url("sqlite", tmp_path) as url:
        settings = settings_for(
            url, state, worker_lease_s=LEASE_S, watchdog_interval_s=WATCHDOG_S, worker_slots=1
        )
        platform = open_platform(settings)
        env = assay_env(
            {
                "ASSAY_DATABASE_URL": url,
                "ASSAY_STATE_DIR": str(state),
                "ASSAY_GRADING_BACKEND": backend,
                "ASSAY_WORKER_SLOTS": "1",
                "ASSAY_WORKER_LEASE_S": str(LEASE_S),
                "ASSAY_WORKER_HEARTBEAT_S": "0.5",
                "ASSAY_WATCHDOG_INTERVAL_S": str(WATCHDOG_S),
                "ASSAY_WORKER_POLL_S": "0.2",
            }
        )
        try:
            ids = sleepy_course(platform, tmp_path)
            doomed_run = submit_sleeper(platform, ids, "doomed", tmp_path)
            doomed = start_assay(["worker"], env, tmp_path / "doomed.log")
            started.append(doomed)
            wait_for(
                lambda: bool(run_processes(sandboxes_of(backend, settings, doomed.pid))),
                90,
                "the first worker to run the sleeping submission",
            )
            survivor_run = submit_sleeper(platform, ids, "survivor", tmp_path)
            survivor = start_assay(["worker"], env, tmp_path / "survivor.log")
            started.append(survivor)
            wait_for(
                lambda: bool(run_processes(sandboxes_of(backend, settings, survivor.pid))),
                90,
                "the second worker to run the other sleeping submission",
            )
            theirs = sandboxes_of(backend, settings, doomed.pid)
            doomed_procs = run_processes(theirs)
            mine = sandboxes_of(backend, settings, survivor.pid)
            my_procs = run_processes(mine)
            os.kill(doomed.pid, signal.SIGKILL)
            doomed.wait(10)
            took = wait_for(
                lambda: not sandboxes_of(backend, settings, doomed.pid),
                LEASE_S + 2 * WATCHDOG_S + 10,
                f"the dead worker's sandboxes to go: {sorted(theirs)}",
            )
            print(
                f"\n{backend}: {len(theirs)} sandbox parts of the dead worker gone {took:.1f} s "
                f"after the kill (lease {LEASE_S} s, watchdog every {WATCHDOG_S} s)"
            )
            assert took <= LEASE_S + 2 * WATCHDOG_S + 3
            assert not run_processes(theirs) & doomed_procs, "the dead worker's run lives on"
            assert mine <= sandboxes_of(backend, settings, survivor.pid)
            assert run_processes(mine) == my_procs, "the survivor's run was touched"
            wait_for(
                lambda: job_state(platform, doomed_run) == (JobStatus.QUEUED, None),
                LEASE_S + 2 * WATCHDOG_S + 3,
                "the dead worker's job to be queued again",
            )
            assert job_state(platform, survivor_run)[0] == JobStatus.RUNNING
            states = {doomed.pid: WorkerState.DEAD, survivor.pid: WorkerState.RUNNING}
            wait_for(lambda: worker_states(platform) == states, 5, f"worker states {states}")
            assert survivor.poll() is None
        finally:
            for process in started:
                stop(process, signal.SIGKILL, wait_s=10)
                remove_sandboxes_of(backend, settings, process.pid)
            platform.close()
            shutil.rmtree(state, ignore_errors=True)
