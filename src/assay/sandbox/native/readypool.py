"""Items made ahead of time by a background thread, so that taking one never waits.

Some things a run needs cost milliseconds to make: a slot's cgroup and parked
launcher (``slots.py``), a session's namespaces (``prepared.py``). A
``ReadyPool`` keeps ``size`` of them ready, made by one thread below the runs'
priority (``REFILL_NICE``) that lives as long as the pool: a launcher dies
with the thread that started it. The same thread destroys the items handed
back with ``discard`` (before making new ones), off the caller's path.

A failed build is logged and tried again a second later. An item made while
the pool closed, and those still ready or discarded at ``close``, are
destroyed. A forked child forgets the parent's items without touching them
and the pool is closed there (``assay.sandbox.forks``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from assay.errors import SandboxError
from assay.sandbox import forks

log = logging.getLogger(__name__)

T = TypeVar("T")

REFILL_NICE = 10
IDLE_WAIT_S = 30.0  # the thread looks again this often even when not woken
RETRY_S = 1.0  # after a failed build
JOIN_S = 5.0  # how long close waits for the thread


class ReadyPool(Generic[T]):
    """Keeps ``size`` items ready; ``make`` may raise ``SandboxError`` (retried)."""

    def __init__(
        self,
        size: int,
        *,
        make: Callable[[], T],
        destroy: Callable[[T], None],
        forget: Callable[[T], None],
        name: str,
        what: str,
    ) -> None:
        """``forget`` lets go of an item in a forked child; ``name`` is the thread's;
        ``what`` names an item in log lines ("a sandbox slot")."""
        self.size = size
        self._make, self._destroy, self._forget = make, destroy, forget
        self._what = what
        self._ready: deque[T] = deque()
        self._discarded: deque[T] = deque()
        self._wanted = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        if size > 0:
            self._thread = threading.Thread(target=self._refill, name=name, daemon=True)
            self._thread.start()
        forks.register(self)

    def take(self, *, refill_now: bool = True) -> T | None:
        """The oldest ready item, or None; never waits. Without ``refill_now`` the
        thread makes the next one only when woken for other work (or idle)."""
        with self._wanted:
            if refill_now:
                self._wanted.notify()
            return self._ready.popleft() if self._ready else None

    def discard(self, item: T) -> None:
        """An item done with: destroyed by the thread (here when there is none)."""
        if self._thread is None:
            self._destroy(item)
            return
        with self._wanted:
            if not self._closed:
                self._discarded.append(item)
                self._wanted.notify()
                return
        self._destroy(item)

    def _refill(self) -> None:
        # Below the runs' priority: the work here must not slow the run beside it.
        # (Per thread on Linux; a launcher resets its own priority to 0 unless asked not to.)
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), REFILL_NICE)
        while True:
            with self._wanted:
                while not self._closed and not self._discarded and len(self._ready) >= self.size:
                    self._wanted.wait(IDLE_WAIT_S)
                if self._closed:
                    return
                discarded = self._discarded.popleft() if self._discarded else None
            if discarded is not None:
                self._destroy_logged(discarded)
                continue
            try:
                item = self._make()
            except SandboxError as exc:
                log.warning("cannot prepare %s: %s", self._what, exc)
                with self._wanted:
                    self._wanted.wait(RETRY_S)
                continue
            with self._wanted:
                closed = self.closed  # while it was being made (the property: read anew)
                if not closed:
                    self._ready.append(item)
            if closed:
                self._destroy_logged(item)
                return

    def _destroy_logged(self, item: T) -> None:
        try:
            self._destroy(item)
        except (SandboxError, OSError) as exc:
            log.warning("cannot clean up %s: %s", self._what, exc)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop the thread (waited for at most ``JOIN_S``) and destroy every item held."""
        with self._wanted:
            self._closed = True
            ready, self._ready = list(self._ready), deque()
            self._wanted.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(JOIN_S)
        with self._wanted:
            discarded, self._discarded = list(self._discarded), deque()
        for item in ready + discarded:
            self._destroy_logged(item)

    def after_fork_in_child(self) -> None:
        """The parent's items are not ours: forgotten; the pool is closed here."""
        self._wanted = threading.Condition()
        self._closed = True
        self._thread = None
        for item in [*self._ready, *self._discarded]:
            self._forget(item)
        self._ready.clear()
        self._discarded.clear()
