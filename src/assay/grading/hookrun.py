"""The grading engine's end of the hook runner: ``grader.py`` in a sandbox of its own.

The package's files are copied read-only into a hook sandbox (never the
student's, never a platform process) with the runner and the hooks API;
the runner talks to the engine over its standard streams (a
``Dialogue``). Every line it sends is untrusted input: checked, bounded,
and anything malformed is the hooks' failure, so the test is ``error``
(ours to retry, never the student's zero). A ``run`` request is served by
running the command in the student's sandbox with the test's limits.

Unlike the spec runner's channel, this one needs no MAC: nothing but the
instructor's code runs in the hook sandbox (student output only crosses it
as base64 data inside replies), and the engine trusts none of it anyway.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import queue
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from assay.errors import AssayError
from assay.grading.context import GradingContext, harness_entries
from assay.grading.outcome import decode, describe_run
from assay.grading.package import AssignmentPackage
from assay.sandbox.hostfiles import entries_from_host
from assay.sandbox.result import RunResult
from assay.sandbox.session import Sandbox
from assay.sandbox.spec import MIB, Dialogue, Limits, OutputPolicy

RUNNER_DIR = ".assay-hooks"
RUNNER = "hook_runner.py"
MAX_LINE_BYTES = 4 * MIB
MAX_TEXT_CHARS = 256 * 1024
STDERR_TAIL_CHARS = 8000
HOOK_MEMORY_BYTES = 512 * MIB
HOOK_OUTPUT_BYTES = 16 * MIB
LIMIT_KEYS = frozenset(
    {
        "cpu_time_s",
        "wall_time_s",
        "memory_bytes",
        "pids",
        "output_bytes",
        "file_size_bytes",
        "open_files",
        "stack_bytes",
    }
)


@dataclass(frozen=True)
class HookResult:
    """One hook's result as the runner reported it (checked); ``error``: it failed."""

    passed: bool = False
    text: str = ""  # a build hook's log, a test hook's message
    output: str = ""
    score: float | None = None
    wall_s: float = 0.0  # how long the hook ran, as the runner measured it
    error: str | None = None


@dataclass
class PhaseResult:
    """What one run of the hook runner gave: results by hook, and why it ended early."""

    builds: list[HookResult] = field(default_factory=list)
    tests: dict[str, HookResult] = field(default_factory=dict)
    failure: str | None = None  # staff-only: grader.py failed to load, the runner died...


class _Lines:
    """Complete lines out of a byte stream; a line over the bound is dropped whole."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buffer = bytearray()
        self.skipping = False
        self.dropped = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        lines: list[bytes] = []
        self.buffer += chunk
        while (end := self.buffer.find(b"\n")) >= 0:
            line = bytes(self.buffer[:end])
            del self.buffer[: end + 1]
            if self.skipping:
                self.skipping = False
            else:
                lines.append(line)
        if len(self.buffer) > self.limit:
            self.buffer.clear()
            if not self.skipping:
                self.dropped += 1
            self.skipping = True
        return lines


class HookDialogue(Dialogue):
    """One conversation with the runner: the job first, then one answer per request."""

    def __init__(
        self,
        job: Mapping[str, Any],
        serve: Callable[[Mapping[str, Any]], dict[str, Any]],
        started: Callable[[str], None],
    ) -> None:
        self.job = dict(job)
        self.serve = serve
        self.started = started
        self.lines = _Lines(MAX_LINE_BYTES)
        self.messages: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self._requests: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()

    def heard(self, chunk: bytes) -> None:
        for line in self.lines.feed(chunk):
            try:
                message = json.loads(line)
            except ValueError:
                self.notes.append(f"a line that is not JSON: {line[:120]!r}")
                continue
            if not isinstance(message, dict):
                self.notes.append("a line that is not a JSON object")
            elif message.get("type") in ("run", "start"):
                self._requests.put(message)  # served in order, off the supervising thread
            else:
                self.messages.append(message)

    def replies(self) -> Iterator[bytes]:
        yield _line(self.job)
        while (message := self._requests.get()) is not None:
            if message.get("type") == "start":
                self.started(str(message.get("name", ""))[:200])
                continue
            yield _line(self.serve(message))

    def hang_up(self) -> None:
        self._requests.put(None)


def _line(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message).encode("utf-8") + b"\n"


def _text(value: object) -> str:
    return value[:MAX_TEXT_CHARS] if isinstance(value, str) else ""


def _result_message(result: RunResult) -> dict[str, Any]:
    return {
        "type": "result",
        "termination": result.termination.value,
        "exit_code": result.exit_code,
        "signal": result.signal,
        "cpu_time_s": result.cpu_time_s,
        "wall_time_s": result.wall_time_s,
        "peak_memory_bytes": result.peak_memory_bytes,
        "stdout": base64.b64encode(result.stdout).decode("ascii"),
        "stderr": base64.b64encode(result.stderr).decode("ascii"),
        "stdout_truncated": result.stdout_truncated,
        "stderr_truncated": result.stderr_truncated,
    }


class _RefusedError(Exception):
    """A run request the engine will not serve (said to the hook)."""


def _limits(value: object, base: Limits) -> Limits:
    if value is None:
        return base
    if not isinstance(value, dict) or not set(value) <= LIMIT_KEYS:
        raise _RefusedError(f"limits may only set {', '.join(sorted(LIMIT_KEYS))}")
    changes: dict[str, float | int] = {}
    for key, number in value.items():
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise _RefusedError(f"limit {key} must be a number")
        if not math.isfinite(number):
            raise _RefusedError(f"limit {key} must be finite")
        changes[key] = number if key.endswith("_s") else int(number)
    return base.replace(**changes)


def _strings(value: object, what: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _RefusedError(f"{what} must map strings to strings")
    return dict(value)


@dataclass(frozen=True)
class _RunRequest:
    argv: list[str]
    stdin: bytes | None
    env: dict[str, str] | None
    cwd: str
    limits: Limits
    output_policy: OutputPolicy


def _request(message: Mapping[str, Any], base: Limits) -> _RunRequest:
    argv = message.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise _RefusedError("argv must be a non-empty list of strings")
    stdin = message.get("stdin")
    if stdin is not None and not isinstance(stdin, str):
        raise _RefusedError("stdin must be bytes")
    cwd = message.get("cwd", ".")
    if not isinstance(cwd, str):
        raise _RefusedError("cwd must be a string")
    try:
        return _RunRequest(
            argv=argv,
            stdin=None if stdin is None else base64.b64decode(stdin, validate=True),
            env=_strings(message.get("env"), "env"),
            cwd=cwd,
            limits=_limits(message.get("limits"), base),
            output_policy=OutputPolicy(str(message.get("output_policy", "kill"))),
        )
    except (binascii.Error, ValueError) as exc:
        raise _RefusedError(str(exc)) from exc


def serve_run(ctx: GradingContext, message: Mapping[str, Any]) -> dict[str, Any]:
    """Run what a hook asked for in the student's sandbox; refusals are said to the hook."""
    try:
        request = _request(message, ctx.limits)
        result = ctx.run_student(
            request.argv,
            stdin=request.stdin,
            env=request.env,
            cwd=request.cwd,
            limits=request.limits,
            output_policy=request.output_policy,
        )
    except _RefusedError as exc:
        return {"type": "error", "message": str(exc)}
    except AssayError as exc:
        # Our infrastructure (or a request the sandbox refused): the hook raises, and
        # its test is an error of ours, never the student's zero.
        return {"type": "error", "message": f"{type(exc).__name__}: {exc.message}"}
    return _result_message(result)


def _build_result(message: Mapping[str, Any]) -> HookResult:
    if isinstance(message.get("error"), str):
        return HookResult(error=_text(message["error"]))
    return HookResult(passed=message.get("passed") is True, text=_text(message.get("log")))


def _test_result(message: Mapping[str, Any]) -> HookResult:
    if isinstance(message.get("error"), str):
        return HookResult(error=_text(message["error"]))
    score, wall = _number(message.get("score")), _number(message.get("wall_s"))
    return HookResult(
        passed=message.get("passed") is True,
        text=_text(message.get("message")),
        output=_text(message.get("output")),
        score=score,
        wall_s=max(0.0, wall or 0.0),
    )


def _number(value: object) -> float | None:
    """A finite number sent by the runner, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def collect(dialogue: HookDialogue, run: RunResult, expected: Sequence[str]) -> PhaseResult:
    """The phase's results from what the runner said; anything missing is its failure."""
    phase = PhaseResult()
    done = False
    for message in dialogue.messages:
        kind = message.get("type")
        if kind == "load_error":
            phase.failure = "grader.py could not be imported:\n" + _text(message.get("error"))
        elif kind == "build":
            phase.builds.append(_build_result(message))
        elif kind == "test" and message.get("name") in expected:
            name = str(message["name"])
            if name in phase.tests:
                phase.tests[name] = HookResult(error="the hook runner reported this test twice")
            else:
                phase.tests[name] = _test_result(message)
        elif kind == "done":
            done = True
    if phase.failure is None and not done:
        stderr = decode(run.stderr[-STDERR_TAIL_CHARS:], STDERR_TAIL_CHARS)
        phase.failure = f"the hook runner {describe_run(run)} before it was done" + (
            f"; its standard error ends with:\n{stderr}" if stderr.strip() else ""
        )
    notes = list(dialogue.notes)
    if dialogue.lines.dropped:
        notes.append(f"{dialogue.lines.dropped} over-long line(s)")
    if notes:
        phase.failure = (phase.failure + "\n" if phase.failure else "") + (
            "the hook runner's channel carried: " + "; ".join(notes[:5])
        )
    return phase


class HookSandbox:
    """The sandbox a grading's hooks run in: the package read-only, the runner, no network."""

    def __init__(self, package: AssignmentPackage, ctx: GradingContext, tests: int) -> None:
        self.package = package
        package_entries = list(
            entries_from_host(package.root, ".", owner_root=True, read_only=True)
        )
        package_bytes = sum(len(entry.data) for entry in package_entries)
        base = package.limits
        self.limits = Limits(
            cpu_time_s=max(30.0, base.cpu_time_s * (tests + 1)),
            wall_time_s=min(3600.0, max(120.0, 4 * (tests + 1) * base.wall_time_s)),
            memory_bytes=max(HOOK_MEMORY_BYTES, base.memory_bytes),
            pids=64,
            output_bytes=HOOK_OUTPUT_BYTES,
            file_size_bytes=base.file_size_bytes,
            workspace_bytes=base.workspace_bytes + package_bytes + 16 * MIB,
        )
        self.box = Sandbox("python3", backend=ctx.backend, limits=self.limits).open()
        try:
            self.box.add_entries(package_entries)
            self.box.add_entries(harness_entries(RUNNER_DIR, _runner_files()))
        except BaseException:
            self.box.close()
            raise

    def run_phase(
        self,
        ctx: GradingContext,
        job: Mapping[str, Any],
        expected: Sequence[str],
        started: Callable[[str], None] = lambda name: None,
    ) -> PhaseResult:
        dialogue = HookDialogue(job, lambda message: serve_run(ctx, message), started)
        grader = f"/work/{self.package.spec.paths.hooks}"
        run = self.box.run(
            ["python3", "-I", f"/work/{RUNNER_DIR}/{RUNNER}", f"/work/{RUNNER_DIR}", grader],
            stdin=dialogue,
            output_policy=OutputPolicy.KILL,
        )
        return collect(dialogue, run, expected)

    def close(self) -> None:
        self.box.close()


@functools.cache
def _runner_files() -> dict[str, bytes]:
    """The runner and the hooks API ``grader.py`` imports (read once per process)."""
    return {
        RUNNER: resources.files("assay.grading.harness").joinpath(RUNNER).read_bytes(),
        "assay/__init__.py": b"",
        "assay/grading/__init__.py": b"",
        "assay/grading/hooks.py": resources.files("assay.grading")
        .joinpath("hooks.py")
        .read_bytes(),
    }
