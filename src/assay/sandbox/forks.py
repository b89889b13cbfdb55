"""Fresh sandbox state in a forked child.

A child made by ``os.fork`` (``multiprocessing``'s fork start method does it)
gets a copy of its parent's memory but only the thread that forked. The
sandbox's background threads are gone there, a lock another thread held stays
held forever, and the parked launchers, cgroups, workspace mounts and Docker
connections it inherits are the parent's: waiting on them hangs, tearing them
down breaks the parent's runs.

Every object that keeps such state registers here, once, with ``register``;
after each fork the child calls their ``after_fork_in_child``. That method
forgets the parent's resources without touching them (closing only the
child's own copies of file descriptors) and makes new locks, so the child
starts as if no sandbox had been used. It runs in the child alone, with no
other thread, and must neither block nor raise.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Protocol

log = logging.getLogger(__name__)


class ForkAware(Protocol):
    def after_fork_in_child(self) -> None:
        """Drop the parent's state: new locks, no threads, no inherited resources."""


class _Registry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: weakref.WeakSet[ForkAware] = weakref.WeakSet()
        self.hooked = False

    def add(self, obj: ForkAware) -> None:
        with self.lock:
            if not self.hooked:
                os.register_at_fork(after_in_child=self.after_fork_in_child)
                self.hooked = True
            self.objects.add(obj)

    def after_fork_in_child(self) -> None:
        self.lock = threading.Lock()  # a thread of the parent may have held it
        for obj in list(self.objects):
            try:
                obj.after_fork_in_child()
            except Exception:  # a fork must go on; the object stays as it was
                log.exception("cannot reset %r after a fork", obj)


_registry = _Registry()


def register(obj: ForkAware) -> None:
    """Have ``obj.after_fork_in_child()`` called in every child forked while it lives."""
    _registry.add(obj)
