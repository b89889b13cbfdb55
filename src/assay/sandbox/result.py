"""What a sandbox run gives back."""

from __future__ import annotations

import signal as signal_module
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Termination(StrEnum):
    """How a run ended. Everything but ``exited`` means the run was stopped."""

    EXITED = "exited"
    SIGNALED = "signaled"
    CPU_TIME_LIMIT = "cpu_time_limit"
    WALL_TIME_LIMIT = "wall_time_limit"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"


@dataclass(frozen=True)
class RunResult:
    """The outcome of one run. Its output is untrusted data."""

    termination: Termination
    exit_code: int | None
    signal: int | None
    cpu_time_s: float
    wall_time_s: float
    peak_memory_bytes: int
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool = False
    stderr_truncated: bool = False

    @property
    def ok(self) -> bool:
        """The program exited by itself with status 0."""
        return self.termination is Termination.EXITED and self.exit_code == 0

    @property
    def timed_out(self) -> bool:
        return self.termination in (Termination.CPU_TIME_LIMIT, Termination.WALL_TIME_LIMIT)

    @property
    def signal_name(self) -> str | None:
        if self.signal is None:
            return None
        try:
            return signal_module.Signals(self.signal).name
        except ValueError:
            return f"signal {self.signal}"

    def to_json_dict(self) -> dict[str, Any]:
        """The documented JSON shape (``assay sandbox run --json``)."""
        return {
            "termination": self.termination.value,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "cpu_time_s": round(self.cpu_time_s, 6),
            "wall_time_s": round(self.wall_time_s, 6),
            "peak_memory_bytes": self.peak_memory_bytes,
            "stdout": self.stdout.decode("utf-8", errors="replace"),
            "stderr": self.stderr.decode("utf-8", errors="replace"),
            "stdout_truncated": self.stdout_truncated,
            "stderr_truncated": self.stderr_truncated,
        }


def status_from_exit_code(code: int) -> tuple[int | None, int | None]:
    """Split a shell-style status into ``(exit_code, signal)``.

    Namespaced init processes (bubblewrap's) and Docker report a child killed
    by signal N as status 128 + N, as a shell does; both backends decode it the
    same way so their verdicts agree.
    """
    if 128 < code < 128 + 65:
        return None, code - 128
    return code, None
