"""Reference checks run by the workers: API servers that cannot sandbox (`assay serve
--workers 0` whose grading backend is a Docker daemon that is not there, as an
unprivileged API container has no working sandbox) queue an upload's check as a job;
an `assay worker` process runs it on its native sandbox and records it on the version.

- a good new version of a published assignment passes with no ``force`` and becomes
  current; the check was the worker's job (the server alone could not run it);
- a failing one is refused (409, the solution's 7 / 10 said), nothing left behind;
- a server that answers before the check ends (``reference_check_wait_s`` 0) says 202
  "running": the version is not current until the worker's check passes, and
  ``assay assignment upload`` waits for it, prints it and then publishes;
- an API server's own check that a dead server left "running" reads as "could not run";
- a worker draining on SIGTERM hands a check back, and another worker ends it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api_helpers import ServeProcess, python_io_copy, seeded_servers
from assay.errors import ConflictError
from assay.queue.jobs import HANDED_BACK_ERROR
from assay.services import Actor, Platform
from assay.services.catalog import assignments, courses, refcheck
from assay.services.catalog.packages import pack_directory
from assay.storage.models import AssignmentVersion, Job, JobKind, JobStatus, utcnow
from integration.test_cli_server import assay
from integration.test_faults import (
    env_for,
    fault_platform,
    running_jobs_of,
    wait_until,
    worker_prefix,
)
from worker_helpers import start_assay, stop

NO_DOCKER = "unix:///nonexistent/assay-test-docker.sock"  # the API servers' "sandbox"


@dataclass
class Cluster:
    platform: Platform
    waits: ServeProcess  # waits for the check (reference_check_wait_s 60)
    answers: ServeProcess  # answers at once (reference_check_wait_s 0)
    worker: subprocess.Popen[bytes]
    data: dict[str, Any]
    tmp: Path

    def client(self, server: ServeProcess) -> httpx.Client:
        token = self.data["tokens"]["teacher"]
        return httpx.Client(
            base_url=server.url + "/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=180,
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("refcheck-workers")
    servers = {
        name: {
            "ASSAY_GRADING_BACKEND": "docker",
            "ASSAY_DOCKER_URL": NO_DOCKER,
            "ASSAY_REFERENCE_CHECK_WAIT_S": wait_s,
        }
        for name, wait_s in (("waits", "60"), ("answers", "0"))
    }
    with seeded_servers(tmp, servers, ready_s=90) as seeded:
        waits, answers = seeded.servers["waits"], seeded.servers["answers"]
        yield Cluster(seeded.platform, waits, answers, seeded.worker, seeded.data, tmp)


def check_jobs(platform: Platform, version_id: int) -> list[Job]:
    with platform.db.reading() as session:
        return list(
            session.scalars(
                select(Job).where(Job.kind == JobKind.CHECK, Job.target_id == version_id)
            )
        )


def version_id(platform: Platform, assignment_id: int, number: int) -> int:
    with platform.db.reading() as session:
        found = session.scalar(
            select(AssignmentVersion.id).where(
                AssignmentVersion.assignment_id == assignment_id,
                AssignmentVersion.number == number,
            )
        )
    assert found is not None, (assignment_id, number)
    return found


def test_the_servers_cannot_run_the_check_themselves(cluster: Cluster) -> None:
    """The premise: with the servers' settings, a check in the server's process cannot run."""
    settings = cluster.platform.settings.model_copy(
        update={"grading_backend": "docker", "docker_url": NO_DOCKER}
    )
    data = pack_directory(python_io_copy(cluster.tmp, "premise", broken=False))
    platform = Platform.open(settings, migrate=False)  # its own backend, from the settings
    try:
        check = refcheck.check_package_bytes(platform, data)
    finally:
        platform.close()
    # the engine records each submission's sandbox failure: "failed", the reason in it
    assert check.status in ("failed", "error"), check
    assert "is not reachable" in check.model_dump_json(), check


def test_a_good_version_of_a_published_assignment_passes_on_a_worker(cluster: Cluster) -> None:
    assignment_id = cluster.data["assignment"]
    package = pack_directory(python_io_copy(cluster.tmp, "python-io", broken=False))
    with cluster.client(cluster.waits) as client:
        answer = client.post(
            f"/admin/assignments/{assignment_id}/versions",
            files={"package": ("p.tar.gz", package)},
        )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["reference"]["status"] == "passed", body["reference"]
    assert body["version"] == body["reference_version"] == 2
    assert body["reference_check"] == "passed"
    [job] = check_jobs(cluster.platform, version_id(cluster.platform, assignment_id, 2))
    assert job.status == JobStatus.DONE, job.error
    assert job.worker_id is not None and f":{cluster.worker.pid}:" in job.worker_id


def test_a_failing_version_is_refused_and_nothing_is_left(cluster: Cluster) -> None:
    assignment_id = cluster.data["assignment"]
    broken = pack_directory(python_io_copy(cluster.tmp, "python-io", broken=True))
    path = f"/admin/assignments/{assignment_id}/versions"
    with cluster.client(cluster.waits) as client:
        before = [v["number"] for v in client.get(path).json()]
        refused = client.post(path, files={"package": ("p.tar.gz", broken)})
        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]
        assert "reference check" in detail and "7 / 10" in detail and "force" in detail
        assert [v["number"] for v in client.get(path).json()] == before
        current = client.get(f"/assignments/{assignment_id}").json()
        assert current["version"] == max(before) and current["reference_check"] == "passed"


def test_a_new_assignment_published_at_once_passes_on_a_worker(cluster: Cluster) -> None:
    package = pack_directory(python_io_copy(cluster.tmp, "fresh-io", broken=False))
    with cluster.client(cluster.waits) as client:
        answer = client.post(
            f"/admin/courses/{cluster.data['course']}/assignments",
            files={"package": ("p.tar.gz", package)},
            data={"publish": "true"},
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["published"] is True
        assert answer.json()["reference"]["status"] == "passed"
        broken = pack_directory(python_io_copy(cluster.tmp, "broken-io", broken=True))
        refused = client.post(
            f"/admin/courses/{cluster.data['course']}/assignments",
            files={"package": ("p.tar.gz", broken)},
            data={"publish": "true"},
        )
        assert refused.status_code == 409, refused.text
        listed = client.get(f"/courses/{cluster.data['course']}/assignments").json()
        slugs = [a["slug"] for a in listed]
        assert "broken-io" not in slugs and "fresh-io" in slugs


def test_an_answer_before_the_check_ends_and_the_worker_puts_it_in_place(
    cluster: Cluster,
) -> None:
    assignment_id = cluster.data["assignment"]
    package = pack_directory(python_io_copy(cluster.tmp, "python-io", broken=False))
    path = f"/admin/assignments/{assignment_id}"
    with cluster.client(cluster.answers) as client:
        answer = client.post(f"{path}/versions", files={"package": ("p.tar.gz", package)})
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["reference"]["status"] == "running"
        number = body["reference_version"]
        assert body["version"] == number - 1  # not in place before its check passes
        deadline = time.monotonic() + 120
        while True:
            [mine] = [v for v in client.get(f"{path}/versions").json() if v["number"] == number]
            if mine["reference"]["status"] != "running":
                break
            assert time.monotonic() < deadline, mine
            time.sleep(0.5)
        assert mine["reference"]["status"] == "passed", mine
        assert mine["current"] is True
        assert client.get(f"/assignments/{assignment_id}").json()["version"] == number


def test_the_cli_waits_for_the_workers_check_and_prints_it(cluster: Cluster) -> None:
    package = python_io_copy(cluster.tmp, "cli-io", broken=False)
    env = {"ASSAY_SERVER": cluster.answers.url, "ASSAY_TOKEN": cluster.data["tokens"]["teacher"]}
    done = assay(
        "assignment", "upload", str(package), "--course", "cs101", "--publish", env=env,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reference check of version 1 running on the workers" in done.stderr, done.stderr
    assert "reference check passed" in done.stderr, done.stderr
    assert "created assignment" in done.stdout and "(published)" in done.stdout, done.stdout

    broken = python_io_copy(cluster.tmp, "cli-io", broken=True)
    refused = assay("assignment", "upload", str(broken), "--course", "cs101", env=env, timeout=300)
    assert refused.returncode != 0, refused.stdout + refused.stderr
    assert "reference check failed" in refused.stderr and "7 / 10" in refused.stderr
    assert "stays on version 1" in refused.stderr, refused.stderr


def test_a_servers_check_left_running_by_a_dead_server_reads_as_could_not_run(
    cluster: Cluster,
) -> None:
    platform, system = cluster.platform, Actor.system()
    package = pack_directory(python_io_copy(cluster.tmp, "stale-io", broken=False))
    created = assignments.create_assignment(platform, system, cluster.data["course"], package)
    with platform.db.session() as session:
        version = session.get_one(AssignmentVersion, version_id(platform, created.id, 1))
        old = utcnow() - assignments.CHECK_INTERRUPTED_AFTER - timedelta(seconds=5)
        running = refcheck.ReferenceCheck(status="running", started_at=old)
        version.check = {**version.check, "reference": running.model_dump(mode="json")}
    [listed] = refcheck.list_versions(platform, system, created.id)
    assert listed.reference is not None and listed.reference.status == "error"
    assert "interrupted" in listed.reference.error
    assert assignments.get_assignment(platform, system, created.id).reference_check == "error"
    with pytest.raises(ConflictError, match="could not run: interrupted"):
        refcheck.require_publishable(platform, system, created.id)
    # one queued for the workers is the queue's to end: still running
    with platform.db.session() as session:
        version = session.get_one(AssignmentVersion, version_id(platform, created.id, 1))
        version.check = {**version.check, "reference_run": {"on": "workers"}}
    [listed] = refcheck.list_versions(platform, system, created.id)
    assert listed.reference is not None and listed.reference.status == "running"


def test_a_draining_worker_hands_a_check_back_and_another_one_ends_it(tmp_path: Path) -> None:
    """SIGTERM with a 1 s drain mid-check: the CHECK job is handed back (queued at once,
    attempt unused, the version still "running"), and a second worker checks it once."""
    with fault_platform("postgresql", tmp_path) as platform:
        slow = python_io_copy(tmp_path, "slow-io", broken=False)
        stats = slow / "solution" / "stats.py"
        stats.write_text("import time\ntime.sleep(0.6)\n" + stats.read_text())
        system = Actor.system()
        course = courses.create_course(platform, system, "drain", "Drain")
        created = assignments.create_assignment(platform, system, course.id, pack_directory(slow))
        refcheck.start_reference_check(platform, system, created.id, on="workers")
        target = version_id(platform, created.id, 1)
        env = env_for(platform)
        started: list[subprocess.Popen[bytes]] = []
        try:
            first = start_assay(
                ["worker"], {**env, "ASSAY_WORKER_STOP_TIMEOUT_S": "1"}, tmp_path / "w1.log"
            )
            started.append(first)
            wait_until(lambda: running_jobs_of(platform, first.pid) == 1, 60, "the check to run")
            time.sleep(1.0)  # well inside the check (10 tests of 0.6 s, two at a time)
            os.kill(first.pid, signal.SIGTERM)
            first.wait(30)
            assert first.returncode == 0, (tmp_path / "w1.log").read_text()[-3000:]
            [job] = check_jobs(platform, target)
            assert (job.status, job.attempts, job.worker_id) == (JobStatus.QUEUED, 0, None)
            assert job.error == HANDED_BACK_ERROR
            [listed] = refcheck.list_versions(platform, system, created.id)
            assert listed.reference is not None and listed.reference.status == "running"

            second = start_assay(["worker"], env, tmp_path / "w2.log")
            started.append(second)
            wait_until(
                lambda: check_jobs(platform, target)[0].status == JobStatus.DONE,
                120,
                "the second worker to end the check",
            )
        finally:
            for process in started:
                stop(process, signal.SIGTERM)
        [job] = check_jobs(platform, target)
        assert job.attempts == 1 and str(job.worker_id).startswith(worker_prefix(second.pid))
        [listed] = refcheck.list_versions(platform, system, created.id)
        assert listed.reference is not None and listed.reference.status == "passed", listed
