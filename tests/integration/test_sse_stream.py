"""The live-progress API over real HTTP: SSE streams, resuming, polling, access."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from assay.services import Actor, Platform
from assay.services.catalog import assignments, courses
from assay.services.catalog.packages import pack_directory
from assay.services.identity import accounts
from assay.services.intake import progress, submissions
from assay.storage.models import GradingRun, Role, RunStatus
from platform_helpers import DATABASE_KINDS, LiveServer, database_url, open_platform, settings_for
from sse_client import follow, read_events

EXAMPLE = Path(__file__).parents[2] / "examples" / "assignments" / "python-io"
ADMIN = Actor.system("test-admin")
STAGES = [
    ("started", None, None),
    ("building", None, None),
    ("testing", 1, 3),
    ("testing", 2, 3),
    ("testing", 3, 3),
    ("done", None, None),
]


@dataclass
class World:
    platform: Platform
    server: LiveServer
    run_id: int
    submission_id: int
    tokens: dict[str, str]

    def client(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=30)


@pytest.fixture(params=DATABASE_KINDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    # test_waiting_streams_hold_no_threads opens 50 streams as one user; the stream
    # limits have tests of their own below
    with open_world(request.param, tmp_path, events_max_streams_per_user=64) as opened:
        yield opened


@contextmanager
def open_world(kind: str, tmp_path: Path, **overrides: object) -> Iterator[World]:
    with database_url(kind, tmp_path) as url:
        platform = open_platform(
            settings_for(
                url, tmp_path / "state", events_poll_interval_s=0.05, events_ping_s=1, **overrides
            )
        )
        try:
            course = courses.create_course(platform, ADMIN, "c1", "Course")
            assignment = assignments.create_assignment(
                platform, ADMIN, course.id, pack_directory(EXAMPLE), publish=True
            )
            tokens = {}
            actors = {}
            for name, role in (("owner", Role.STUDENT), ("other", Role.STUDENT), ("ta", Role.TA)):
                user = accounts.create_user(platform, ADMIN, name, "password-12345")
                courses.enroll(platform, ADMIN, course.id, name, role)
                actors[name] = Actor(user.id, name)
                tokens[name] = accounts.create_token(platform, actors[name], "t").token
            files = submissions.files_from_mapping({"stats.py": "print(1)\n"})
            out = submissions.submit(platform, actors["owner"], assignment.id, files)
            with LiveServer(platform) as server:
                yield World(platform, server, out.run_id, out.id, tokens)
        finally:
            platform.close()


def play_worker(platform: Platform, run_id: int, pause_s: float = 0.1) -> threading.Thread:
    """A stand-in worker in another thread: records the stages, the last with the status."""

    def work() -> None:
        for stage, current, total in STAGES:
            time.sleep(pause_s)
            with platform.db.session() as session:
                if stage == "done":
                    run = session.get(GradingRun, run_id)
                    assert run is not None
                    run.status = RunStatus.GRADED
                progress.record_event(session, run_id, stage, "", current, total)

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def test_stream_follows_every_stage_to_the_end(world: World) -> None:
    worker = play_worker(world.platform, world.run_id)
    with world.client("owner") as client:
        started = time.monotonic()
        events = follow(client, f"/api/v1/runs/{world.run_id}/events")
        elapsed = time.monotonic() - started
    worker.join()
    assert [(e["stage"], e["current"], e["total"]) for e in events] == [
        ("queued", None, None),
        *STAGES,
    ]
    assert [e["seq"] for e in events] == list(range(len(STAGES) + 1))
    assert elapsed < 10  # it ended by itself after "done"


def test_submission_stream_and_resume_with_last_event_id(world: World) -> None:
    play_worker(world.platform, world.run_id, pause_s=0).join()
    path = f"/api/v1/submissions/{world.submission_id}/events"
    with world.client("owner") as client:
        resumed = follow(client, path, last_event_id="3")
        assert [e["seq"] for e in resumed] == [4, 5, 6]
        assert resumed[-1]["stage"] == "done"
        # everything seen and the run is over: 204 tells EventSource not to reconnect
        again = client.get(path, headers={"Accept": "text/event-stream", "Last-Event-ID": "6"})
        assert again.status_code == 204
        bad = client.get(path, headers={"Accept": "text/event-stream", "Last-Event-ID": "x"})
        assert bad.status_code == 400


def test_polling_returns_json_pages(world: World) -> None:
    path = f"/api/v1/runs/{world.run_id}/events"
    with world.client("owner") as client:
        first = client.get(path, params={"after": -1}).json()
        assert (first["status"], first["finished"]) == ("queued", False)
        assert [e["stage"] for e in first["events"]] == ["queued"]
        play_worker(world.platform, world.run_id, pause_s=0).join()
        rest = client.get(path, params={"after": 0}).json()
        assert [e["seq"] for e in rest["events"]] == [1, 2, 3, 4, 5, 6]
        assert (rest["status"], rest["finished"]) == ("graded", True)
        assert client.get(path, params={"after": 6}).json()["events"] == []
        as_json = client.get(path, headers={"Accept": "application/json"})
        assert len(as_json.json()["events"]) == 7


def test_only_the_owner_and_staff_see_a_runs_events(world: World) -> None:
    paths = [
        f"/api/v1/runs/{world.run_id}/events",
        f"/api/v1/submissions/{world.submission_id}/events",
    ]
    for path in paths:
        with world.client("other") as client:
            assert client.get(path, params={"after": -1}).status_code == 404
            assert client.get(path, headers={"Accept": "text/event-stream"}).status_code == 404
        with world.client(None) as client:
            assert client.get(path, params={"after": -1}).status_code == 401
        with world.client("ta") as client:
            assert client.get(path, params={"after": -1}).status_code == 200
    with world.client("owner") as client:
        missing = client.get(f"/api/v1/runs/{world.run_id + 99}/events", params={"after": -1})
        assert missing.status_code == 404


def test_waiting_streams_hold_no_threads(world: World) -> None:
    """More open streams than the threadpool has threads; other requests still answer."""
    streams = 50  # anyio's default threadpool has 40 threads
    opened = threading.Barrier(streams + 1, timeout=60)
    seen: list[list[str]] = [[] for _ in range(streams)]

    def listen(index: int) -> None:
        with (
            world.client("owner") as client,
            client.stream(
                "GET",
                f"/api/v1/runs/{world.run_id}/events",
                headers={"Accept": "text/event-stream"},
                timeout=60,
            ) as response,
        ):
            for number, event in enumerate(read_events(response)):
                seen[index].append(event.json()["stage"])
                if number == 0:
                    opened.wait()

    listeners = [threading.Thread(target=listen, args=(i,)) for i in range(streams)]
    for thread in listeners:
        thread.start()
    opened.wait()
    with world.client("ta") as client:
        started = time.monotonic()
        answer = client.get(f"/api/v1/runs/{world.run_id}/events", params={"after": -1})
        latency = time.monotonic() - started
    assert answer.status_code == 200
    assert latency < 5
    play_worker(world.platform, world.run_id, pause_s=0).join()
    for thread in listeners:
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert all(stages == ["queued", *(s for s, _c, _t in STAGES)] for stages in seen)


def open_stream(stack: ExitStack, client: httpx.Client, path: str) -> httpx.Response:
    """A stream left open (its first event read), or the refusal's response."""
    response = stack.enter_context(
        client.stream("GET", path, headers={"Accept": "text/event-stream"}, timeout=30)
    )
    if response.status_code == 200:
        events = read_events(response)
        assert next(events).json()["stage"] == "queued"
        stack.callback(events.close)  # kept until then: closing it drops the connection
    else:
        response.read()
    return response


def eventually(condition: Callable[[], bool], timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_open_streams_are_capped_per_user_and_per_server(tmp_path: Path) -> None:
    """Over the cap: 429 with Retry-After and a JSON error; a closed stream's place comes
    back, and so does that of a stream the server ended. SQLite only: the count is kept
    in the server process, the database plays no part in it."""
    with open_world(
        "sqlite", tmp_path, events_max_streams_per_user=2, events_max_streams=3
    ) as world:
        streams = world.server.app.state.limiters.streams
        path = f"/api/v1/runs/{world.run_id}/events"
        with ExitStack() as stack:
            owner = stack.enter_context(world.client("owner"))
            ta = stack.enter_context(world.client("ta"))
            first = ExitStack()
            assert open_stream(first, owner, path).status_code == 200
            assert open_stream(stack, owner, path).status_code == 200
            refused = open_stream(stack, owner, path)
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.json()["error"] == "RateLimitedError"
            assert "at most 2 at a time per user" in refused.json()["detail"]
            # polling is not a stream: still answered
            assert owner.get(path, params={"after": -1}).status_code == 200
            assert open_stream(stack, ta, path).status_code == 200
            full = open_stream(stack, ta, path)  # ta holds one, the server three
            assert full.status_code == 429
            assert "on this server" in full.json()["detail"]
            assert streams.held() == 3
            first.close()  # the client goes away: its place comes back
            assert eventually(lambda: streams.held() == 2)
            assert open_stream(stack, owner, path).status_code == 200
            play_worker(world.platform, world.run_id, pause_s=0).join()
            # every stream ends by itself after "done" and gives its place back
            assert eventually(lambda: streams.held() == 0)


@pytest.mark.parametrize("kind", DATABASE_KINDS)
def test_streams_and_pages_are_charged_to_the_request_limit(kind: str, tmp_path: Path) -> None:
    """The events routes authenticate in the thread that reads their first page: the
    caller is still checked before anything else (401, even with a bad Last-Event-ID)
    and every request, stream or page, takes a token of the user's bucket (on
    PostgreSQL the one all servers share): the fourth of a 3-a-minute user is 429."""
    with open_world(kind, tmp_path, rate_limit_per_minute=3) as world:
        path = f"/api/v1/submissions/{world.submission_id}/events"
        with world.client(None) as anonymous:
            bad = anonymous.get(path, headers={"Accept": "text/event-stream", "Last-Event-ID": "x"})
            assert bad.status_code == 401
        with ExitStack() as stack:
            owner = stack.enter_context(world.client("owner"))
            assert open_stream(stack, owner, path).status_code == 200
            assert owner.get(path, params={"after": -1}).status_code == 200
            run_path = f"/api/v1/runs/{world.run_id}/events"
            assert open_stream(stack, owner, run_path).status_code == 200
            refused = open_stream(stack, owner, path)
            assert refused.status_code == 429
            assert refused.json()["error"] == "RateLimitedError"
            assert "per minute" in refused.json()["detail"]
            assert owner.get(path, params={"after": -1}).status_code == 429
            with world.client("ta") as ta:  # another user's bucket
                assert ta.get(path, params={"after": -1}).status_code == 200
