"""Idle workers share the polling: each heartbeat says how many live workers have a
free slot, and an idle worker's poll interval grows with that number (on SQLite and
PostgreSQL, with real worker rows)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from assay.services import Platform
from assay.services.intake import workers
from assay.storage.models import Worker, WorkerState, utcnow
from assay.worker.pool import FLEET_POLLS, MAX_IDLE_POLL_S, idle_poll_s
from platform_helpers import DATABASE_KINDS, platform_on


@pytest.fixture(params=DATABASE_KINDS)
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    with platform_on(request.param, tmp_path) as opened:
        yield opened


def _beat(platform: Platform, worker_id: str, busy: int = 0) -> int:
    return workers.heartbeat(platform, worker_id, busy=busy, jobs_done=0, job_ids=[])


def test_the_heartbeat_counts_live_workers_with_a_free_slot(platform: Platform) -> None:
    for name in ("a", "b", "full", "dead", "stopped"):
        workers.register(platform, f"host:1:{name}", slots=4)
    with platform.db.session() as session:
        session.execute(
            update(Worker)
            .where(Worker.id == "host:1:dead")
            .values(heartbeat_at=utcnow() - platform.queue.lease - timedelta(seconds=1))
        )
        session.execute(
            update(Worker).where(Worker.id == "host:1:stopped").values(state=WorkerState.STOPPED)
        )
    _beat(platform, "host:1:full", busy=4)  # every slot taken: it does not poll
    assert _beat(platform, "host:1:a") == 2  # a and b
    workers.register(platform, "host:1:c", slots=1)
    assert _beat(platform, "host:1:b") == 3
    _beat(platform, "host:1:full", busy=3)
    assert _beat(platform, "host:1:a") == 4


def test_a_lone_heartbeat_counts_at_least_itself(platform: Platform) -> None:
    workers.register(platform, "host:1:only", slots=1)
    _beat(platform, "host:1:only", busy=1)
    assert _beat(platform, "host:1:only", busy=1) == 1


def test_a_small_fleet_polls_as_configured() -> None:
    for fleet in range(1, FLEET_POLLS + 1):
        assert idle_poll_s(0.5, fleet) == 0.5


def test_a_large_fleet_shares_the_polling() -> None:
    fleet = 50
    waits = [idle_poll_s(0.5, fleet) for _ in range(4000)]
    mean = sum(waits) / len(waits)
    expected = 0.5 * fleet / FLEET_POLLS  # each worker; the fleet asks FLEET_POLLS per 0.5 s
    assert 0.95 * expected < mean < 1.05 * expected
    assert min(waits) >= 0.5 * expected * 0.999 and max(waits) <= 1.5 * expected * 1.001
    assert len({round(wait, 3) for wait in waits}) > 100  # jittered: workers do not ask together


def test_a_huge_fleet_still_polls_now_and_then() -> None:
    waits = [idle_poll_s(0.5, 100_000) for _ in range(1000)]
    assert max(waits) <= 1.5 * MAX_IDLE_POLL_S
    assert min(waits) >= 0.5 * MAX_IDLE_POLL_S
