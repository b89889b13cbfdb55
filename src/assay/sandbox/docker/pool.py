"""Where sandbox containers come from and go to.

Closing a sandbox removes its container in a background thread, so a caller
never waits for Docker's teardown. With ``pool_size`` > 0, that many started
containers per container spec are kept ready, so opening a sandbox does not
wait for a container start either. A container serves exactly one session:
it is never reused after a run.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from assay.errors import SandboxError
from assay.sandbox.docker.api import DockerAPI
from assay.sandbox.docker.container import ContainerSpec, SandboxContainer, start_container

logger = logging.getLogger(__name__)

WORKERS = 2
_T = TypeVar("_T")


class ContainerPool:
    def __init__(self, api: DockerAPI, pool_size: int = 0) -> None:
        self.api = api
        self.pool_size = max(pool_size, 0)
        self._lock = threading.Lock()
        self._idle: defaultdict[ContainerSpec, list[SandboxContainer]] = defaultdict(list)
        self._starting: defaultdict[ContainerSpec, int] = defaultdict(int)
        self._pending: set[Future[None]] = set()
        self._executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="assay-docker")
        self._closed = False

    def acquire(self, spec: ContainerSpec) -> SandboxContainer:
        """A started container of ``spec`` that nobody used before."""
        while True:
            with self._lock:
                ready = self._idle[spec].pop() if self._idle[spec] else None
            self._refill(spec)
            if ready is None:
                return start_container(self.api, spec)
            if ready.is_alive():
                return ready
            self.release(ready)

    def release(self, container: SandboxContainer) -> None:
        """Kill and remove a container, in the background when possible."""
        self._submit(self._remove, container.id)

    def _remove(self, container_id: str) -> None:
        try:
            self.api.remove(container_id)
        except SandboxError as exc:
            logger.warning("could not remove sandbox container %s: %s", container_id[:12], exc)

    def _refill(self, spec: ContainerSpec) -> None:
        with self._lock:
            missing = self.pool_size - len(self._idle[spec]) - self._starting[spec]
            if self._closed or missing <= 0:
                return
            self._starting[spec] += missing
        for _ in range(missing):
            self._submit(self._start_idle, spec)

    def _start_idle(self, spec: ContainerSpec) -> None:
        try:
            container = start_container(self.api, spec)
        except SandboxError as exc:
            logger.warning("could not pre-start a sandbox container: %s", exc)
            container = None
        with self._lock:
            self._starting[spec] -= 1
            if container is not None and not self._closed:
                self._idle[spec].append(container)
                container = None
        if container is not None:
            self._remove(container.id)

    def _submit(self, task: Callable[[_T], None], arg: _T) -> None:
        try:
            future: Future[None] = self._executor.submit(task, arg)
        except RuntimeError:  # interpreter shutting down: do it now
            task(arg)
            return
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def close(self) -> None:
        """Remove the idle containers and wait for pending removals."""
        with self._lock:
            self._closed = True
            idle = [c for group in self._idle.values() for c in group]
            self._idle.clear()
        for container in idle:
            self._submit(self._remove, container.id)
        self._executor.shutdown(wait=True)
