"""An in-memory sandbox backend for unit tests of the logic above the sandbox.

The workspace is real (an in-memory tree kept with the same rules as the real
backends: links are recorded, never followed); running is scripted. A test
supplies ``script(spec, workspace) -> RunResult``; the default script knows
``cat`` and ``echo`` and exits 0 for anything else. Nothing is isolated:
never use it to run code.

>>> from assay.sandbox import Sandbox
>>> with Sandbox(backend=FakeBackend()) as box:
...     box.run(["cat"], stdin=b"hi").stdout
b'hi'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assay.errors import SandboxClosedError, WorkspacePathError
from assay.sandbox.base import (
    BackendSession,
    CheckItem,
    CheckStatus,
    EntryKind,
    SandboxBackend,
    SessionConfig,
    WorkspaceEntry,
)
from assay.sandbox.environments import Environment
from assay.sandbox.owner import SandboxOwner, this_process
from assay.sandbox.result import RunResult, Termination
from assay.sandbox.spec import RunSpec

__all__ = ["FakeBackend", "FakeSession", "FakeWorkspace", "RunScript", "fake_result"]


def fake_result(
    stdout: bytes = b"",
    stderr: bytes = b"",
    *,
    exit_code: int | None = 0,
    signal: int | None = None,
    termination: Termination = Termination.EXITED,
) -> RunResult:
    """A ``RunResult`` with zero resource usage, for scripts."""
    return RunResult(
        termination=termination,
        exit_code=exit_code,
        signal=signal,
        cpu_time_s=0.0,
        wall_time_s=0.0,
        peak_memory_bytes=0,
        stdout=stdout,
        stderr=stderr,
    )


@dataclass
class FakeWorkspace:
    """Workspace entries by normalised relative path (``"."`` is the root)."""

    entries: dict[str, WorkspaceEntry] = field(default_factory=dict)

    def add(self, entry: WorkspaceEntry) -> None:
        parts = entry.path.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            existing = self.entries.get(parent)
            if existing is None:
                self.entries[parent] = WorkspaceEntry(parent, EntryKind.DIR, mode=0o755)
            elif existing.kind is not EntryKind.DIR:
                raise WorkspacePathError(f"not a directory: {parent!r}")
        old = self.entries.get(entry.path)
        if old is not None and old.kind is EntryKind.DIR and entry.kind is not EntryKind.DIR:
            self.remove_tree(entry.path)
        self.entries[entry.path] = entry

    def remove_tree(self, path: str) -> None:
        prefix = f"{path}/"
        for name in [p for p in self.entries if p == path or p.startswith(prefix)]:
            del self.entries[name]

    def read(self, path: str) -> bytes:
        entry = self.entries.get(path)
        if entry is None or entry.kind is not EntryKind.FILE:
            raise WorkspacePathError(f"not a regular file of the workspace: {path!r}")
        return entry.data

    def children(self, path: str) -> list[str]:
        entry = self.entries.get(path)
        if path != "." and (entry is None or entry.kind is not EntryKind.DIR):
            raise WorkspacePathError(f"not a directory of the workspace: {path!r}")
        prefix = "" if path == "." else f"{path}/"
        return sorted(
            p[len(prefix) :]
            for p in self.entries
            if p.startswith(prefix) and "/" not in p[len(prefix) :]
        )


RunScript = Callable[[RunSpec, FakeWorkspace], RunResult]


def default_script(spec: RunSpec, workspace: FakeWorkspace) -> RunResult:
    """``cat`` (stdin or workspace files), ``echo``; anything else exits 0."""
    program, args = spec.argv[0], spec.argv[1:]
    if program == "echo":
        return fake_result(" ".join(args).encode() + b"\n")
    if program == "cat" and args:
        try:
            return fake_result(b"".join(workspace.read(a) for a in args))
        except WorkspacePathError as exc:
            return fake_result(stderr=f"cat: {exc}\n".encode(), exit_code=1)
    if program == "cat":
        stdin = spec.stdin.read_bytes() if isinstance(spec.stdin, Path) else spec.stdin
        return fake_result(stdin if isinstance(stdin, bytes) else b"")  # a dialogue: nothing
    return fake_result()


class FakeSession(BackendSession):
    """One open fake sandbox; records every ``RunSpec`` it was given."""

    def __init__(
        self, config: SessionConfig, script: RunScript, owner: SandboxOwner | None = None
    ) -> None:
        self.config = config
        self.script = script
        self.owner = owner or this_process()
        self.workspace = FakeWorkspace()
        self.runs: list[RunSpec] = []
        self.closed = False

    def _check_open(self) -> None:
        if self.closed:
            raise SandboxClosedError

    def add_entries(self, entries: Sequence[WorkspaceEntry]) -> None:
        self._check_open()
        for entry in entries:
            self.workspace.add(entry)

    def read_file(self, path: str, max_bytes: int) -> bytes:
        self._check_open()
        data = self.workspace.read(path)
        if len(data) > max_bytes:
            raise WorkspacePathError(f"{path!r} is larger than {max_bytes} bytes")
        return data

    def list_files(self, path: str = ".") -> list[str]:
        self._check_open()
        return self.workspace.children(path)

    def run(self, spec: RunSpec) -> RunResult:
        self._check_open()
        self.runs.append(spec)
        return self.script(spec, self.workspace)

    def reset(self) -> None:
        self._check_open()
        self.workspace.entries.clear()

    def close(self) -> None:
        self.closed = True


class FakeBackend(SandboxBackend):
    """Opens ``FakeSession``s; keeps them in ``sessions`` for assertions."""

    name = "fake"

    def __init__(self, script: RunScript = default_script) -> None:
        self.script = script
        self.sessions: list[FakeSession] = []
        self.owner = this_process()  # whose the sessions opened from now on are

    def open_session(self, config: SessionConfig) -> FakeSession:
        session = FakeSession(config, self.script, self.owner)
        self.sessions.append(session)
        return session

    def check(self, environment: Environment | None = None) -> list[CheckItem]:
        return [CheckItem("fake", CheckStatus.WARN, "runs nothing in isolation: tests only")]

    def remove_leftovers(self, owner: SandboxOwner) -> list[str]:
        """Close the sessions ``owner`` left open (never this process's own)."""
        if owner == this_process():
            return []
        left = [n for n, s in enumerate(self.sessions) if s.owner == owner and not s.closed]
        for number in left:
            self.sessions[number].close()
        return [f"fake session {number}" for number in left]
