"""What to run and within which limits: the inputs of a sandbox run."""

from __future__ import annotations

import dataclasses
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from assay.errors import ConfigError

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_SIZE_FACTORS = {"": 1, "k": KIB, "m": MIB, "g": GIB, "t": 1024 * GIB}


def parse_size(text: str | int) -> int:
    """Parse ``"512m"``, ``"1.5GiB"``, ``"64k"`` or a plain byte count into bytes.

    Suffixes are binary (k = 1024), as in Docker and ulimit.
    """
    if isinstance(text, int):
        if text < 0:
            raise ConfigError(f"size must not be negative: {text}")
        return text
    match = _SIZE_RE.match(text)
    if not match:
        raise ConfigError(
            f"invalid size {text!r}: use a number with an optional k, m, g or t suffix"
        )
    number, unit, _ = match.groups()
    return int(float(number) * _SIZE_FACTORS[unit.lower()])


def format_size(num_bytes: int) -> str:
    """Format a byte count for people: ``1.5 MiB``."""
    value = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run. Every limit is enforced by the kernel.

    ``workspace_bytes`` is fixed when a session opens (it sizes the workspace
    filesystem); the others apply per run.
    """

    cpu_time_s: float = 10.0
    wall_time_s: float = 20.0
    memory_bytes: int = 512 * MIB
    pids: int = 64
    output_bytes: int = 1 * MIB
    file_size_bytes: int = 64 * MIB
    open_files: int = 256
    workspace_bytes: int = 256 * MIB
    stack_bytes: int = 8 * MIB

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value <= 0:
                raise ConfigError(f"limit {f.name} must be positive, got {value!r}")
        if self.memory_bytes < 4 * MIB:
            raise ConfigError("limit memory_bytes must be at least 4 MiB")

    def replace(self, **changes: Any) -> Limits:
        """A copy with the given limits changed; ``None`` values are ignored."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


class OutputPolicy(StrEnum):
    """What happens when a stream reaches ``Limits.output_bytes``."""

    KILL = "kill"  # stop the run: verdict output_limit
    TRUNCATE = "truncate"  # keep running, discard the rest (autograder-sandbox semantics)


class Dialogue(ABC):
    """Standard input written while a run goes on, in answer to what it prints.

    For a trusted program that talks to the host over its standard streams
    (an assignment's hook runner). Every backend hands each piece of the
    run's standard output to ``heard``, from the thread that supervises the
    run: it must return at once. From a thread of its own, the backend writes
    whatever ``replies`` yields to the run's standard input, and closes it when
    ``replies`` ends. When the run is over (output drained), the backend calls
    ``hang_up``, after which ``replies`` must end promptly.

    On a terminal (``RunSpec.terminal``) the end of ``replies`` hangs the
    terminal up: the run is stopped (killed) if it is still going, as a
    conversation at a terminal ends when the user leaves. (On pipes, it
    closes standard input and the run goes on.)
    """

    @abstractmethod
    def heard(self, chunk: bytes) -> None:
        """Standard output as it arrives (untrusted bytes, any split)."""

    @abstractmethod
    def replies(self) -> Iterator[bytes]:
        """What to write to standard input, as it becomes known (may block)."""

    @abstractmethod
    def hang_up(self) -> None:
        """The run has ended: stop ``replies``."""


StdinSource = bytes | Path | Dialogue | None
"""Standard input: bytes, a host file, a dialogue with the host, or nothing (``/dev/null``)."""


@dataclass(frozen=True)
class RunSpec:
    """One command to run inside an open sandbox session."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str = "."
    stdin: StdinSource = None
    limits: Limits = field(default_factory=Limits)
    network: bool = False
    as_root: bool = False
    output_policy: OutputPolicy = OutputPolicy.KILL
    # On a pseudo-terminal: the run's stdin, stdout and stderr are one fresh
    # terminal of its own (echo off, 80x24), its output read as ``stdout``
    # (``stderr`` stays empty), its input written by ``stdin``'s dialogue.
    terminal: bool = False

    @property
    def dialogue(self) -> Dialogue | None:
        """Standard input as a dialogue with the host, if it is one."""
        return self.stdin if isinstance(self.stdin, Dialogue) else None

    def __post_init__(self) -> None:
        if not self.argv:
            raise ConfigError("a command needs at least one argument")
        if any("\0" in a for a in self.argv):
            raise ConfigError("command arguments must not contain NUL bytes")
        for key, value in self.env.items():
            if not key or "=" in key or "\0" in key or "\0" in value:
                raise ConfigError(f"invalid environment variable {key!r}")
        if self.terminal and self.stdin is not None and self.dialogue is None:
            raise ConfigError("a run on a terminal takes its input from a dialogue (or none)")
        if os.path.isabs(self.cwd) or ".." in Path(self.cwd).parts:
            raise ConfigError(f"cwd must be relative to the workspace: {self.cwd!r}")
