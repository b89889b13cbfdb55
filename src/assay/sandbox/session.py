"""``Sandbox``: the session users hold (a context manager)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

from assay.errors import SandboxClosedError
from assay.sandbox.backends import DEFAULT_BACKEND, get_backend
from assay.sandbox.base import (
    BackendSession,
    EntryKind,
    SandboxBackend,
    SessionConfig,
    WorkspaceEntry,
)
from assay.sandbox.environments import DEFAULT_ENVIRONMENT, Environment, get_environment
from assay.sandbox.hostfiles import entries_from_host, normalise_workspace_path
from assay.sandbox.result import RunResult
from assay.sandbox.spec import Dialogue, Limits, OutputPolicy, RunSpec, StdinSource

DEFAULT_READ_LIMIT = 16 * 1024 * 1024
WORKSPACE = "/work"  # the workspace as the sandboxed program sees it


class Sandbox:
    """An isolated workspace in which untrusted commands run.

    >>> with Sandbox("python3") as box:
    ...     box.write_file("main.py", b"print(6 * 7)")
    ...     result = box.run(["python3", "main.py"])
    ...     result.stdout
    b'42\\n'

    The workspace (``/work`` inside) persists across runs of one session and
    is destroyed, with every process, when the session closes.
    """

    def __init__(
        self,
        environment: str | Environment = DEFAULT_ENVIRONMENT,
        *,
        backend: str | SandboxBackend = DEFAULT_BACKEND,
        limits: Limits | None = None,
        network: bool = False,
    ) -> None:
        self.environment = (
            environment if isinstance(environment, Environment) else get_environment(environment)
        )
        self.backend = backend if isinstance(backend, SandboxBackend) else get_backend(backend)
        self.limits = limits or self.environment.default_limits
        self.network = network
        self._session: BackendSession | None = None

    # -- lifecycle ---------------------------------------------------------
    def open(self) -> Self:
        if self._session is None:
            config = SessionConfig(self.environment, self.limits, self.network)
            self._session = self.backend.open_session(config)
        return self

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def session(self) -> BackendSession:
        if self._session is None:
            raise SandboxClosedError("the sandbox is not open: use it as a context manager")
        return self._session

    @property
    def concurrent_runs(self) -> bool:
        """Whether ``run`` may be called from several threads at once."""
        return self.session.concurrent_runs

    # -- files -------------------------------------------------------------
    def add_files(
        self,
        *sources: str | os.PathLike[str],
        dest: str = ".",
        owner_root: bool = False,
        read_only: bool = False,
    ) -> None:
        """Copy host files, or the contents of host directories, into ``dest``.

        Symlinks are copied as links and never followed on the host.
        """
        entries: list[WorkspaceEntry] = []
        for source in sources:
            entries.extend(
                entries_from_host(Path(source), dest, owner_root=owner_root, read_only=read_only)
            )
        self.session.add_entries(entries)

    def write_file(
        self, path: str, data: bytes, *, mode: int = 0o644, owner_root: bool = False
    ) -> None:
        entry = WorkspaceEntry(
            normalise_workspace_path(path),
            EntryKind.FILE,
            data=data,
            mode=mode,
            owner_root=owner_root,
        )
        self.session.add_entries([entry])

    def add_entries(self, entries: Sequence[WorkspaceEntry]) -> None:
        self.session.add_entries(entries)

    def read_file(self, path: str, max_bytes: int = DEFAULT_READ_LIMIT) -> bytes:
        """A regular file of the workspace (symlinks and special files refused)."""
        return self.session.read_file(normalise_workspace_path(path), max_bytes)

    def list_files(self, path: str = ".") -> list[str]:
        return self.session.list_files(normalise_workspace_path(path))

    def reset(self) -> None:
        """Empty the workspace."""
        self.session.reset()

    # -- running -----------------------------------------------------------
    def run(
        self,
        argv: Iterable[str],
        *,
        stdin: StdinSource | BinaryIO = None,
        env: Mapping[str, str] | None = None,
        cwd: str = ".",
        limits: Limits | None = None,
        network: bool | None = None,
        as_root: bool = False,
        output_policy: OutputPolicy = OutputPolicy.KILL,
        terminal: bool = False,
    ) -> RunResult:
        """Run a command in the workspace and wait for its verdict.

        ``env`` replaces the environment's defaults entirely when given;
        nothing is inherited from the host. ``PWD`` is always the working
        directory. With ``terminal``, the run's standard streams are a
        pseudo-terminal (``RunSpec.terminal``).
        """
        if isinstance(stdin, str):
            raise TypeError("stdin must be bytes, a pathlib.Path, a binary file or None")
        if stdin is not None and not isinstance(stdin, bytes | Path | Dialogue):
            stdin = stdin.read()
        cwd = normalise_workspace_path(cwd)
        run_env = dict(self.environment.env if env is None else env)
        # The working directory, as a shell says it: bubblewrap always sets it,
        # so every backend is given the same.
        run_env["PWD"] = WORKSPACE if cwd == "." else f"{WORKSPACE}/{cwd}"
        spec = RunSpec(
            argv=tuple(argv),
            env=run_env,
            cwd=cwd,
            stdin=stdin,
            limits=limits or self.limits,
            network=self.network if network is None else network,
            as_root=as_root,
            output_policy=output_policy,
            terminal=terminal,
        )
        return self.session.run(spec)
