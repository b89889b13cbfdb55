"""What a test kind gets while it runs: the student's sandbox and trusted helpers."""

from __future__ import annotations

import random
import secrets
import threading
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from assay.errors import WorkspacePathError
from assay.grading.package import AssignmentPackage
from assay.grading.stages import Stage
from assay.sandbox.base import EntryKind, SandboxBackend, WorkspaceEntry
from assay.sandbox.environments import Environment
from assay.sandbox.result import RunResult
from assay.sandbox.session import Sandbox
from assay.sandbox.spec import Limits, OutputPolicy, StdinSource


def harness_entries(
    folder: str, files: Mapping[str, bytes], *, executable: Collection[str] = ()
) -> list[WorkspaceEntry]:
    """``files`` (relative paths) under ``folder``, all owned by the sandbox's root and
    read-only (``executable``: those that may also be run), with their directories."""
    entries = [WorkspaceEntry(folder, EntryKind.DIR, mode=0o755, owner_root=True)]
    dirs: set[str] = set()
    for rel, data in files.items():
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            sub = "/".join([folder, *parts[:depth]])
            if sub not in dirs:
                dirs.add(sub)
                entries.append(WorkspaceEntry(sub, EntryKind.DIR, mode=0o755, owner_root=True))
        entries.append(
            WorkspaceEntry(
                f"{folder}/{rel}",
                EntryKind.FILE,
                data,
                mode=0o555 if rel in executable else 0o444,
                owner_root=True,
            )
        )
    return entries


class Progress(Protocol):
    """Receives the stages of a grading run as they happen (CLI display, service events)."""

    def stage(
        self, name: Stage, detail: str = "", current: int | None = None, total: int | None = None
    ) -> None: ...


class NullProgress:
    def stage(
        self, name: Stage, detail: str = "", current: int | None = None, total: int | None = None
    ) -> None:
        """Ignore progress."""


@dataclass
class GradingContext:
    """One submission being graded: its sandbox (after the build) and the package.

    ``limits`` are those of the test being run. ``run_student`` is how any
    student code runs; ``trusted_sandbox`` gives instructor programs (custom
    checkers) a sandbox of their own, apart from the student's.
    """

    package: AssignmentPackage
    sandbox: Sandbox
    backend: SandboxBackend
    limits: Limits
    rng: random.Random = field(default_factory=random.Random)
    progress: Progress = field(default_factory=NullProgress)
    _trusted: dict[str, Sandbox] = field(default_factory=dict)  # shared by per-test copies
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run_student(
        self,
        argv: Iterable[str],
        *,
        stdin: StdinSource = None,
        env: Mapping[str, str] | None = None,
        cwd: str = ".",
        limits: Limits | None = None,
        output_policy: OutputPolicy = OutputPolicy.KILL,
    ) -> RunResult:
        return self.sandbox.run(
            argv,
            stdin=stdin,
            env=env,
            cwd=cwd,
            limits=limits or self.limits,
            output_policy=output_policy,
        )

    def put_harness(self, files: Mapping[str, bytes], *, executable: Collection[str] = ()) -> str:
        """Write instructor files into a fresh directory the student cannot change.

        The directory and its files belong to the sandbox's root and are
        read-only (``executable`` names files that may also be run); its name
        is random so it cannot be prepared in advance. Returns the
        directory's workspace path (relative to ``/work``).
        """
        name = f".assay-{secrets.token_hex(8)}"
        entries = harness_entries(name, files, executable=executable)
        self.sandbox.add_entries(entries)
        return name

    def read_output(self, path: str, max_bytes: int = 4 * 1024 * 1024) -> bytes | None:
        """A file the student's program wrote (untrusted), or ``None`` if absent or not a file."""
        try:
            return self.sandbox.read_file(path, max_bytes=max_bytes)
        except WorkspacePathError:
            return None

    def trusted_sandbox(self, environment: Environment) -> Sandbox:
        """A separate sandbox for instructor programs, opened once per grading."""
        with self._lock:
            box = self._trusted.get(environment.key)
            if box is None:
                box = Sandbox(environment, backend=self.backend, limits=self.package.limits).open()
                self._trusted[environment.key] = box
            return box

    def close(self) -> None:
        with self._lock:
            boxes = list(self._trusted.values())
            self._trusted.clear()
        for box in boxes:
            box.close()
