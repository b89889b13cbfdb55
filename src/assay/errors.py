"""The one exception tree of Assay.

A student's program failing is a verdict (a ``RunResult``), never an exception.
An exception means our infrastructure failed or the caller asked for something
invalid. Each class's docstring is its default message.
"""

from __future__ import annotations


class AssayError(Exception):
    """Assay failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(AssayError):
    """Invalid configuration."""


class SandboxError(AssayError):
    """The sandbox failed (an infrastructure error, not the submission's fault)."""


class SandboxUnavailableError(SandboxError):
    """Isolation is not achievable on this host; nothing was run."""

    def __init__(self, message: str | None = None, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix


class SandboxClosedError(SandboxError):
    """The sandbox session is not open."""


class WorkspacePathError(SandboxError):
    """A workspace path is invalid, escapes the workspace or is not a regular file."""


class UnknownEnvironmentError(SandboxError):
    """No runtime environment has that name."""


class UnknownBackendError(SandboxError):
    """No sandbox backend has that name."""


class ImageBuildError(SandboxError):
    """Building a sandbox image failed."""


class GradingError(AssayError):
    """Grading failed (an infrastructure or configuration error, never the student's)."""


class PackageError(GradingError):
    """The assignment package is invalid.

    ``file`` and ``key`` say where the problem is, ``fix`` what to do about it.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        file: str | None = None,
        key: str | None = None,
        fix: str | None = None,
    ) -> None:
        where = ": ".join(part for part in (file, key) if part)
        text = message or (self.__doc__ or "").strip().splitlines()[0]
        full = f"{where}: {text}" if where else text
        if fix:
            full = f"{full} (fix: {fix})"
        super().__init__(full)
        self.file = file
        self.key = key
        self.fix = fix
        self.detail = text


class SubmissionError(GradingError):
    """The submission cannot be read (bad archive, too large, unsafe paths)."""


class HookError(GradingError):
    """The assignment's grader.py hooks failed (the instructor's code, not the student's)."""
