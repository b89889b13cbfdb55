"""The interface every sandbox backend implements.

A backend opens sessions. A session owns one private workspace that persists
across its runs (build, then tests) and is destroyed, with every process of
the session, when it closes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from assay.sandbox.environments import Environment
from assay.sandbox.envs.provider import EnvironmentProvider
from assay.sandbox.owner import SandboxOwner
from assay.sandbox.result import RunResult
from assay.sandbox.spec import Limits, RunSpec


class EntryKind(StrEnum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"


@dataclass(frozen=True)
class WorkspaceEntry:
    """One thing to create in a workspace. ``path`` is relative and normalised.

    A directory that is readable is also made searchable (as ``chmod +X``), so
    the default mode gives a usable 0755 directory.
    """

    path: str
    kind: EntryKind
    data: bytes = b""
    mode: int = 0o644
    link_target: str = ""
    owner_root: bool = False  # owned by the sandbox's root instead of its user

    def __post_init__(self) -> None:
        if self.kind is EntryKind.DIR:
            object.__setattr__(self, "mode", self.mode | (self.mode & 0o444) >> 2)


@dataclass(frozen=True)
class SessionConfig:
    environment: Environment
    limits: Limits
    network: bool = False


class CheckStatus(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class CheckItem:
    """One isolation feature tried on this host (``assay sandbox check``)."""

    feature: str
    status: CheckStatus
    detail: str = ""
    fix: str = ""


class BackendSession(ABC):
    """An open sandbox: a workspace plus the means to run commands in it.

    ``concurrent_runs`` says whether runs of one session may overlap with
    each run still measured and limited on its own (native: a cgroup per
    run); otherwise callers run one command at a time.
    """

    concurrent_runs: bool = False

    @abstractmethod
    def add_entries(self, entries: Sequence[WorkspaceEntry]) -> None:
        """Create files, directories and symlinks in the workspace.

        Existing files are replaced. Never follows a symlink found in the
        workspace: after a run, every path there is hostile.
        """

    @abstractmethod
    def read_file(self, path: str, max_bytes: int) -> bytes:
        """Read a regular file of the workspace, at most ``max_bytes``.

        Raises ``WorkspacePathError`` for symlinks, FIFOs, devices, missing
        files and files larger than ``max_bytes``.
        """

    @abstractmethod
    def list_files(self, path: str = ".") -> list[str]:
        """Names in a workspace directory (not following symlinks)."""

    @abstractmethod
    def run(self, spec: RunSpec) -> RunResult:
        """Run one command; every process it starts is dead when this returns."""

    @abstractmethod
    def reset(self) -> None:
        """Empty the workspace (a fresh one for the next stage)."""

    @abstractmethod
    def close(self) -> None:
        """Kill everything, delete the workspace. Safe to call twice."""


class SandboxBackend(ABC):
    """A way to isolate processes: ``native`` (bubblewrap + cgroups) or ``docker``."""

    name: str

    @abstractmethod
    def open_session(self, config: SessionConfig) -> BackendSession:
        """Start a session; raises ``SandboxUnavailableError`` if isolation is impossible."""

    @abstractmethod
    def check(self, environment: Environment | None = None) -> list[CheckItem]:
        """Try each isolation feature on this host and say what is enforced."""

    @abstractmethod
    def remove_leftovers(self, owner: SandboxOwner) -> list[str]:
        """Remove what the sandboxes of ``owner`` (a dead process) left; say what went.

        Its processes are killed and its containers, cgroups and workspace mounts
        removed, as far as this backend reaches: Docker containers on this backend's
        daemon, whichever host started them; native sandboxes on this host only (one
        on another machine stays until a process there cleans up). Never this
        process's own sandboxes, nor, natively, those of a pid that is still alive
        here (there only the pid names a sandbox: it may be a new process's).
        """

    def remove_stale(self) -> list[str]:
        """Remove the sandboxes of this host's processes that are gone, as far as the
        backend can tell by itself; say what went.

        Native: those whose pid (in their names) no longer exists here. By default
        nothing: a Docker container's owner may live in another pid namespace with
        the same host name, so there only a death the workers' database declared
        (``remove_leftovers``) is acted on between starts of the backend.
        """
        return []

    def kill_own(self) -> list[str]:
        """Kill every process of the sandboxes THIS process opened, now; say which.

        For a process about to exit whose runs must not go on (a worker that handed
        its jobs back on SIGTERM): each run cut short returns as killed, its session
        can still be closed. Every run of the process is killed, whoever started it,
        so only its sole user of sandboxes may call it. Native: the job cgroups named
        after this pid (parked launchers too); Docker: the containers labelled with
        this process as owner. By default nothing (a backend without processes).
        """
        return []

    @property
    def environment_provider(self) -> EnvironmentProvider | None:
        """Where the trees of its environments come from (a worker gives its store a
        remote source through it); None for a backend without trees (the fake)."""
        return None

    def shutdown(self) -> None:  # noqa: B027 - optional: a backend without resources has none
        """Let go of what the backend holds between sessions (parked launchers, ready
        containers); the owner calls it once, when it is done with the backend."""
