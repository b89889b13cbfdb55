"""The Judge0 path's types: the stored request and result (frozen dataclasses, as the
``Execution`` row's JSON holds them) and the submission as the HTTP API shows it (pydantic).

``to_stored`` writes exactly the keys (and key order) the rows have always held, and
``from_stored`` reads them back; values keep their JSON types (a limit given as ``2`` stays
an integer, one given as ``2.5`` a float), so what clients read back is unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel


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
        return cls(
            cpu_time_limit=stored["cpu_time_limit"],
            cpu_extra_time=stored["cpu_extra_time"],
            wall_time_limit=stored["wall_time_limit"],
            memory_limit=stored["memory_limit"],
            stack_limit=stored["stack_limit"],
            max_processes_and_or_threads=stored["max_processes_and_or_threads"],
            max_file_size=stored["max_file_size"],
            number_of_runs=stored["number_of_runs"],
            language_id=stored["language_id"],
            source_code=stored["source_code"],
            stdin=stored.get("stdin"),
            expected_output=stored.get("expected_output"),
            compiler_options=stored.get("compiler_options"),
            command_line_arguments=stored.get("command_line_arguments"),
            redirect_stderr_to_stdout=stored.get("redirect_stderr_to_stdout"),
            enable_per_process_and_thread_time_limit=stored.get(
                "enable_per_process_and_thread_time_limit"
            ),
            enable_per_process_and_thread_memory_limit=stored.get(
                "enable_per_process_and_thread_memory_limit"
            ),
            enable_network=stored.get("enable_network"),
            callback_url=stored.get("callback_url"),
            additional_files=stored.get("additional_files"),
        )


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
        return cls(
            status_id=stored["status_id"],
            message=stored.get("message"),
            stdout=stored.get("stdout"),
            stderr=stored.get("stderr"),
            compile_output=stored.get("compile_output"),
            time=stored.get("time"),
            wall_time=stored.get("wall_time"),
            memory=stored.get("memory"),
            exit_code=stored.get("exit_code"),
            exit_signal=stored.get("exit_signal"),
        )


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
