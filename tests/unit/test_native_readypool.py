"""The ready pool's logic with fake items (``assay.sandbox.native.readypool``):
no root, no launchers, no namespaces."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from assay.errors import SandboxError
from assay.sandbox.native import readypool
from assay.sandbox.native.readypool import ReadyPool

WAIT_S = 5.0
_names = itertools.count()


class Items:
    """Fake items (numbers): which were made, destroyed and forgotten."""

    def __init__(self) -> None:
        self.made: list[int] = []
        self.destroyed: list[int] = []
        self.forgotten: list[int] = []
        self.failures = 0  # builds left to fail
        self.gate = threading.Event()  # a build waits for it
        self.gate.set()
        self.building = threading.Event()
        self.thread_name = ""
        self._count = itertools.count()

    def make(self) -> int:
        self.building.set()
        assert self.gate.wait(WAIT_S)
        if self.failures:
            self.failures -= 1
            raise SandboxError("no item this time")
        item = next(self._count)
        self.made.append(item)
        return item

    def pool(self, size: int) -> ReadyPool[int]:
        self.thread_name = f"test-readypool-{next(_names)}"
        return ReadyPool(
            size,
            make=self.make,
            destroy=self.destroyed.append,
            forget=self.forgotten.append,
            name=self.thread_name,
            what="a fake item",
        )


def eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "not within the bound"
        time.sleep(0.005)


@pytest.fixture
def items() -> Iterator[Items]:
    items = Items()
    yield items
    items.gate.set()  # never leave a thread waiting on it


def test_keeps_size_items_ready_and_refills_what_is_taken(items: Items) -> None:
    pool = items.pool(2)
    try:
        eventually(lambda: len(items.made) == 2)
        time.sleep(0.05)
        assert len(items.made) == 2  # no more than asked for
        assert pool.take() == 0  # the oldest first
        eventually(lambda: len(items.made) == 3)
        assert [pool.take(), pool.take()] == [1, 2]
    finally:
        pool.close()


def test_take_without_refill_now_leaves_the_thread_asleep(items: Items) -> None:
    pool = items.pool(1)
    try:
        eventually(lambda: len(items.made) == 1)
        assert pool.take(refill_now=False) == 0
        time.sleep(0.05)
        assert len(items.made) == 1
        pool.discard(0)  # other work wakes it: it destroys, then refills
        eventually(lambda: items.destroyed == [0] and len(items.made) == 2)
    finally:
        pool.close()


def test_take_never_waits_for_a_build(items: Items) -> None:
    items.gate.clear()
    pool = items.pool(1)
    try:
        assert items.building.wait(WAIT_S)
        started = time.monotonic()
        assert pool.take() is None
        assert time.monotonic() - started < 0.5
    finally:
        items.gate.set()
        pool.close()


def test_a_pool_of_none_has_no_thread_and_destroys_at_once(items: Items) -> None:
    pool = items.pool(0)
    assert pool.take() is None
    pool.discard(7)
    assert items.destroyed == [7]
    assert items.made == []
    pool.close()


def test_a_failed_build_is_logged_and_tried_again(
    items: Items, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(readypool, "RETRY_S", 0.01)
    items.failures = 2
    pool = items.pool(1)
    try:
        eventually(lambda: items.made == [0])
        assert pool.take() == 0
        failed = [r for r in caplog.records if "cannot prepare a fake item" in r.getMessage()]
        assert len(failed) == 2
    finally:
        pool.close()


def test_close_destroys_what_is_ready_and_discarded(items: Items) -> None:
    pool = items.pool(2)
    eventually(lambda: len(items.made) == 2)
    pool.close()
    assert pool.closed
    assert sorted(items.destroyed) == [0, 1]
    assert pool.take() is None
    pool.discard(9)  # after close: destroyed at once
    assert items.destroyed[-1] == 9


def test_an_item_made_while_closing_is_destroyed(items: Items) -> None:
    items.gate.clear()
    pool = items.pool(1)
    assert items.building.wait(WAIT_S)
    closer = threading.Thread(target=pool.close)
    closer.start()  # waits for the thread, which waits for the build
    eventually(lambda: pool.closed)
    items.gate.set()
    closer.join(WAIT_S)
    assert not closer.is_alive()
    assert items.made == [0]
    assert items.destroyed == [0]
    assert pool.take() is None


def test_after_fork_in_child_forgets_without_destroying(
    items: Items, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readypool, "IDLE_WAIT_S", 0.01)  # the parent's thread ends soon
    pool = items.pool(2)
    [thread] = [t for t in threading.enumerate() if t.name == items.thread_name]
    eventually(lambda: len(items.made) == 2)
    pool.after_fork_in_child()  # called directly: what the fork hook does in a child
    assert sorted(items.forgotten) == [0, 1]
    assert pool.closed
    assert pool.take() is None
    pool.discard(5)  # no thread here: at once
    assert items.destroyed == [5]
    thread.join(WAIT_S)
    assert not thread.is_alive()
    assert len(items.made) == 2
