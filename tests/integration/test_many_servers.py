"""Two API servers behind no balancer at all, as a balancer would see them: two real
`assay serve --workers 0` processes on their own ports and state directories, one
`assay worker`, one PostgreSQL database. Whatever a user does, either server may
answer it:

(a) a live-progress stream on A follows a run taken in by B, pushed by LISTEN/NOTIFY
    (the poll interval is 1000 s: polling cannot be what delivers the events);
(b) a per-user rate limit holds across both (alternating servers, the N+1st is 429;
    a refunded refusal on one gives the token back on the other);
(c) the intake gate's places are shared (held elsewhere: neither server takes in);
(d) a session made on A works on B, with A's CSRF token, and logging out on B ends it;
(e) the metrics of both servers, summed, equal the truth in the database; when the
    leader stops, the other one takes over.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api_helpers import EXAMPLES, PASSWORD, ServeProcess, seeded_servers
from assay.services import Actor, Platform
from assay.services.catalog import courses
from assay.services.identity import accounts
from assay.services.operations import shared_limits
from assay.storage.models import GradingRun, Job, JobStatus, Role
from sse_client import read_events
from worker_helpers import stop

SOLUTION = (EXAMPLES / "python-io" / "solution" / "stats.py").read_bytes()
SUBMITS_PER_MINUTE = 3
GATE = 2


@dataclass
class Cluster:
    platform: Platform
    a: ServeProcess
    b: ServeProcess
    assignment_id: int
    course_id: int

    def member(self, username: str) -> str:
        """A new student of the course; their API token."""
        system = Actor.system()
        user = accounts.create_user(self.platform, system, username, PASSWORD)
        courses.enroll(self.platform, system, self.course_id, username, Role.STUDENT)
        return accounts.create_token_for(self.platform, system, user.id, "tests").token

    def submit(self, server: ServeProcess, token: str, files: dict[str, bytes]) -> httpx.Response:
        with server.client(token) as client:
            return client.post(
                f"/api/v1/assignments/{self.assignment_id}/submissions",
                files=[("files", (name, data)) for name, data in files.items()],
            )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    settings = {
        "ASSAY_EVENTS_POLL_INTERVAL_S": "1000",
        "ASSAY_SUBMIT_RATE_LIMIT_PER_MINUTE": str(SUBMITS_PER_MINUTE),
        "ASSAY_SUBMIT_CONCURRENCY": str(GATE),
    }
    tmp = tmp_path_factory.mktemp("many")
    with seeded_servers(tmp, {"a": {}, "b": {}}, settings=settings, ready_s=60) as seeded:
        a, b = seeded.servers["a"], seeded.servers["b"]
        yield Cluster(seeded.platform, a, b, seeded.data["assignment"], seeded.data["course"])


# --- (a) live progress ---------------------------------------------------------------


def test_a_stream_on_one_server_follows_a_run_taken_in_by_the_other(cluster: Cluster) -> None:
    token = cluster.member("streamer")
    taken = cluster.submit(cluster.b, token, {"stats.py": SOLUTION})
    assert taken.status_code == 201, taken.text
    run_id = taken.json()["run_id"]
    arrivals: list[tuple[float, dict[str, Any]]] = []
    opened = time.time()
    with (
        cluster.a.client(token) as client,
        client.stream(
            "GET",
            f"/api/v1/runs/{run_id}/events",
            headers={"Accept": "text/event-stream"},
            timeout=httpx.Timeout(60, connect=10),
        ) as response,
    ):
        assert response.status_code == 200
        for event in read_events(response):
            arrivals.append((time.time(), event.json()))
            assert time.time() - opened < 60, arrivals
    stages = [event["stage"] for _at, event in arrivals]
    assert stages[0] == "queued" and stages[-1] == "done", stages
    assert "started" in stages and "testing" in stages
    # events written after the stream opened reached it at once, not after a poll
    late = [
        (arrived - datetime.fromisoformat(event["at"]).timestamp(), event["stage"])
        for arrived, event in arrivals
        if datetime.fromisoformat(event["at"]).timestamp() > opened
    ]
    assert late, "the run was over before the stream opened: nothing was pushed"
    assert max(delay for delay, _stage in late) < 2.0, late


# --- (b) rate limits -----------------------------------------------------------------


def test_a_per_user_submission_limit_holds_across_both_servers(cluster: Cluster) -> None:
    token = cluster.member("hasty")
    servers = [cluster.a, cluster.b]
    # a refused submission (its required file missing) is not charged, whichever server
    refused = cluster.submit(cluster.a, token, {"other.py": SOLUTION})
    assert refused.status_code == 400, refused.text
    for number in range(SUBMITS_PER_MINUTE):
        answer = cluster.submit(servers[number % 2], token, {"stats.py": SOLUTION})
        assert answer.status_code == 201, (number, answer.text)
    over = cluster.submit(servers[SUBMITS_PER_MINUTE % 2], token, {"stats.py": SOLUTION})
    assert over.status_code == 429, over.text
    assert 1 <= int(over.headers["Retry-After"]) <= 60 // SUBMITS_PER_MINUTE
    also = cluster.submit(servers[(SUBMITS_PER_MINUTE + 1) % 2], token, {"stats.py": SOLUTION})
    assert also.status_code == 429, also.text
    # another user is not affected
    assert (
        cluster.submit(cluster.b, cluster.member("calm"), {"stats.py": SOLUTION}).status_code == 201
    )


# --- (c) the intake gate -------------------------------------------------------------


def test_the_intake_gate_is_one_for_both_servers(cluster: Cluster) -> None:
    db = cluster.platform.db
    # a third server takes every place of the gate
    held = [shared_limits.take_place(db, GATE, f"elsewhere:{n}", 60.0) for n in range(GATE)]
    assert None not in held
    answers: dict[str, httpx.Response] = {}
    threads = []
    for server in (cluster.a, cluster.b):
        token = cluster.member(f"gated-{server.name}")

        def send(server: ServeProcess = server, token: str = token) -> None:
            answers[server.name] = cluster.submit(server, token, {"stats.py": SOLUTION})

        threads.append(threading.Thread(target=send))
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    assert answers == {}, "a server took a submission in while the gate was full"
    started = time.monotonic()
    for slot in held:
        assert slot is not None
        shared_limits.give_back_place(db, slot, f"elsewhere:{held.index(slot)}")
    for thread in threads:
        thread.join(30)
    assert time.monotonic() - started < 5
    assert {name: r.status_code for name, r in answers.items()} == {"a": 201, "b": 201}
    # both give their places back (as the request ends: just after its answer is sent)
    deadline = time.monotonic() + 5
    while shared_limits.places_held(db, GATE) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert shared_limits.places_held(db, GATE) == 0


# --- (d) sessions and CSRF -----------------------------------------------------------


def test_a_session_and_its_csrf_token_work_on_either_server(cluster: Cluster) -> None:
    with (
        httpx.Client(base_url=cluster.a.url, timeout=30) as a,
        httpx.Client(base_url=cluster.b.url, timeout=30) as b,
    ):
        login = a.post("/login", data={"username": "alice", "password": PASSWORD})
        assert login.status_code == 303, login.text
        cookie = a.cookies["assay_session"]
        b.cookies.set("assay_session", cookie)
        page = a.get("/", follow_redirects=True)
        assert page.status_code == 200
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, "no form with a CSRF token on the home page"
        csrf = found.group(1)
        assert b.get("/api/v1/auth/me").json()["username"] == "alice"
        # a form of B with a wrong token is refused; with A's token it is taken
        wrong = b.post("/logout", data={"csrf_token": "not-it"})
        assert wrong.status_code == 403, wrong.text
        out = b.post("/logout", data={"csrf_token": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        # the session ended everywhere
        a.cookies.set("assay_session", cookie)
        assert a.get("/api/v1/auth/me").status_code == 401


# --- (e) metrics ---------------------------------------------------------------------


def scrape(server: ServeProcess) -> dict[tuple[str, str], float]:
    """name, labels -> value of every sample on the server's /metrics."""
    text = httpx.get(server.url + "/metrics", timeout=30).text
    samples: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name_labels, _, value = line.rpartition(" ")
            name, _, labels = name_labels.partition("{")
            samples[(name, labels.rstrip("}"))] = float(value)
    return samples


def summed(*scrapes: dict[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    total: dict[tuple[str, str], float] = {}
    for samples in scrapes:
        for key, value in samples.items():
            total[key] = total.get(key, 0.0) + value
    return total


def truth(platform: Platform) -> dict[str, dict[str, int]]:
    with platform.db.reading() as session:
        runs = dict(
            session.execute(
                select(GradingRun.status, func.count(GradingRun.id)).group_by(GradingRun.status)
            ).all()
        )
        queued = session.scalar(select(func.count(Job.id)).where(Job.status == JobStatus.QUEUED))
    return {"runs": {str(k): int(v) for k, v in runs.items()}, "queued": {"": int(queued or 0)}}


def wait_idle(platform: Platform, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with platform.db.reading() as session:
            open_jobs = session.scalar(
                select(func.count(Job.id)).where(
                    Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING])
                )
            )
        if not open_jobs:
            return
        assert time.monotonic() < deadline, f"{open_jobs} jobs still open"
        time.sleep(0.3)


def test_metrics_summed_over_both_servers_equal_the_truth(cluster: Cluster) -> None:
    wait_idle(cluster.platform)
    first = summed(scrape(cluster.a), scrape(cluster.b))  # the leader counts from here
    leaders = {s.name: scrape(s)[("assay_metrics_leader", "")] for s in (cluster.a, cluster.b)}
    assert sorted(leaders.values()) == [0.0, 1.0], leaders
    before = first.get(("assay_grading_runs_finished_total", 'status="graded"'), 0.0)
    # two students: one student's second submission cancels the first while it is
    # still queued (a resubmission supersedes it), and only one would be graded
    for name, server in (("measured-a", cluster.a), ("measured-b", cluster.b)):
        token = cluster.member(name)
        assert cluster.submit(server, token, {"stats.py": SOLUTION}).status_code == 201
    wait_idle(cluster.platform)
    requests_before = first.get(
        ("assay_http_requests_total", 'method="GET",route="/healthz",status="200"'), 0.0
    )
    for server in (cluster.a, cluster.b, cluster.a):
        assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
    total = summed(scrape(cluster.a), scrape(cluster.b))
    real = truth(cluster.platform)
    for status, count in real["runs"].items():
        assert total[("assay_grading_runs", f'status="{status}"')] == count, status
    assert sum(v for (n, _l), v in total.items() if n == "assay_queue_depth") == 0
    assert total[("assay_workers_alive", "")] == 1
    assert total[("assay_metrics_leader", "")] == 1
    finished = total[("assay_grading_runs_finished_total", 'status="graded"')] - before
    assert finished == 2
    healthz = ("assay_http_requests_total", 'method="GET",route="/healthz",status="200"')
    assert total[healthz] - requests_before == 3  # per-process counters add up
    # the leader stops: the other server takes over at its next scrape
    leader = cluster.a if leaders["a"] == 1.0 else cluster.b
    other = cluster.b if leader is cluster.a else cluster.a
    stop(leader.process, signal.SIGTERM)
    # (its database backend ends a moment after the process: the lock is free then)
    deadline = time.monotonic() + 10
    after = scrape(other)
    while after[("assay_metrics_leader", "")] == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
        after = scrape(other)
    assert after[("assay_metrics_leader", "")] == 1
    assert after[("assay_grading_runs", 'status="graded"')] == real["runs"]["graded"]
