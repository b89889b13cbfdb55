"""The limits several API servers share through PostgreSQL: token buckets, the intake
gate's leased places, the generated secret key (two platforms stand for two servers)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import async_helpers
from assay.errors import RateLimitedError
from assay.services import Platform
from assay.services.operations import shared_limits
from assay.web.deps import IntakeGate
from assay.web.ratelimit import DatabaseRateLimiter, SharedIntake
from platform_helpers import database_url, open_platform, settings_for


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, Platform]]:
    tmp = tmp_path_factory.mktemp("shared")
    with database_url("postgres", tmp) as url:
        a = open_platform(settings_for(url, tmp / "a", secret_key=""))
        b = open_platform(settings_for(url, tmp / "b", secret_key=""), migrate=False)
        try:
            yield a, b
        finally:
            a.close()
            b.close()


@pytest.fixture
def two(servers: tuple[Platform, Platform]) -> tuple[Platform, Platform]:
    """The two servers, with no bucket or place held yet."""
    with servers[0].db.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM rate_buckets")
        connection.exec_driver_sql("DELETE FROM intake_places")
    return servers


def test_a_bucket_is_shared_taken_atomically_and_refunded(two: tuple[Platform, Platform]) -> None:
    a = DatabaseRateLimiter(two[0].db, "requests", 10)
    b = DatabaseRateLimiter(two[1].db, "requests", 10)
    other = DatabaseRateLimiter(two[1].db, "submissions", 10)

    # 40 concurrent requests of one user over two servers: exactly 10 pass
    def hit(number: int) -> bool:
        try:
            (a if number % 2 else b).hit("user:1")
        except RateLimitedError:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        passed = sum(pool.map(hit, range(40)))
    assert passed == 10
    with pytest.raises(RateLimitedError, match="at most 10 per minute") as refused:
        a.hit("user:1")
    assert 1 <= refused.value.retry_after_s <= 6  # a token comes back every 6 s
    other.hit("user:1")  # another limit's bucket of the same user
    a.hit("user:2")  # another user's bucket
    b.refund("user:1")
    a.hit("user:1")  # the refunded token
    with pytest.raises(RateLimitedError):
        b.hit("user:1")


def test_buckets_refill_and_full_ones_are_pruned(two: tuple[Platform, Platform]) -> None:
    fast = DatabaseRateLimiter(two[0].db, "requests", 600)  # a token every 0.1 s
    fast.hit("user:1")
    with two[0].db.engine.begin() as connection:  # emptied just now
        connection.exec_driver_sql(
            "UPDATE rate_buckets SET tokens = 0,"
            " refilled_at = EXTRACT(EPOCH FROM clock_timestamp())"
        )
    with pytest.raises(RateLimitedError):
        fast.hit("user:1")
    time.sleep(0.25)
    fast.hit("user:1")
    fast.hit("user:1")
    assert shared_limits.prune_buckets(two[0].db) == 0  # used within the minute
    with two[0].db.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE rate_buckets SET refilled_at = refilled_at - 61")
    assert shared_limits.prune_buckets(two[0].db) == 1


def test_the_intake_gate_is_shared_and_a_dead_holders_places_come_back(
    two: tuple[Platform, Platform],
) -> None:
    async def scenario() -> None:
        a, b = SharedIntake(two[0].db, 3), SharedIntake(two[1].db, 3)
        held = [await a.take(), await b.take(), await a.take()]
        assert a.held() == b.held() == 3
        waiting = asyncio.ensure_future(b.take())
        await asyncio.sleep(0.3)
        assert not waiting.done()  # all three places are held, across both servers
        await a.give_back(held[0])
        place = await asyncio.wait_for(waiting, 2.0)
        assert place[0] == held[0][0]
        # a server that died holding places: they come back when their lease ends
        with two[0].db.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE intake_places SET expires_at = expires_at - 1000")
        assert b.held() == 0
        assert (await asyncio.wait_for(b.take(), 2.0))[0] in {0, 1, 2}

    async_helpers.run(scenario())


class CountedIntake(SharedIntake):
    """The shared gate, counting how many of this server's requests ask it at once."""

    asking = 0
    most_asking = 0

    async def take(self) -> tuple[int, str]:
        self.asking += 1
        self.most_asking = max(self.most_asking, self.asking)
        try:
            return await super().take()
        finally:
            self.asking -= 1


def test_one_waiter_per_server_asks_a_full_shared_gate(two: tuple[Platform, Platform]) -> None:
    async def scenario() -> None:
        other = SharedIntake(two[1].db, 1)
        held = await other.take()  # the other server holds the only place
        shared = CountedIntake(two[0].db, 1)
        gate = IntakeGate(4, shared)
        order: list[int] = []

        async def submit(number: int) -> None:
            async with gate.turn():
                order.append(number)
                await asyncio.sleep(0.05)

        waiting = []
        for number in range(4):
            waiting.append(asyncio.ensure_future(submit(number)))
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        assert order == []  # the place is the other server's
        assert shared.most_asking == 1  # of the 4 waiting, only the first asks
        await other.give_back(held)
        await asyncio.wait_for(asyncio.gather(*waiting), 10.0)
        assert order == [0, 1, 2, 3]  # in arrival order, one at a time
        assert shared.most_asking == 1

    async_helpers.run(scenario())


def test_the_generated_secret_key_is_one_for_every_server(two: tuple[Platform, Platform]) -> None:
    first = two[0].secret_key()
    assert len(first) > 40
    assert two[1].secret_key() == first  # another state directory, the same database
    assert not (Path(two[0].settings.state_dir) / "secret_key").exists()
