"""The Judge0 path's types: the stored request and result (frozen dataclasses, as the
``Execution`` row's JSON holds them) and the submission as the HTTP API shows it (pydantic).

``to_stored`` writes exactly the keys (and key order) the rows have always held, and
``from_stored`` reads them back; values keep their JSON types (a limit given as ``2`` stays
an integer, one given as ``2.5`` a float), so what clients read back is unchanged.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

from pydantic import BaseModel


def _stored_fields(cls: type[Any], stored: dict[str, Any]) -> dict[str, Any]:
    """``cls``'s fields read from a stored row: a required one must be there (KeyError
    otherwise); an optional one missing from an older row is None."""
    return {
        f.name: stored[f.name] if f.default is MISSING else stored.get(f.name) for f in fields(cls)
    }


@dataclass(frozen=True)
class Judge0Request:
    """A validated submission as stored; text fields are base64."""

    cpu_time_limit: float
    cpu_extra_time: float
    wall_time_limit: float
    memory_limit: float  # KB
    stack_limit: int  # KB
    max_processes_and_or_threads: int
    max_file_size: int  # KB
    number_of_runs: int
    language_id: int
    source_code: str
    stdin: str | None = None
    expected_output: str | None = None
    compiler_options: str | None = None
    command_line_arguments: str | None = None
    redirect_stderr_to_stdout: bool | None = False
    enable_per_process_and_thread_time_limit: bool | None = False
    enable_per_process_and_thread_memory_limit: bool | None = False
    enable_network: bool | None = False
    callback_url: str | None = None
    additional_files: str | None = None

    def to_stored(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> Judge0Request:
        return cls(**_stored_fields(cls, stored))


@dataclass(frozen=True)
class Judge0Result:
    """What a run gave, as stored (``stdout``, ``stderr``, ``compile_output`` base64)."""

    status_id: int
    message: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    compile_output: str | None = None
    time: str | None = None  # CPU seconds, "0.012"
    wall_time: str | None = None
    memory: int | None = None  # KB
    exit_code: int | None = None
    exit_signal: int | None = None

    def to_stored(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> Judge0Result:
        return cls(**_stored_fields(cls, stored))


class StatusOut(BaseModel):
    id: int
    description: str


class LanguageRef(BaseModel):
    id: int
    name: str


class SubmissionOut(BaseModel):
    """A submission with every field Judge0 can show (``fields=*``), in Judge0's order;
    the API answers with the fields asked for. Text fields are base64 here."""

    source_code: str | None = None
    language_id: int | None = None
    stdin: str | None = None
    expected_output: str | None = None
    stdout: str | None = None
    status_id: int
    created_at: str | None = None
    finished_at: str | None = None
    time: str | None = None
    memory: int | None = None
    stderr: str | None = None
    token: str
    number_of_runs: int | None = None
    cpu_time_limit: int | float | None = None
    cpu_extra_time: int | float | None = None
    wall_time_limit: int | float | None = None
    memory_limit: int | float | None = None
    stack_limit: int | None = None
    max_processes_and_or_threads: int | None = None
    enable_per_process_and_thread_time_limit: bool | None = None
    enable_per_process_and_thread_memory_limit: bool | None = None
    max_file_size: int | None = None
    compile_output: str | None = None
    exit_code: int | None = None
    exit_signal: int | None = None
    message: str | None = None
    wall_time: str | None = None
    compiler_options: str | None = None
    command_line_arguments: str | None = None
    redirect_stderr_to_stdout: bool | None = None
    callback_url: str | None = None
    additional_files: str | None = None
    enable_network: bool | None = None
    status: StatusOut
    language: LanguageRef | None = None
