"""The compose deployment end to end, with faults (issue 17): deploy/compose started by
Debian's docker-compose from images scripts/build-deploy-images.sh builds here.

One test: the images are built (cached: seconds when nothing changed), the deployment
starts under a project name of its own with the proxy on a free port of 127.0.0.1
(beside any other Assay on this machine), an administrator is made with `assay user create`
in an API server's container, and then everything goes over HTTP through the proxy:
a course, the python-io assignment, 200 students who log in (sessions across both API
servers: one secret key) and submit concurrently, three correct solutions to one wrong
answer. Mid-batch one worker container is killed (`docker kill`: its jobs come back
when their lease runs out) and one API server restarted (`docker restart`). Then every
submission must end with exactly one report (worker_helpers.assert_exactly_once: graded
with its exact score, one terminal event, one job), each student with one submission,
nothing lost and nothing scored 0 by our infrastructure; the report of every
submission is read back through the proxy. The figures are printed (pytest -s).
`docker-compose down -v` removes everything it made.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api_helpers import package_bytes
from assay.config import get_settings
from assay.services import Platform
from assay.storage.models import GradingRun, RunStatus, Submission
from platform_helpers import open_platform, settings_for
from worker_helpers import KINDS, assert_exactly_once, run_statuses

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "deploy" / "compose" / "docker-compose.yml"
BUILD = ROOT / "scripts" / "build-deploy-images.sh"
SECCOMP = ROOT / "deploy" / "docker" / "worker-seccomp.json"
STUDENTS = 200
PASSWORD = "e2e-password-0123"
SLOTS_PER_WORKER = 4  # two cores here: two workers of 4 keep the machine usable
UP_TIMEOUT_S = 240.0
GRADED_TIMEOUT_S = 240.0


def _require_tools() -> None:
    missing = [tool for tool in ("docker", "docker-compose") if shutil.which(tool) is None]
    if not missing:
        daemon = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=30)
        if daemon.returncode != 0:
            missing.append("a running dockerd")
    if not missing:
        return
    reason = f"the compose deployment needs {', '.join(missing)} (scripts/setup.sh --docker)"
    if os.environ.get("ASSAY_REQUIRE_DOCKER") == "1":
        pytest.fail(f"{reason} (ASSAY_REQUIRE_DOCKER=1)", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(argv: list[str], *, timeout: float, input_text: str | None = None) -> str:
    done = subprocess.run(
        argv, capture_output=True, text=True, check=False, timeout=timeout, input=input_text
    )
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv[:6])}... exited {done.returncode}:\n{done.stdout[-2000:]}\n"
            f"{done.stderr[-3000:]}"
        )
    return done.stdout


@dataclass
class Deployment:
    project: str
    compose: list[str]  # docker-compose with the project, files and env file
    url: str  # the proxy
    platform: Platform  # on the deployment's PostgreSQL (published for the test only)
    figures: dict[str, float] = field(default_factory=dict)

    def containers(self, service: str) -> list[str]:
        return _run([*self.compose, "ps", "-q", service], timeout=60).split()

    def health(self, container: str) -> str:
        return _run(
            ["docker", "inspect", "-f", "{{.State.Health.Status}}", container], timeout=30
        ).strip()

    def logs(self) -> str:
        return _logs(self.compose)


def _logs(compose: list[str]) -> str:
    """The last lines of every container's log, for a failure's message."""
    done = subprocess.run(
        [*compose, "logs", "--no-color", "--tail=40"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return done.stdout[-12000:]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    _require_tools()
    started = time.monotonic()
    _run(["bash", str(BUILD)], timeout=1200)
    built_s = time.monotonic() - started
    tmp = tmp_path_factory.mktemp("compose")
    project = f"assaye2e{secrets.token_hex(4)}"
    http_port, pg_port = _free_port(), _free_port()
    password = secrets.token_urlsafe(24)
    env_file = tmp / "compose.env"
    env_file.write_text(
        "\n".join(
            [
                f"POSTGRES_PASSWORD={password}",
                f"ASSAY_SECRET_KEY={secrets.token_urlsafe(32)}",
                f"ENV_FILE={env_file}",
                f"WORKER_SECCOMP={SECCOMP}",
                f"HTTP_PORT={http_port}",
                "PUBLISH_ENVIRONMENTS=python3",
                f"HOST_ENVIRONMENTS={get_settings().resolved_environments_dir}",
                f"ASSAY_WORKER_SLOTS={SLOTS_PER_WORKER}",
                # the administrator makes 400 requests in a minute (users, roster)
                "ASSAY_RATE_LIMIT_PER_MINUTE=100000",
                "",
            ]
        )
    )
    # PostgreSQL on 127.0.0.1 for the test's own checks (the deployment publishes none)
    override = tmp / "test-override.yml"
    override.write_text(
        json.dumps({"services": {"postgres": {"ports": [f"127.0.0.1:{pg_port}:5432"]}}})
    )
    compose = [
        "docker-compose",
        "-p",
        project,
        "-f",
        str(COMPOSE_FILE),
        "-f",
        str(override),
        "--env-file",
        str(env_file),
    ]
    platform: Platform | None = None
    try:
        up_started = time.monotonic()
        _run([*compose, "up", "-d"], timeout=UP_TIMEOUT_S)
        url = f"http://127.0.0.1:{http_port}"
        _wait_healthy_workers(compose)
        ready = httpx.get(f"{url}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        up_s = time.monotonic() - up_started
        db_url = f"postgresql+psycopg://assay:{password}@127.0.0.1:{pg_port}/assay"
        platform = open_platform(settings_for(db_url, tmp / "state"), migrate=False)
        yield Deployment(project, compose, url, platform, {"build_s": built_s, "up_s": up_s})
    except BaseException:
        print(_logs(compose))
        raise
    finally:
        if platform is not None:
            platform.close()
        subprocess.run(
            [*compose, "down", "-v", "--remove-orphans", "-t", "20"],
            capture_output=True,
            check=False,
            timeout=300,
        )


def _wait_healthy_workers(compose: list[str]) -> None:
    """Until both workers' health checks pass (`assay worker --check`: alive, after the
    sandbox self-check and the environment's fetch)."""
    deadline = time.monotonic() + UP_TIMEOUT_S
    while time.monotonic() < deadline:
        workers = _run([*compose, "ps", "-q", "worker"], timeout=60).split()
        states = [
            _run(["docker", "inspect", "-f", "{{.State.Health.Status}}", c], timeout=30).strip()
            for c in workers
        ]
        if len(workers) == 2 and states == ["healthy", "healthy"]:
            return
        time.sleep(2)
    raise AssertionError(f"the workers were not healthy in {UP_TIMEOUT_S:.0f} s")


def _admin_client(deployment: Deployment) -> httpx.Client:
    api = deployment.containers("api-1")[0]
    _run(
        ["docker", "exec", "-i", api, "assay", "user", "create", "e2e-admin", "--admin",
         "--password-stdin"],
        timeout=60,
        input_text=PASSWORD + "\n",
    )  # fmt: skip
    token = _run(
        ["docker", "exec", api, "assay", "token", "create", "e2e-admin", "--name", "e2e"],
        timeout=60,
    ).strip()
    return httpx.Client(
        base_url=f"{deployment.url}/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )


def _checked(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.text[:500]}"
    return response.json()


@dataclass
class Batch:
    """What the students' side saw: submission id -> (run id, expected score)."""

    runs: dict[int, tuple[int, float]] = field(default_factory=dict)
    retried_posts: int = 0  # a POST answered 502/503 or cut: looked up, then sent again
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class Student:
    number: int
    source: bytes
    score: float  # what the submission deserves


def _submit(url: str, assignment_id: int, student: Student, batch: Batch) -> None:
    """One student: log in (a session), submit stats.py once; on an answer lost to a
    restarting server, look before sending again, as a careful client does."""
    with httpx.Client(base_url=f"{url}/api/v1", timeout=60) as client:
        for attempt in range(5):
            try:
                login = client.post(
                    "/auth/login",
                    json={"username": f"e2e-s{student.number}", "password": PASSWORD},
                )
                if login.status_code in (502, 503):
                    time.sleep(1 + attempt)
                    continue
                csrf = _checked(login, 200)["csrf_token"]
                sent = client.post(
                    f"/assignments/{assignment_id}/submissions",
                    files=[("files", ("stats.py", student.source))],
                    headers={"X-CSRF-Token": csrf},
                )
            except httpx.TransportError:
                sent = None
            if sent is not None and sent.status_code == 201:
                out = sent.json()
                with batch.lock:
                    batch.runs[out["id"]] = (out["run_id"], student.score)
                return
            if sent is not None and sent.status_code not in (502, 503):
                raise AssertionError(
                    f"student {student.number}: {sent.status_code} {sent.text[:300]}"
                )
            with batch.lock:
                batch.retried_posts += 1
            time.sleep(1 + attempt)
            mine = client.get(f"/assignments/{assignment_id}/submissions")
            if mine.status_code == 200 and mine.json():
                out = mine.json()[0]
                with batch.lock:
                    batch.runs[out["id"]] = (out["run_id"], student.score)
                return
    raise AssertionError(f"student {student.number}: no submission after 5 attempts")


def test_200_submissions_survive_a_killed_worker_and_a_restarted_api_server(
    deployment: Deployment,
) -> None:
    with _admin_client(deployment) as admin:
        _batch_with_faults(deployment, admin)


def _publish_after_check(admin: httpx.Client, assignment_id: int) -> None:
    """Wait for the workers' reference check of the newest version, then publish."""
    deadline = time.monotonic() + 300
    while True:
        versions = _checked(admin.get(f"/admin/assignments/{assignment_id}/versions"), 200)
        reference = versions[0]["reference"]
        if reference is not None and reference["status"] != "running":
            break
        assert time.monotonic() < deadline, f"the reference check still runs: {versions[0]}"
        time.sleep(2)
    assert reference["status"] == "passed", versions[0]
    published = admin.patch(f"/admin/assignments/{assignment_id}", json={"published": True})
    _checked(published, 200)


def _batch_with_faults(deployment: Deployment, admin: httpx.Client) -> None:
    figures = deployment.figures
    ui = httpx.get(f"{deployment.url}/", follow_redirects=True, timeout=30)
    assert ui.status_code == 200, ui.text[:300]
    assert ui.headers["content-type"].startswith("text/html")  # the UI, through the proxy
    course = _checked(admin.post("/admin/courses", json={"code": "E2E", "name": "E2E"}), 201)
    # The API servers cannot sandbox (non-root, --workers 0): a worker runs the package's
    # reference check and the upload waits for it (docs/api.md): 201 when it passed,
    # 202 while it still runs (a cold worker), and the assignment is published after it.
    checking = time.monotonic()
    created = admin.post(
        f"/admin/courses/{course['id']}/assignments",
        files={"package": ("python-io.tar.gz", package_bytes("python-io"))},
        data={"publish": "true"},
        timeout=120,
    )
    assert created.status_code in (201, 202), created.text[:500]
    assignment_id = created.json()["id"]
    if created.status_code == 202:
        _publish_after_check(admin, assignment_id)
    figures["reference_check_s"] = time.monotonic() - checking

    setup_started = time.monotonic()

    def enroll(number: int) -> None:
        username = f"e2e-s{number}"
        body = {"username": username, "password": PASSWORD}
        _checked(admin.post("/admin/users", json=body), 201)
        roster = {"username": username, "role": "student"}
        _checked(admin.post(f"/admin/courses/{course['id']}/roster", json=roster), 200)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(enroll, range(STUDENTS)))
    figures["students_s"] = time.monotonic() - setup_started

    solution = (KINDS["solution"][0] / "stats.py").read_bytes()
    wrong = (KINDS["wrong-answer"][0] / "stats.py").read_bytes()
    plan = [
        Student(n, wrong, KINDS["wrong-answer"][1])
        if n % 4 == 3
        else Student(n, solution, KINDS["solution"][1])
        for n in range(STUDENTS)
    ]
    batch = Batch()
    faults: dict[str, float] = {}
    worker = deployment.containers("worker")[0]
    api_2 = deployment.containers("api-2")[0]
    submit_started = time.monotonic()

    def inject_faults() -> None:
        """Kill a worker once grading is under way (and start it again 5 s later), then
        restart an API server while students are still submitting."""
        while len(batch.runs) < STUDENTS // 4:
            time.sleep(0.1)
        graded_at = time.monotonic() + 60
        while time.monotonic() < graded_at:
            run_ids = [run for run, _ in list(batch.runs.values())]
            if any(
                s == RunStatus.GRADED for s in run_statuses(deployment.platform, run_ids).values()
            ):
                break
            time.sleep(0.2)
        _run(["docker", "kill", worker], timeout=60)
        faults["worker_killed_at_s"] = time.monotonic() - submit_started
        faults["submitted_when_killed"] = len(batch.runs)
        # its jobs wait for their lease (ASSAY_WORKER_LEASE_S) whatever happens next; a
        # replacement comes up as an orchestrator would start one (`docker kill` is a
        # manual stop to the restart policy)
        time.sleep(5)
        _run(["docker", "start", worker], timeout=60)
        while len(batch.runs) < STUDENTS // 2:
            time.sleep(0.1)
        faults["api_restart_at_s"] = time.monotonic() - submit_started
        faults["submitted_when_restarted"] = len(batch.runs)
        _run(["docker", "restart", "-t", "10", api_2], timeout=120)
        faults["api_back_at_s"] = time.monotonic() - submit_started

    injector = ThreadPoolExecutor(1)
    injected = injector.submit(inject_faults)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda one: _submit(deployment.url, assignment_id, one, batch), plan))
    figures["submit_s"] = time.monotonic() - submit_started
    injected.result(timeout=180)
    injector.shutdown()

    assert len(batch.runs) == STUDENTS, f"{len(batch.runs)} submissions accepted"
    expected = dict(batch.runs.values())
    deadline = time.monotonic() + GRADED_TIMEOUT_S
    open_runs = list(expected)
    while open_runs and time.monotonic() < deadline:
        statuses = run_statuses(deployment.platform, list(expected))
        open_runs = [r for r, s in statuses.items() if s in (RunStatus.QUEUED, RunStatus.RUNNING)]
        time.sleep(0.5)
    figures["all_done_s"] = time.monotonic() - submit_started
    assert not open_runs, f"{len(open_runs)} runs still open:\n{deployment.logs()}"

    exactly_once = assert_exactly_once(deployment.platform, expected)
    with deployment.platform.db.session() as session:
        runs_per_submission = dict(
            session.execute(
                select(GradingRun.submission_id, func.count(GradingRun.id))
                .where(GradingRun.submission_id.in_(list(batch.runs)))
                .group_by(GradingRun.submission_id)
            ).all()
        )
        per_student = list(
            session.execute(
                select(func.count(Submission.id))
                .where(Submission.assignment_id == assignment_id)
                .group_by(Submission.user_id)
            ).scalars()
        )
    assert set(runs_per_submission.values()) == {1}
    assert len(runs_per_submission) == STUDENTS
    assert per_student == [1] * STUDENTS, "a student with more than one submission"

    # every report, read back through the proxy: full marks for every correct one
    def report(submission_id: int) -> float:
        got = _checked(admin.get(f"/submissions/{submission_id}/report"), 200)
        assert got["status"] == RunStatus.GRADED and got["report"] is not None, got
        return float(got["report"]["score"])

    with ThreadPoolExecutor(8) as pool:
        scores = dict(zip(batch.runs, pool.map(report, list(batch.runs)), strict=True))
    wrong_scores = [scores[s] for s, (_, want) in batch.runs.items() if want != 10.0]
    assert all(scores[s] == want for s, (_, want) in batch.runs.items())
    zero = sum(1 for score in scores.values() if score == 0)

    figures.update(faults)
    print(
        f"\ncompose e2e: {STUDENTS}/{len(expected)} submissions graded exactly once "
        f"({sum(1 for _, w in batch.runs.values() if w == 10.0)} correct at 10/10, "
        f"{len(wrong_scores)} wrong answers at 7/10), 0 lost, {zero} scored 0; "
        f"jobs retried after the kill: {exactly_once['retried']} "
        f"(max attempts {exactly_once['max_attempts']}); POSTs re-sent after a lost "
        f"answer: {batch.retried_posts}\n"
        + "  ".join(f"{key}={value:.1f}" for key, value in figures.items())
    )
