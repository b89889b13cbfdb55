"""``CompletedCommand``: what ``run_command`` returns, built from an Assay ``RunResult``."""

from __future__ import annotations

import signal
import tempfile
from typing import IO, Self

from assay.sandbox.result import RunResult, Termination


class CompletedCommand:
    """The outcome of ``AutograderSandbox.run_command``, as in autograder-sandbox 6.x.

    ``return_code`` is ``None`` when the command timed out. ``stdout`` and
    ``stderr`` are binary temporary files positioned at their start.
    ``run_result`` (an Assay extension) is the full verdict, when there is one;
    ``close()`` and ``with`` (also extensions) close both files.
    """

    def __init__(  # noqa: PLR0917 - the positional signature of 6.x
        self,
        return_code: int | None,
        stdout: IO[bytes],
        stderr: IO[bytes],
        timed_out: bool,
        stdout_truncated: bool,
        stderr_truncated: bool,
        run_result: RunResult | None = None,
    ) -> None:
        self.return_code = return_code
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out
        self.stdout_truncated = stdout_truncated
        self.stderr_truncated = stderr_truncated
        self.run_result = run_result

    # Assay extensions: the output files are temporary files; close them when done.
    def close(self) -> None:
        self.stdout.close()
        self.stderr.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def return_code(result: RunResult) -> int | None:
    """The status 6.x would report for this verdict.

    6.x's in-container runner exits with ``sys.exit(-N)`` when its command is
    killed by signal N, so callers saw ``256 - N`` (SIGKILL: 247, SIGSEGV: 245).
    Runs stopped for memory or output are SIGKILLed, as the OOM killer would.
    """
    if result.timed_out:
        return None
    if result.termination is Termination.EXITED and result.exit_code is not None:
        return result.exit_code
    return 256 - (result.signal or signal.SIGKILL)


def _spool(data: bytes) -> IO[bytes]:
    file = tempfile.NamedTemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
    file.write(data)
    file.seek(0)
    return file


def _cut(data: bytes, limit: int | None, cut_by_backend: bool) -> tuple[bytes, bool]:
    if limit is None:
        return data, cut_by_backend
    return data[:limit], cut_by_backend or len(data) > limit


def completed_command(
    result: RunResult, truncate_stdout: int | None, truncate_stderr: int | None
) -> CompletedCommand:
    """Map a verdict; streams are cut to the ``truncate_*`` sizes asked for."""
    stdout, stdout_truncated = _cut(result.stdout, truncate_stdout, result.stdout_truncated)
    stderr, stderr_truncated = _cut(result.stderr, truncate_stderr, result.stderr_truncated)
    return CompletedCommand(
        return_code=return_code(result),
        stdout=_spool(stdout),
        stderr=_spool(stderr),
        timed_out=result.timed_out,
        stdout_truncated=stdout_truncated,
        stderr_truncated=stderr_truncated,
        run_result=result,
    )
