"""The execution core under both code-execution APIs, called directly on SQLite and
PostgreSQL: create, own, wait, run and fail. The APIs' runners are replaced (the
real ones are exercised by test_execute.py and test_judge0.py), so no sandbox runs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from assay.errors import NotFoundError
from assay.queue import ClaimedJob
from assay.services import Actor, Platform
from assay.services.execution import core, judge0_run, picobytes
from assay.services.execution.core import Api
from assay.services.identity import accounts
from assay.storage.models import Execution, Job, JobStatus, RunStatus
from platform_helpers import DATABASE_KINDS, database_url, open_platform, settings_for

HOST_PATH = "/srv/assay/state/secret-path"


@dataclass
class World:
    platform: Platform
    alice: Actor
    bob: Actor
    admin: Actor


@pytest.fixture(params=DATABASE_KINDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with database_url(request.param, tmp_path) as url:
        platform = open_platform(settings_for(url, tmp_path / "state"))
        try:
            system = Actor.system()
            actors = []
            for name in ("alice", "bob"):
                user = accounts.create_user(platform, system, name, "correct horse battery")
                actors.append(Actor(user.id, name, False, "test"))
            admin = Actor(None, "root", True, "test")
            yield World(platform, actors[0], actors[1], admin)
        finally:
            platform.close()


def claim(platform: Platform) -> ClaimedJob:
    job = platform.queue.claim("worker-a")
    assert isinstance(job, ClaimedJob)
    return job


def test_only_the_maker_or_an_admin_reads_an_execution_through_its_own_api(world: World) -> None:
    [mine] = core.submit(world.platform, world.alice, Api.PICOBYTES, [{"code": "x"}])
    seen = core.read(world.platform, world.alice, mine, Api.PICOBYTES)
    assert seen.token == mine and seen.status is RunStatus.QUEUED
    assert seen.request == {"code": "x"} and seen.result is None and seen.error_text is None
    assert core.read(world.platform, world.admin, mine, Api.PICOBYTES).token == mine
    for actor, api in ((world.bob, Api.PICOBYTES), (world.alice, Api.JUDGE0)):
        with pytest.raises(NotFoundError):
            core.read(world.platform, actor, mine, api)
    with pytest.raises(NotFoundError):
        core.read(world.platform, world.alice, "no-such-token", Api.PICOBYTES)
    # many at once: in the order asked, None for what the actor may not see
    [theirs] = core.submit(world.platform, world.bob, Api.PICOBYTES, [{"code": "y"}])
    asked = [theirs, mine, "no-such-token", mine]
    views = core.read_many(world.platform, world.alice, asked, Api.PICOBYTES)
    assert [v.token if v else None for v in views] == [None, mine, None, mine]
    views = core.read_many(world.platform, world.admin, asked, Api.PICOBYTES)
    assert [v.token if v else None for v in views] == [theirs, mine, None, mine]


def test_submit_stores_and_queues_every_request_in_order(world: World) -> None:
    requests: list[dict[str, Any]] = [{"n": 1}, {"n": 2}, {"n": 3}]
    tokens = core.submit(world.platform, world.alice, Api.JUDGE0, requests)
    assert len(set(tokens)) == 3
    views = core.read_many(world.platform, world.alice, tokens, Api.JUDGE0)
    assert [v.request if v else None for v in views] == requests
    jobs = [claim(world.platform) for _ in tokens]
    with world.platform.db.reading() as session:
        targets = [session.get(Execution, job.target_id) for job in jobs]
        assert sorted(e.token for e in targets if e is not None) == sorted(tokens)


@pytest.mark.parametrize(("api", "module"), [(Api.PICOBYTES, picobytes), (Api.JUDGE0, judge0_run)])
def test_the_job_runs_the_apis_runner_and_records_its_result_once(
    world: World, monkeypatch: pytest.MonkeyPatch, api: Api, module: object
) -> None:
    ran: list[dict[str, Any]] = []

    def runner(_platform: Platform, request: dict[str, Any]) -> dict[str, Any]:
        ran.append(request)
        return {"ran": request["n"]}

    monkeypatch.setattr(module, "run", runner)  # looked up when the job runs
    [token] = core.submit(world.platform, world.alice, api, [{"n": 7}])
    job = claim(world.platform)
    core.run_execution_job(world.platform, job, "worker-a")
    seen = core.read(world.platform, world.alice, token, api)
    assert ran == [{"n": 7}]
    assert seen.status is RunStatus.GRADED and seen.result == {"ran": 7}
    assert seen.finished_at is not None
    # run again (a retried delivery): already recorded, the runner is not called
    with world.platform.db.session() as session:
        world.platform.queue.enqueue(session, job.kind, job.target_id)
    core.run_execution_job(world.platform, claim(world.platform), "worker-a")
    assert ran == [{"n": 7}]
    # failing for good after that changes nothing
    with world.platform.db.session() as session:
        core.mark_execution_failed(session, job.target_id, "too late")
    assert core.read(world.platform, world.alice, token, api).result == {"ran": 7}


def test_a_job_no_longer_this_workers_records_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(picobytes, "run", lambda _p, _r: {"ran": True})
    [token] = core.submit(world.platform, world.alice, Api.PICOBYTES, [{}])
    job = claim(world.platform)
    core.run_execution_job(world.platform, job, "worker-b")  # not the claimer
    seen = core.read(world.platform, world.alice, token, Api.PICOBYTES)
    assert seen.result is None and seen.status is RunStatus.RUNNING


def test_a_runner_raising_leaves_the_execution_to_be_retried(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_platform: Platform, _request: dict[str, Any]) -> dict[str, Any]:
        raise OSError(28, "No space left on device", HOST_PATH)

    monkeypatch.setattr(judge0_run, "run", broken)
    [token] = core.submit(world.platform, world.alice, Api.JUDGE0, [{}])
    job = claim(world.platform)
    with pytest.raises(OSError):
        core.run_execution_job(world.platform, job, "worker-a")
    seen = core.read(world.platform, world.alice, token, Api.JUDGE0)
    assert seen.result is None and seen.error_text is None
    with world.platform.db.reading() as session:
        row = session.get(Job, job.id)
        assert row is not None and row.status == JobStatus.RUNNING  # the pool retries it


def test_failing_for_good_shows_only_a_reference_and_logs_the_error(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    [token] = core.submit(world.platform, world.alice, Api.JUDGE0, [{}])
    job = claim(world.platform)
    with world.platform.db.session() as session:
        core.mark_execution_failed(session, job.target_id, f"OSError: {HOST_PATH}")
    seen = core.read(world.platform, world.alice, token, Api.JUDGE0)
    assert seen.status is RunStatus.ERROR and seen.result is None
    assert seen.error_text is not None and HOST_PATH not in seen.error_text
    reference = seen.error_text.removeprefix("internal error, reference ")
    assert reference and reference != seen.error_text
    logged = [r for r in caplog.records if getattr(r, "reference", None) == reference]
    assert logged and HOST_PATH in logged[0].getMessage()
    assert getattr(logged[0], "execution_id", None) == job.target_id


def test_wait_returns_when_done_and_gives_up_after_its_bound(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(picobytes, "run", lambda _p, _r: {"ran": True})
    [token] = core.submit(world.platform, world.alice, Api.PICOBYTES, [{}])
    started = time.monotonic()
    core.wait_for(world.platform, [token], 0.3)  # nobody runs it: the bound ends the wait
    assert 0.3 <= time.monotonic() - started < 5
    job = claim(world.platform)
    worker = threading.Timer(0.2, core.run_execution_job, (world.platform, job, "worker-a"))
    worker.start()
    started = time.monotonic()
    try:
        core.wait_for(world.platform, [token], 30)
    finally:
        worker.join()
    assert time.monotonic() - started < 10
    assert core.read(world.platform, world.alice, token, Api.PICOBYTES).result == {"ran": True}
