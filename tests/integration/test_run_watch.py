"""RunWatch, the waiting room of live-progress streams, on real PostgreSQL.

With LISTEN/NOTIFY a waiting stream is woken by the writer's commit, whichever
process wrote; the poll interval here is 1000 s, so polling cannot be what wakes
it. The same wait with notifications off is not woken before its fallback time:
what the NOTIFY path delivers, polling at that interval would not. A listening
connection that is killed is replaced, and what happened meanwhile is not missed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

import async_helpers
from assay.grading.stages import Stage
from assay.services import Platform
from assay.services.intake import progress
from assay.storage.pgconn import libpq_url
from assay.web.api.events import RunWatch
from platform_helpers import database_url, open_platform, settings_for
from worker_helpers import Course, make_course, submit_batch

SLOW_POLL_S = 1000.0


@dataclass
class Run:
    platform: Platform
    run_id: int


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    tmp = tmp_path_factory.mktemp("watch")
    with database_url("postgres", tmp) as url:
        opened = open_platform(settings_for(url, tmp / "state", events_poll_interval_s=SLOW_POLL_S))
        try:
            yield opened
        finally:
            opened.close()


@pytest.fixture(scope="module")
def course(platform: Platform) -> Course:
    return make_course(platform)


@pytest.fixture
def run(platform: Platform, course: Course, request: pytest.FixtureRequest) -> Run:
    """A new queued run (only its "queued" event, seq 0)."""
    (run_id,) = submit_batch(platform, course, 1, prefix=request.node.name[:40])
    return Run(platform, run_id)


def record_later(
    platform: Platform, run_id: int, stage: Stage, delay_s: float
) -> asyncio.Task[int]:
    """Record ``stage`` from another thread (as another process would) after ``delay_s``."""

    def write() -> int:
        time.sleep(delay_s)
        with platform.db.session() as session:
            return progress.record_event(session, run_id, stage)

    return asyncio.ensure_future(asyncio.to_thread(write))


async def timed_wait(watch: RunWatch, run_id: int, seen: int) -> float:
    started = time.monotonic()
    await watch.wait(run_id, seen)
    return time.monotonic() - started


def test_a_notification_wakes_the_waiting_stream_at_once(run: Run) -> None:
    async def scenario() -> None:
        watch = RunWatch(run.platform)
        assert watch.notify  # PostgreSQL: notifications by default
        writer = record_later(run.platform, run.run_id, Stage.STARTED, 0.5)
        waited = await timed_wait(watch, run.run_id, 0)
        assert await writer == 1
        assert watch.listening
        assert 0.4 < waited < 1.5, waited
        # a run nobody waits on: its seq is remembered, so a stream that read its
        # page just before the event does not wait for it
        writer = record_later(run.platform, run.run_id, Stage.BUILDING, 0.0)
        assert await writer == 2
        await asyncio.sleep(0.3)
        assert await timed_wait(watch, run.run_id, 1) < 0.1

    async_helpers.run(scenario())


def test_without_notifications_the_same_wait_is_not_woken(run: Run) -> None:
    async def scenario() -> None:
        watch = RunWatch(run.platform, notify=False)
        watch.FALLBACK_S = 3.0
        writer = record_later(run.platform, run.run_id, Stage.STARTED, 0.5)
        waited = await timed_wait(watch, run.run_id, 0)
        assert await writer == 1
        assert waited >= 3.0, waited  # only the fallback ended it

    async_helpers.run(scenario())


def test_a_dropped_listening_connection_is_replaced_and_nothing_is_missed(run: Run) -> None:
    async def scenario() -> None:
        watch = RunWatch(run.platform)
        writer = record_later(run.platform, run.run_id, Stage.STARTED, 0.3)
        await timed_wait(watch, run.run_id, 0)
        await writer
        assert watch.listening and watch.epoch == 1
        with psycopg.connect(libpq_url(run.platform.db.url), autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query LIKE 'LISTEN %%' AND pid <> pg_backend_pid()"
                " AND datname = current_database()"
            ).fetchall()
        assert killed == [(True,)]
        # the event is written while the listener is down (it notices within a second)
        writer = record_later(run.platform, run.run_id, Stage.BUILDING, 0.0)
        waited = await timed_wait(watch, run.run_id, 1)
        assert await writer == 2
        assert waited < 4.0, waited  # the re-check after reconnecting, not the fallback
        assert watch.listening and watch.epoch == 2
        writer = record_later(run.platform, run.run_id, Stage.TESTING, 0.3)
        assert await timed_wait(watch, run.run_id, 2) < 1.5
        await writer

    async_helpers.run(scenario())
