"""``DockerSession``: one sandbox session, backed by one container at a time."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from assay.errors import SandboxClosedError, SandboxError, WorkspacePathError
from assay.sandbox import forks
from assay.sandbox.base import BackendSession, SessionConfig, WorkspaceEntry
from assay.sandbox.docker.container import ContainerSpec, SandboxContainer
from assay.sandbox.docker.pool import ContainerPool
from assay.sandbox.docker.supervisor import supervise
from assay.sandbox.hostfiles import normalise_workspace_path
from assay.sandbox.result import RunResult
from assay.sandbox.spec import RunSpec

logger = logging.getLogger(__name__)


class DockerSession(BackendSession):
    """Runs are ``docker exec``s into the session's container; ``reset`` swaps it."""

    def __init__(
        self, pool: ContainerPool, config: SessionConfig, container: SandboxContainer
    ) -> None:
        self.pool = pool
        self.config = config
        self._container: SandboxContainer | None = container
        self._lock = threading.Lock()
        forks.register(self)

    def after_fork_in_child(self) -> None:
        """The container is the parent's: closed here, never removed by the child."""
        self._lock = threading.Lock()
        self._container = None

    @property
    def container(self) -> SandboxContainer:
        if self._container is None:
            raise SandboxClosedError()
        return self._container

    def add_entries(self, entries: Sequence[WorkspaceEntry]) -> None:
        with self._lock:
            for entry in entries:
                if normalise_workspace_path(entry.path) != entry.path or entry.path == ".":
                    raise WorkspacePathError(f"entry path not normalised: {entry.path!r}")
            self.container.room_for_helper()
            self.container.workspace.add_entries(entries)

    def read_file(self, path: str, max_bytes: int) -> bytes:
        with self._lock:
            self.container.room_for_helper()
            return self.container.workspace.read_file(normalise_workspace_path(path), max_bytes)

    def list_files(self, path: str = ".") -> list[str]:
        with self._lock:
            self.container.room_for_helper()
            return self.container.workspace.list_files(normalise_workspace_path(path))

    def run(self, spec: RunSpec) -> RunResult:
        with self._lock:
            container = self.container
            if spec.network != self.config.network:
                raise SandboxError(
                    "the Docker backend fixes network access when a sandbox opens; "
                    f"this one was opened with network={self.config.network}"
                )
            container.ensure_limits(spec.limits.memory_bytes, spec.limits.pids)
            return supervise(container.context, spec)

    def reset(self) -> None:
        """A fresh container (empty workspace, empty /tmp) replaces the current one."""
        with self._lock:
            old = self.container
            self._container = self.pool.acquire(ContainerSpec.for_session(self.config))
            self.pool.release(old)

    def close(self) -> None:
        with self._lock:
            container, self._container = self._container, None
        if container is not None:
            self.pool.release(container)

    def leftovers(self) -> set[int]:
        """Host pids of processes alive in the container besides its idle ones."""
        with self._lock:
            return self.container.reaper.leftovers()
