"""Option types and checks that several kinds share.

``Command`` is a test's argv (a string is split as a shell would, no shell
runs); ``ExitCode`` is an expected exit status (0-255 or ``"any"``);
``WorkspaceDir`` and ``workspace_file`` normalise paths inside the student's
workspace; ``require_command`` is the load-time check of a kind whose command
defaults to ``[run].command``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator

from assay.errors import PackageError, WorkspacePathError
from assay.grading.package import MANIFEST
from assay.grading.spec import split_command
from assay.sandbox.hostfiles import normalise_workspace_path

if TYPE_CHECKING:
    from assay.grading.package import AssignmentPackage


def nonempty_command(value: Any) -> Any:
    """``spec.split_command`` (a string is split like a shell would), and an empty list
    is an error too: a test's command must run something."""
    value = split_command(value)
    if isinstance(value, list | tuple) and not value:
        raise ValueError("a command must not be empty")
    return value


def workspace_dir(value: str) -> str:
    """A workspace directory, normalised; a ``ValueError`` for one outside it."""
    try:
        return normalise_workspace_path(value)
    except WorkspacePathError as exc:
        raise ValueError(exc.message) from exc


def workspace_file(value: str) -> str:
    """A workspace file path, normalised; a ``ValueError`` for a bad one or for ``"."``."""
    clean = workspace_dir(value)
    if clean == ".":
        raise ValueError(f"{value!r} is not a file path")
    return clean


def exit_code(value: int | str) -> int | str:
    """An expected exit status: 0 to 255, or ``"any"``."""
    if isinstance(value, int) and not 0 <= value <= 255:
        raise ValueError('an exit code is between 0 and 255 (or "any")')
    return value


Command = Annotated[tuple[str, ...], BeforeValidator(nonempty_command)]
WorkspaceDir = Annotated[str, AfterValidator(workspace_dir)]
ExitCode = Annotated[int | Literal["any"], AfterValidator(exit_code)]


def require_command(
    command: tuple[str, ...] | None,
    package: AssignmentPackage,
    key: str,
    *,
    example: str = '["python3", "main.py"]',
    problem: str = "no command to run",
) -> None:
    """A ``PackageError`` when neither the test nor ``[run]`` gives a command."""
    if command is None and package.spec.run.command is None:
        raise PackageError(
            problem,
            file=MANIFEST,
            key=f"{key}.command",
            fix=f"set [run].command (e.g. {example}) or the test's command",
        )
