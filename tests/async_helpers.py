"""Running a test's coroutine whatever the main thread holds.

The browser tests' session-wide Playwright (its sync API) leaves an event loop
running in the main thread for the rest of the session, where ``asyncio.run``
refuses to start another: each coroutine here gets a loop in a thread of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coroutine)`` in a thread of its own; its result or exception."""
    with ThreadPoolExecutor(1, thread_name_prefix="test-loop") as pool:
        return pool.submit(asyncio.run, coroutine).result()
