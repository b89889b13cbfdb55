"""The exception classes of autograder-sandbox 6.x, and the one place Assay's map onto them.

They form their own tree (rooted at ``SandboxError``, not at ``AssayError``)
so that ``except`` clauses written for autograder-sandbox keep working.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from assay.compat.autograder_sandbox.command import CompletedCommand
from assay.errors import AssayError, ConfigError, SandboxUnavailableError, WorkspacePathError


class SandboxError(Exception):
    """The sandbox failed."""


class SandboxCommandError(SandboxError):
    """A command run with ``check=True`` exited non-zero or timed out.

    ``cmd`` is the command and ``result`` its ``CompletedCommand``.
    """

    def __init__(self, cmd: Sequence[str], result: CompletedCommand) -> None:
        status = "timed out" if result.timed_out else f"exited with status {result.return_code}"
        super().__init__(f"command {list(cmd)!r} {status}")
        self.cmd = list(cmd)
        self.result = result


class CriticalSandboxError(SandboxError):
    """The sandbox is in a state that needs a person to look at it."""


class SandboxNotStopped(CriticalSandboxError):  # noqa: N818 - 6.x name
    """Stopping the sandbox failed."""


class SandboxNotDestroyed(SandboxError):  # noqa: N818 - 6.x name
    """Destroying the sandbox failed (not critical)."""


@contextmanager
def translated(error: type[SandboxError] = SandboxError) -> Iterator[None]:
    """Re-raise Assay's errors as autograder-sandbox ones.

    Invalid arguments (``ConfigError``, ``WorkspacePathError``) become
    ``ValueError``; every other ``AssayError`` becomes ``error``.
    """
    try:
        yield
    except (ConfigError, WorkspacePathError) as exc:
        raise ValueError(exc.message) from exc
    except SandboxUnavailableError as exc:
        fix = f" (fix: {exc.fix})" if exc.fix else ""
        raise error(exc.message + fix) from exc
    except AssayError as exc:
        raise error(exc.message) from exc
