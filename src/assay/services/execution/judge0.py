"""A Judge0 CE-compatible subset over the execution core: submissions (single, batch),
languages, statuses.

This module validates requests as Judge0 does, hands them to the core (which stores,
queues, waits for and runs them, and shows each only to its owner) and renders what
the core reads back in Judge0's shape. The run itself is ``judge0_run``.

Text fields are stored base64-encoded, so what a program printed survives
byte for byte whatever the client asks for later (``base64_encoded=false``
decodes leniently, as UTF-8 with replacement characters).
"""

from __future__ import annotations

import base64
import binascii
import math
import shlex
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assay import __version__
from assay.errors import ServiceError
from assay.services.actor import Actor
from assay.services.execution import core
from assay.services.execution.core import Api, ExecutionView
from assay.services.execution.judge0_models import (
    Judge0Request,
    Judge0Result,
    LanguageRef,
    StatusOut,
    SubmissionOut,
)
from assay.services.execution.judge0_run import compile_limits, internal_error_result
from assay.services.execution.languages import LANGUAGES, get_language, language_name
from assay.services.platform import Platform
from assay.storage.models import RunStatus

JUDGE0_VERSION = "1.13.1"  # the API version we follow (clients map language aliases by it)
MAX_SOURCE_BYTES = 256 * 1024
MAX_STDIN_BYTES = 4 * 1024 * 1024
MAX_BATCH = 20
WAIT_BOUND_S = 60.0

STATUSES: dict[int, str] = {
    1: "In Queue",
    2: "Processing",
    3: "Accepted",
    4: "Wrong Answer",
    5: "Time Limit Exceeded",
    6: "Compilation Error",
    7: "Runtime Error (SIGSEGV)",
    8: "Runtime Error (SIGXFSZ)",
    9: "Runtime Error (SIGFPE)",
    10: "Runtime Error (SIGABRT)",
    11: "Runtime Error (NZEC)",
    12: "Runtime Error (Other)",
    13: "Internal Error",
    14: "Exec Format Error",
}

# Judge0's defaults and maxima (CE configuration), in Judge0's units
DEFAULTS: dict[str, Any] = {
    "cpu_time_limit": 5.0,
    "cpu_extra_time": 1.0,
    "wall_time_limit": 10.0,
    "memory_limit": 128000,  # KB
    "stack_limit": 64000,  # KB
    "max_processes_and_or_threads": 60,
    "max_file_size": 1024,  # KB
    "number_of_runs": 1,
    "redirect_stderr_to_stdout": False,
    "enable_per_process_and_thread_time_limit": False,
    "enable_per_process_and_thread_memory_limit": False,
    "enable_network": False,
}
MAXIMA: dict[str, Any] = {
    "cpu_time_limit": 15.0,
    "cpu_extra_time": 5.0,
    "wall_time_limit": 20.0,
    "memory_limit": 512000,
    "stack_limit": 128000,
    "max_processes_and_or_threads": 120,
    "max_file_size": 4096,
    "number_of_runs": 20,
}

# every field ``fields=*`` returns, in Judge0's order
ALL_FIELDS = tuple(SubmissionOut.model_fields)  # Judge0's order, one list of them
DEFAULT_FIELDS = (
    "stdout", "time", "memory", "stderr", "token", "compile_output", "message", "status",
)  # fmt: skip
ENCODED_FIELDS = frozenset(
    {"source_code", "stdin", "expected_output", "stdout", "stderr", "compile_output"}
)


class Judge0Error(ServiceError):
    """A request Judge0 refuses with 422 and ``{field: [messages]}`` (or 400 ``{"error"}``)."""

    def __init__(self, errors: dict[str, list[str]] | str, status: int = 422) -> None:
        super().__init__(str(errors))
        self.errors = errors
        self.status = status

    def body(self) -> dict[str, Any]:
        if isinstance(self.errors, str):
            return {"error": self.errors}
        return dict(self.errors)


class SubmissionIn(BaseModel):
    """``POST /submissions`` body (Judge0 field names; unknown fields are ignored)."""

    model_config = ConfigDict(extra="ignore")

    source_code: str | None = None
    language_id: int | None = None
    compiler_options: str | None = None
    command_line_arguments: str | None = None
    stdin: str | None = None
    expected_output: str | None = None
    cpu_time_limit: float | None = None
    cpu_extra_time: float | None = None
    wall_time_limit: float | None = None
    memory_limit: float | None = None
    stack_limit: int | None = None
    max_processes_and_or_threads: int | None = None
    enable_per_process_and_thread_time_limit: bool | None = None
    enable_per_process_and_thread_memory_limit: bool | None = None
    max_file_size: int | None = None
    redirect_stderr_to_stdout: bool | None = None
    enable_network: bool | None = None
    number_of_runs: int | None = None
    callback_url: str | None = None
    additional_files: str | None = None


class BatchIn(BaseModel):
    submissions: list[dict[str, Any]] = Field(default_factory=list)


def statuses() -> list[StatusOut]:
    return [StatusOut(id=i, description=d) for i, d in STATUSES.items()]


def about() -> dict[str, str]:
    return {
        "version": JUDGE0_VERSION,
        "homepage": "https://github.com/assay-autograder/assay",
        "source_code": "https://github.com/assay-autograder/assay",
        "maintainer": f"Assay {__version__} (Judge0 CE-compatible subset)",
    }


def config_info() -> dict[str, Any]:
    """``GET /config_info``: what this server allows (the official client reads it)."""
    return {
        "maintenance_mode": False,
        "enable_wait_result": True,
        "enable_compiler_options": True,
        "allowed_languages_for_compile_options": sorted(
            {lang.label for lang in LANGUAGES.values() if lang.accepts_compiler_options}
        ),
        "enable_command_line_arguments": True,
        "enable_submission_delete": False,
        "enable_callbacks": False,
        "callbacks_max_tries": 0,
        "callbacks_timeout": 0.0,
        "enable_additional_files": False,
        "max_queue_size": 1000,
        "cpu_time_limit": DEFAULTS["cpu_time_limit"],
        "max_cpu_time_limit": MAXIMA["cpu_time_limit"],
        "cpu_extra_time": DEFAULTS["cpu_extra_time"],
        "max_cpu_extra_time": MAXIMA["cpu_extra_time"],
        "wall_time_limit": DEFAULTS["wall_time_limit"],
        "max_wall_time_limit": MAXIMA["wall_time_limit"],
        "memory_limit": DEFAULTS["memory_limit"],
        "max_memory_limit": MAXIMA["memory_limit"],
        "stack_limit": DEFAULTS["stack_limit"],
        "max_stack_limit": MAXIMA["stack_limit"],
        "max_processes_and_or_threads": DEFAULTS["max_processes_and_or_threads"],
        "max_max_processes_and_or_threads": MAXIMA["max_processes_and_or_threads"],
        "enable_per_process_and_thread_time_limit": False,
        "allow_enable_per_process_and_thread_time_limit": False,
        "enable_per_process_and_thread_memory_limit": False,
        "allow_enable_per_process_and_thread_memory_limit": False,
        "max_file_size": DEFAULTS["max_file_size"],
        "max_max_file_size": MAXIMA["max_file_size"],
        "number_of_runs": 1,
        "max_number_of_runs": MAXIMA["number_of_runs"],
        "redirect_stderr_to_stdout": False,
        "max_extract_size": 0,
        "enable_batched_submissions": True,
        "max_submission_batch_size": MAX_BATCH,
        "submission_cache_duration": 0.0,
        "use_docs_as_homepage": False,
        "allow_enable_network": False,
        "enable_network": False,
    }


# --- requests ----------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _field_bytes(value: str | None, name: str, encoded: bool, limit: int) -> bytes | None:
    if value is None:
        return None
    if encoded:
        try:
            data = base64.b64decode(value.replace("\n", "").replace("\r", ""), validate=True)
        except (binascii.Error, ValueError):
            raise Judge0Error({name: ["is not valid base64"]}) from None
    else:
        try:
            data = value.encode()
        except UnicodeEncodeError:  # a lone surrogate escape in the JSON string
            raise Judge0Error({name: ["is not valid Unicode text"]}) from None
    if len(data) > limit:
        raise Judge0Error({name: [f"is too long (maximum is {limit} bytes)"]})
    return data


def _number(body: SubmissionIn, name: str, errors: dict[str, list[str]]) -> Any:
    value = getattr(body, name)
    if value is None:
        return DEFAULTS[name]
    if not math.isfinite(value):  # NaN passes both comparisons below
        errors.setdefault(name, []).append("must be a number")
    elif value < 0:
        errors.setdefault(name, []).append("must be greater than or equal to 0")
    elif name in MAXIMA and value > MAXIMA[name]:
        errors.setdefault(name, []).append(f"must be less than or equal to {MAXIMA[name]}")
    return value


def normalise(body: SubmissionIn, encoded: bool) -> Judge0Request:
    """Validate like Judge0 (422 ``{field: [messages]}``) and return the stored request."""
    errors: dict[str, list[str]] = {}
    if not body.source_code:
        errors["source_code"] = ["can't be blank"]
    if body.language_id is None:
        errors["language_id"] = ["can't be blank"]
    elif get_language(body.language_id) is None:
        errors["language_id"] = [f"language with id {body.language_id} doesn't exist"]
    limits: dict[str, Any] = {
        name: _number(body, name, errors)
        for name in (
            "cpu_time_limit", "cpu_extra_time", "wall_time_limit", "memory_limit",
            "stack_limit", "max_processes_and_or_threads", "max_file_size", "number_of_runs",
        )
    }  # fmt: skip
    for name in ("enable_network", "callback_url", "additional_files"):
        if getattr(body, name):
            errors[name] = ["is not supported by this server"]
    if body.enable_per_process_and_thread_time_limit or (
        body.enable_per_process_and_thread_memory_limit
    ):
        errors["enable_per_process_and_thread_time_limit"] = ["is not supported by this server"]
    language = get_language(body.language_id) if body.language_id is not None else None
    if body.compiler_options and language is not None and not language.accepts_compiler_options:
        errors["compiler_options"] = [
            f"setting compiler options is not allowed for {language.label}"
        ]
    for name in ("compiler_options", "command_line_arguments"):
        text = getattr(body, name)
        if text:
            if not _printable(text):  # an argument with a NUL cannot be passed to a program
                errors.setdefault(name, []).append("must be text without control characters")
            elif len(text) > 512:
                errors.setdefault(name, []).append("is too long (maximum is 512 characters)")
            else:
                try:
                    shlex.split(text)
                except ValueError:
                    errors.setdefault(name, []).append("cannot be split into arguments")
    if errors:
        raise Judge0Error(errors)
    source = _field_bytes(body.source_code, "source_code", encoded, MAX_SOURCE_BYTES)
    stdin = _field_bytes(body.stdin, "stdin", encoded, MAX_STDIN_BYTES)
    expected = _field_bytes(body.expected_output, "expected_output", encoded, MAX_STDIN_BYTES)
    assert body.language_id is not None  # noqa: S101 - refused above when missing
    return Judge0Request(
        **limits,
        language_id=body.language_id,
        source_code=_b64(source or b""),
        stdin=_b64(stdin) if stdin is not None else None,
        expected_output=_b64(expected) if expected is not None else None,
        compiler_options=body.compiler_options,
        command_line_arguments=body.command_line_arguments,
        redirect_stderr_to_stdout=bool(body.redirect_stderr_to_stdout),
    )


def _printable(text: str) -> bool:
    """No NUL or other control character (whitespace allowed), no lone surrogate."""
    return all(c.isprintable() or c in "\t\n\r" for c in text)


def create_submission(
    platform: Platform, actor: Actor, body: dict[str, Any], *, encoded: bool, wait: bool,
    fields: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """``POST /submissions``: ``{"token"}``, or with ``wait`` the finished submission."""
    request = normalise(_parse(body), encoded)
    [token] = core.submit(platform, actor, Api.JUDGE0, [request.to_stored()])
    if not wait:
        return {"token": token}
    language = get_language(request.language_id)
    assert language is not None  # noqa: S101 - normalise refuses unknown ids
    bound = request.wall_time_limit + compile_limits(language).wall_time_s + 15
    core.wait_for(platform, [token], min(bound, WAIT_BOUND_S))
    return get_submission(platform, actor, token, encoded=encoded, fields=fields)


def create_batch(
    platform: Platform, actor: Actor, body: dict[str, Any], *, encoded: bool
) -> list[dict[str, Any]]:
    """``POST /submissions/batch``: one ``{"token"}`` or one error object per submission."""
    try:
        batch = BatchIn.model_validate(body)
    except ValidationError:
        raise Judge0Error({"submissions": ["must be a list of submissions"]}) from None
    if not batch.submissions:
        raise Judge0Error({"submissions": ["can't be blank"]})
    if len(batch.submissions) > MAX_BATCH:
        raise Judge0Error({"submissions": [f"size of array must be <= {MAX_BATCH}"]})
    checked: list[Judge0Request | Judge0Error] = []
    for item in batch.submissions:
        try:
            checked.append(normalise(_parse(item), encoded))
        except Judge0Error as exc:
            checked.append(exc)
    valid = [r.to_stored() for r in checked if isinstance(r, Judge0Request)]
    tokens = iter(core.submit(platform, actor, Api.JUDGE0, valid))
    return [r.body() if isinstance(r, Judge0Error) else {"token": next(tokens)} for r in checked]


def _parse(body: dict[str, Any]) -> SubmissionIn:
    try:
        return SubmissionIn.model_validate(body)
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "submission"
            errors.setdefault(name, []).append(error["msg"])
        raise Judge0Error(errors) from None


# --- reading -------------------------------------------------------------------------------


def select_fields(fields: str | None) -> tuple[str, ...]:
    if fields is None or not fields.strip():
        return DEFAULT_FIELDS
    names = tuple(f.strip() for f in fields.split(",") if f.strip())
    if "*" in names:
        return ALL_FIELDS
    unknown = [n for n in names if n not in ALL_FIELDS]
    if unknown:
        raise Judge0Error(f"invalid fields: [{', '.join(unknown)}]", status=400)
    return names


def get_submission(
    platform: Platform, actor: Actor, token: str, *, encoded: bool, fields: str | None
) -> dict[str, Any]:
    names = select_fields(fields)
    return _render(platform, core.read(platform, actor, token, Api.JUDGE0), names, encoded)


def get_batch(
    platform: Platform, actor: Actor, tokens: str, *, encoded: bool, fields: str | None
) -> dict[str, Any]:
    names = select_fields(fields)
    wanted = [t.strip() for t in tokens.split(",") if t.strip()]
    if not wanted:
        raise Judge0Error({"tokens": ["can't be blank"]})
    if len(wanted) > MAX_BATCH:
        raise Judge0Error({"tokens": [f"number of tokens must be <= {MAX_BATCH}"]})
    executions = core.read_many(platform, actor, wanted, Api.JUDGE0)
    return {  # Judge0 answers null for a token it does not know
        "submissions": [
            None if e is None else _render(platform, e, names, encoded) for e in executions
        ]
    }


def _render(
    platform: Platform, execution: ExecutionView, names: tuple[str, ...], encoded: bool
) -> dict[str, Any]:
    """The fields ``names`` of a submission, in that order (text decoded unless ``encoded``)."""
    request = Judge0Request.from_stored(execution.request)
    if execution.error_text is not None:  # our failure: no internals shown
        result = internal_error_result(execution.error_text)
    elif execution.result and execution.result.get("status_id") is not None:
        result = Judge0Result.from_stored(execution.result)
    else:  # not finished: nothing but the status yet
        result = Judge0Result(status_id=2 if execution.status is RunStatus.RUNNING else 1)
    language = get_language(request.language_id)
    shown = SubmissionOut.model_validate(
        {
            **request.to_stored(),
            **result.to_stored(),
            "token": execution.token,
            "status": StatusOut(id=result.status_id, description=STATUSES[result.status_id]),
            "created_at": _time(execution.created_at),
            "finished_at": _time(execution.finished_at),
            "language": LanguageRef(
                id=language.id,
                name=language_name(language, platform.environment_provider),
            )
            if language
            else None,
        }
    ).model_dump(mode="json")
    out: dict[str, Any] = {}
    for name in names:
        value = shown[name]
        if name in ENCODED_FIELDS and value is not None and not encoded:
            value = base64.b64decode(value).decode("utf-8", errors="replace")
        out[name] = value
    return out


def _time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
