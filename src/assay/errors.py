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


class EnvironmentSpecError(ConfigError):
    """An environment's spec is invalid (``file`` and ``key`` say where, when known)."""

    def __init__(
        self, message: str | None = None, *, file: str | None = None, key: str | None = None
    ) -> None:
        where = ": ".join(part for part in (file, key) if part)
        text = message or (self.__doc__ or "").strip().splitlines()[0]
        super().__init__(f"{where}: {text}" if where else text)
        self.file = file
        self.key = key


class EnvironmentBuildError(SandboxError):
    """Building an environment failed; nothing of it was kept but its log.

    ``log_path`` is the build log (kept after a failure), ``fix`` what to try.
    """

    def __init__(
        self, message: str | None = None, *, log_path: str | None = None, fix: str | None = None
    ) -> None:
        text = message or (self.__doc__ or "").strip().splitlines()[0]
        super().__init__(f"{text}\n(build log: {log_path})" if log_path else text)
        self.detail = text
        self.log_path = log_path
        self.fix = fix


class EnvironmentArchiveError(EnvironmentBuildError):
    """An environment's archive is damaged or breaks the unpacking rules; nothing of it
    was kept (``assay.sandbox.envs.archive``)."""


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


class FileNameError(SubmissionError):
    """A file name is refused (the rule is in ``assay.files.names``).

    ``shown`` is the name quoted for a message (a long one cut short); ``why``
    completes a sentence about it ("is an absolute path").
    """

    def __init__(self, shown: str, why: str) -> None:
        super().__init__(f"file name {shown} {why}")
        self.shown = shown
        self.why = why


class FileSetTooLargeError(SubmissionError):
    """A set of files is past the ceiling of every submission (``assay.files.fileset``)."""


class HookError(GradingError):
    """The assignment's grader.py hooks failed (the instructor's code, not the student's)."""


class StorageError(AssayError):
    """The database failed or is not at the expected schema version.

    Made from a driver's exception (``storage.unavailable``), it also says ``what``
    failed in a few words and the driver's own ``reason`` on one line (refused,
    unknown host, bad password, not a database), for an operator's console; the
    message is what a client may be shown.
    """

    def __init__(
        self, message: str | None = None, *, what: str | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.what = what
        self.reason = reason


class StorageUnavailableError(StorageError):
    """The server cannot store anything now; nothing was stored: try again in a few seconds."""

    def __init__(
        self,
        message: str | None = None,
        retry_after_s: float = 5.0,
        *,
        what: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, what=what, reason=reason)
        self.retry_after_s = retry_after_s


class GitError(AssayError):
    """Fetching from a git remote failed (unreachable, no such commit, too large, too slow).

    Messages never contain a remote's credentials.
    """


class ServiceError(AssayError):
    """A request to Assay's services was refused.

    Subclasses map one-to-one onto HTTP statuses in the web layer and onto exit
    codes in the CLI; their messages are safe to show to the caller.
    """


class NotFoundError(ServiceError):
    """No such object (or you may not see it)."""


class PermissionDeniedError(ServiceError):
    """You are not allowed to do that."""


class AuthenticationError(ServiceError):
    """Not logged in, or the credentials are wrong."""


class ConflictError(ServiceError):
    """That conflicts with what already exists."""


class InvalidRequestError(ServiceError):
    """The request is invalid."""


class RateLimitedError(ServiceError):
    """Too many requests; try again later."""

    def __init__(self, message: str | None = None, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PayloadTooLargeError(ServiceError):
    """The upload is too large."""
