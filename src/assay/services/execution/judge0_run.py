"""A Judge0 submission run on a worker: one sandbox session, compile, then run with
the given stdin and limits, and the Judge0 status of what happened.

``run`` is Judge0's runner for the execution core (``core.run_execution_job``); the
stored request and result are ``judge0_models``' types, text fields in base64.
"""

from __future__ import annotations

import base64
import shlex
from typing import Any

from assay.sandbox import Limits, OutputPolicy, RunResult, Sandbox, Termination, get_environment
from assay.sandbox.spec import KIB, MIB
from assay.services.execution.judge0_models import Judge0Request, Judge0Result
from assay.services.execution.languages import (
    JVM_MEMORY_BYTES,
    JVM_PIDS,
    Language,
    get_language,
)
from assay.services.platform import Platform

OUTPUT_LIMIT_BYTES = 1 * MIB
COMPILE_LIMITS = Limits(cpu_time_s=15, wall_time_s=30, memory_bytes=1024 * MIB, pids=128)
"""Compilers' least limits; an environment whose own limits are higher (kotlinc, ghc,
rustc, go, tsc) gives its compiler those (``compile_limits``)."""
_SIGNAL_STATUS = {11: 7, 25: 8, 8: 9, 6: 10}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def internal_error_result(error: str) -> Judge0Result:
    return Judge0Result(status_id=13, message=f"Internal Error: {error}"[:1000])


def run(platform: Platform, stored: dict[str, Any]) -> dict[str, Any]:
    """Compile and run one stored submission in a fresh sandbox (the core's runner for
    Judge0); returns the stored result."""
    return _run(platform, Judge0Request.from_stored(stored)).to_stored()


def _run(platform: Platform, request: Judge0Request) -> Judge0Result:
    language = get_language(request.language_id)
    if language is None:  # removed since it was queued
        return internal_error_result(f"language {request.language_id} is not available")
    limits = _limits(language, request)
    source = base64.b64decode(request.source_code)
    stdin = base64.b64decode(request.stdin) if request.stdin else b""
    with Sandbox(language.environment, backend=platform.backend, limits=limits) as box:
        box.write_file(language.source_file, source)
        if language.compile_argv:
            compiled = box.run(
                _compile_argv(language, request.compiler_options),
                limits=compile_limits(language).replace(workspace_bytes=limits.workspace_bytes),
                output_policy=OutputPolicy.TRUNCATE,
            )
            if compiled.termination is not Termination.EXITED or compiled.exit_code != 0:
                return _compile_error(compiled)
        args = shlex.split(request.command_line_arguments or "")
        argv = list(language.run_argv) + args
        if request.redirect_stderr_to_stdout:
            argv = ["sh", "-c", 'exec "$@" 2>&1', "sh", *argv]
        run = box.run(argv, stdin=stdin, output_policy=OutputPolicy.KILL)
    return _verdict(run, request)


def compile_limits(language: Language) -> Limits:
    """``COMPILE_LIMITS``, raised to the environment's own limits where those are higher."""
    env = get_environment(language.environment).default_limits
    least = COMPILE_LIMITS
    return least.replace(
        cpu_time_s=max(least.cpu_time_s, env.cpu_time_s),
        wall_time_s=max(least.wall_time_s, env.wall_time_s),
        memory_bytes=max(least.memory_bytes, env.memory_bytes),
        pids=max(least.pids, env.pids),
    )


def _limits(language: Language, request: Judge0Request) -> Limits:
    memory = max(int(request.memory_limit) * KIB, 16 * MIB)
    pids = int(request.max_processes_and_or_threads)
    if language.jvm:  # the JVM reserves memory and threads of its own
        memory = max(memory, JVM_MEMORY_BYTES)
        pids = max(pids, JVM_PIDS)
    return Limits(
        cpu_time_s=float(request.cpu_time_limit) + float(request.cpu_extra_time),
        wall_time_s=max(float(request.wall_time_limit), 0.1),
        memory_bytes=memory,
        pids=max(pids, 4),
        stack_bytes=max(int(request.stack_limit) * KIB, 64 * KIB),
        file_size_bytes=max(int(request.max_file_size) * KIB, KIB),
        output_bytes=OUTPUT_LIMIT_BYTES,
    )


def _compile_argv(language: Language, options: str | None) -> list[str]:
    argv = list(language.compile_argv)
    if options and language.accepts_compiler_options:
        argv[1:1] = shlex.split(options)
    return argv


def _compile_error(compiled: RunResult) -> Judge0Result:
    text = compiled.stdout + compiled.stderr
    if compiled.termination is not Termination.EXITED:
        text += f"\ncompilation stopped: {compiled.termination.value}\n".encode()
    return Judge0Result(status_id=6, message=None, compile_output=_b64(text))


def _verdict(run: RunResult, request: Judge0Request) -> Judge0Result:
    cpu_limit = float(request.cpu_time_limit)
    status_id, message = 3, None
    exit_signal = run.signal if run.termination is Termination.SIGNALED else None
    # a run that ended within cpu_extra_time but used more than the limit is too slow too
    timed_out = run.termination in (Termination.CPU_TIME_LIMIT, Termination.WALL_TIME_LIMIT)
    if timed_out or run.cpu_time_s > cpu_limit:
        status_id, message = 5, "Time limit exceeded"
    elif run.termination is Termination.MEMORY_LIMIT:
        status_id, message = 12, "Memory limit exceeded"
        exit_signal = 9
    elif run.termination is Termination.OUTPUT_LIMIT:
        status_id, message = 8, "Output limit exceeded"
        exit_signal = 25
    elif run.termination is Termination.SIGNALED:
        status_id = _SIGNAL_STATUS.get(run.signal or 0, 12)
        message = f"Exited with signal {run.signal}"
    elif run.exit_code != 0:
        status_id, message = 11, f"Exited with error status {run.exit_code}"
    elif request.expected_output is not None:
        expected = base64.b64decode(request.expected_output)
        if _normal(run.stdout) != _normal(expected):
            status_id = 4
    return Judge0Result(
        status_id=status_id,
        message=message,
        stdout=_b64(run.stdout),
        stderr=_b64(run.stderr),
        compile_output=None,
        time=f"{run.cpu_time_s:.3f}",
        wall_time=f"{run.wall_time_s:.3f}",
        memory=run.peak_memory_bytes // KIB,
        exit_code=run.exit_code if run.termination is Termination.EXITED else None,
        exit_signal=exit_signal,
    )


def _normal(text: bytes) -> bytes:
    """Judge0 compares outputs with line endings unified and surrounding whitespace stripped."""
    return text.replace(b"\r\n", b"\n").strip()
