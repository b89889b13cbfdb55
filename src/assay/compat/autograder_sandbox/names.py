"""The names of the sandboxes running in this process.

In 6.x a sandbox's name was its Docker container's, so starting a second
sandbox of a name already running failed. Here a name is claimed while its
sandbox runs and released when it stops; a forked child starts with none (the
parent's sandboxes are closed there).
"""

from __future__ import annotations

import threading

from assay.sandbox import forks


class RunningNames:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: set[str] = set()
        forks.register(self)

    def claim(self, name: str) -> bool:
        """Take ``name``; False if a running sandbox has it."""
        with self._lock:
            if name in self._names:
                return False
            self._names.add(name)
            return True

    def release(self, name: str) -> None:
        with self._lock:
            self._names.discard(name)

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._names = set()


RUNNING = RunningNames()
