"""RunWatch's handling of notifications, without a database: which waiters wake,
what is remembered for streams that were between two reads, what is ignored."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import async_helpers
from assay.web.api.events import RunWatch


def watch() -> RunWatch:
    platform: Any = SimpleNamespace(
        db=SimpleNamespace(is_sqlite=False),
        settings=SimpleNamespace(events_poll_interval_s=1000.0),
    )
    made = RunWatch(platform, notify=False)  # no listener: notifications are fed by hand
    made.FALLBACK_S = 2.0
    return made


def test_a_notification_wakes_only_the_waiters_it_has_news_for() -> None:
    async def scenario() -> None:
        w = watch()
        behind = asyncio.ensure_future(w.wait(7, 3))
        current = asyncio.ensure_future(w.wait(7, 5))
        other = asyncio.ensure_future(w.wait(8, 0))
        await asyncio.sleep(0.05)
        w.heard("7:5")
        await asyncio.sleep(0.05)
        assert behind.done() and not current.done() and not other.done()
        w.heard("7:6")
        await asyncio.sleep(0.05)
        assert current.done() and not other.done()
        other.cancel()

    async_helpers.run(scenario())


def test_news_heard_before_a_stream_waits_is_not_waited_for() -> None:
    async def scenario() -> None:
        w = watch()
        w.heard("9:4")  # the event came between the stream's read and its wait
        await asyncio.wait_for(w.wait(9, 3), 0.5)
        waiting = asyncio.ensure_future(w.wait(9, 4))  # nothing newer than 4 yet
        await asyncio.sleep(0.1)
        assert not waiting.done()
        waiting.cancel()

    async_helpers.run(scenario())


def test_malformed_notifications_are_ignored_and_memory_is_bounded() -> None:
    w = watch()
    for payload in ("", "x:1", "1:y", "1", ":", "1:2:3"):
        w.heard(payload)
    assert dict(w._heard) == {}
    w.HEARD_RUNS = 3
    for run_id in range(10):
        w.heard(f"{run_id}:1")
    assert list(w._heard) == [7, 8, 9]


def test_a_page_read_before_the_listener_came_up_is_read_again() -> None:
    async def scenario() -> None:
        w = watch()
        w._bind_loop()  # (a watch starts afresh on its first loop)
        w.listening, w.epoch = True, 2  # the listener came up (again) since epoch 1
        await asyncio.wait_for(w.wait(5, 0, epoch=1), 0.5)  # at once
        waiting = asyncio.ensure_future(w.wait(5, 0, epoch=2))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        waiting.cancel()

    async_helpers.run(scenario())
