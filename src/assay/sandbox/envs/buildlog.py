"""A build's log: every command's output, kept in a file and shown as progress.

``run`` is the one place a build command is started: its output (stdout and
stderr merged) goes line by line to the log file and the progress callback; a
command that fails or overruns its timeout raises ``EnvironmentBuildError`` with
the log's last lines, after its whole process group was killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from assay.errors import EnvironmentBuildError

TAIL_LINES = 30


@dataclass(frozen=True)
class BuildEvent:
    """Progress: a step started (``detail`` empty) or a line of its output."""

    environment: str
    step: str
    detail: str = ""


ProgressCallback = Callable[[BuildEvent], None]


def no_progress(event: BuildEvent) -> None:
    """A progress callback that shows nothing."""


class BuildLog:
    """The log file of one build (line-buffered, so a killed build leaves what it wrote)."""

    def __init__(self, path: Path, environment: str, progress: ProgressCallback) -> None:
        self.path = path
        self.environment = environment
        self.progress = progress
        self._file = path.open("a", encoding="utf-8", buffering=1)
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._step = ""
        self._started = time.monotonic()

    def __enter__(self) -> BuildLog:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def step(self, text: str) -> None:
        """A new step: a header in the log, a new line in the progress display."""
        self._step = text
        elapsed = time.monotonic() - self._started
        self._file.write(f"==> [{elapsed:7.1f}s] {text}\n")
        self.progress(BuildEvent(self.environment, text))

    def note(self, text: str) -> None:
        """A line of our own in the log (and in the tail an error shows)."""
        self._tail.append(text)
        self._file.write(f"{text}\n")

    def line(self, text: str) -> None:
        """A line of a command's output."""
        self.note(text)
        self.progress(BuildEvent(self.environment, self._step, text))

    def tail(self, lines: int = TAIL_LINES) -> list[str]:
        return list(self._tail)[-lines:]

    def run(
        self,
        argv: Sequence[str],
        *,
        what: str,
        env: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> None:
        """Run ``argv``, logging its output; raise if it fails or overruns ``timeout_s``."""
        self._file.write(f"$ {' '.join(argv)}\n")
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else _HOST_ENV,
                start_new_session=True,
            )
        except OSError as exc:
            raise EnvironmentBuildError(f"{what}: cannot run {argv[0]}: {exc.strerror}") from exc
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            _kill_group(proc.pid)

        timer = threading.Timer(timeout_s, kill) if timeout_s else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            assert proc.stdout is not None  # noqa: S101 - PIPE was asked for
            for raw in proc.stdout:
                self.line(raw.decode("utf-8", errors="replace").rstrip())
            proc.wait()
        except BaseException:
            _kill_group(proc.pid)
            proc.wait()
            raise
        finally:
            if timer is not None:
                timer.cancel()
            if proc.stdout is not None:
                proc.stdout.close()
        if timed_out.is_set():
            self.note(f"killed: {what} ran longer than {timeout_s:.0f} s")
            raise EnvironmentBuildError(f"{what} ran longer than {timeout_s:.0f} s and was killed")
        if proc.returncode != 0:
            tail = self.tail()
            self.note(f"{what} failed with status {proc.returncode}")
            raise CommandFailed(what, proc.returncode, tail)


class CommandFailed(EnvironmentBuildError):  # noqa: N818 - a build error with its details
    """A build command exited with a non-zero status."""

    def __init__(self, what: str, returncode: int, tail: list[str]) -> None:
        shown = "\n".join(f"  | {line}" for line in tail[-12:])
        super().__init__(f"{what} failed with status {returncode}; its last lines:\n{shown}")
        self.what = what
        self.returncode = returncode
        self.tail = tail


_HOST_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
    "DEBIAN_FRONTEND": "noninteractive",
}


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
