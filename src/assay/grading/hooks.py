"""``grader.py``'s API: an assignment's Python hooks, in the spirit of Anubis.

    from assay.grading.hooks import build, test, run_student, BuildResult, TestResult

    @build
    def compile_it(result: BuildResult) -> None:
        run = run_student(["make"])
        result.passed = run.ok
        result.log = run.stdout.decode()

    @test("echo prints its argument", points=2, visibility="hidden")
    def echo(result: TestResult) -> None:
        run = run_student(["./echo", "hi"])
        result.passed = run.stdout == b"hi\\n"

Hooks are the instructor's code: trusted with their course, never with the
platform. They never run in a platform process: the hook runner
(``harness/hook_runner.py``) imports ``grader.py`` in a sandbox of its own,
apart from the student's, with the package's files read-only and nothing of
the platform's. ``run_student`` asks the grading engine, over the runner's
standard streams, to run a command in the submission's sandbox.

This module imports nothing of Assay's: it is copied into the hook sandbox as
it is. On the host it can be imported (by editors and type checkers), but
``run_student`` only works while Assay grades.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol

__all__ = [
    "BuildResult",
    "HookUsageError",
    "Limits",
    "OutputPolicy",
    "RunResult",
    "Termination",
    "TestResult",
    "build",
    "run_student",
    "test",
]

VISIBILITIES = ("visible", "hidden", "after_due")


class HookUsageError(Exception):
    """The hooks API was used wrongly, or the grading engine refused a request."""


@dataclass
class BuildResult:
    """Filled in by a ``@build`` hook."""

    passed: bool = True
    log: str = ""


@dataclass
class TestResult:
    """Filled in by a ``@test`` hook. ``score`` defaults to all or nothing."""

    __test__: ClassVar[bool] = False

    passed: bool = False
    message: str = ""
    output: str = ""
    score: float | None = None  # partial credit, 0..points


class Termination(StrEnum):
    """How a run ended (the sandbox's verdict)."""

    EXITED = "exited"
    SIGNALED = "signaled"
    CPU_TIME_LIMIT = "cpu_time_limit"
    WALL_TIME_LIMIT = "wall_time_limit"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"


class OutputPolicy(StrEnum):
    KILL = "kill"  # stop the run when its output reaches the limit
    TRUNCATE = "truncate"  # keep running, discard the rest


@dataclass(frozen=True)
class Limits:
    """Limits for one student run; unset ones are the test's."""

    cpu_time_s: float | None = None
    wall_time_s: float | None = None
    memory_bytes: int | None = None
    pids: int | None = None
    output_bytes: int | None = None
    file_size_bytes: int | None = None
    open_files: int | None = None
    stack_bytes: int | None = None

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class RunResult:
    """A student run's outcome, as the sandbox reported it. Its output is the student's.

    The same fields as ``assay.sandbox.result.RunResult``, which cannot be imported
    in the hook sandbox (a unit test keeps the two alike).
    """

    termination: Termination
    exit_code: int | None
    signal: int | None
    cpu_time_s: float
    wall_time_s: float
    peak_memory_bytes: int
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool = False
    stderr_truncated: bool = False

    @property
    def ok(self) -> bool:
        """The program exited by itself with status 0."""
        return self.termination is Termination.EXITED and self.exit_code == 0

    @property
    def timed_out(self) -> bool:
        return self.termination in (Termination.CPU_TIME_LIMIT, Termination.WALL_TIME_LIMIT)

    @classmethod
    def from_message(cls, data: Mapping[str, Any]) -> RunResult:
        return cls(
            termination=Termination(data["termination"]),
            exit_code=data["exit_code"],
            signal=data["signal"],
            cpu_time_s=float(data["cpu_time_s"]),
            wall_time_s=float(data["wall_time_s"]),
            peak_memory_bytes=int(data["peak_memory_bytes"]),
            stdout=base64.b64decode(data["stdout"]),
            stderr=base64.b64decode(data["stderr"]),
            stdout_truncated=bool(data["stdout_truncated"]),
            stderr_truncated=bool(data["stderr_truncated"]),
        )


@dataclass(frozen=True)
class HookTest:
    name: str
    points: float
    visibility: str
    group: str
    function: Callable[[TestResult], None]


@dataclass
class Registry:
    """What a ``grader.py`` registered while the runner imported it."""

    builds: list[Callable[[BuildResult], None]] = field(default_factory=list)
    tests: dict[str, HookTest] = field(default_factory=dict)


class Channel(Protocol):
    """The runner's line to the grading engine."""

    def request(self, message: dict[str, Any]) -> dict[str, Any]: ...


_registry: Registry | None = None
_channel: Channel | None = None


def begin(registry: Registry, channel: Channel) -> None:
    """Called by the hook runner before it imports ``grader.py``."""
    global _registry, _channel
    _registry, _channel = registry, channel


def _current() -> Registry:
    if _registry is None:
        raise HookUsageError("hook decorators only work in a grader.py run by Assay")
    return _registry


def build(function: Callable[[BuildResult], None]) -> Callable[[BuildResult], None]:
    """Register a build hook; it runs after the ``[build]`` commands of the package."""
    _current().builds.append(function)
    return function


def test(
    name: str, *, points: float = 1.0, visibility: str = "visible", group: str = ""
) -> Callable[[Callable[[TestResult], None]], Callable[[TestResult], None]]:
    """Register a test hook worth ``points``."""
    if visibility not in VISIBILITIES:
        raise HookUsageError(f"test {name!r}: visibility must be visible, hidden or after_due")

    def register(function: Callable[[TestResult], None]) -> Callable[[TestResult], None]:
        registry = _current()
        if name in registry.tests:
            raise HookUsageError(f"test {name!r} is registered twice")
        registry.tests[name] = HookTest(name, float(points), visibility, group, function)
        return function

    return register


def run_student(
    argv: Sequence[str] | str,
    *,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str = ".",
    limits: Limits | None = None,
    output_policy: OutputPolicy | str = OutputPolicy.KILL,
) -> RunResult:
    """Run a command as the student, in the submission's sandbox (a string: ``sh -c``)."""
    if _channel is None:
        raise HookUsageError("run_student() only works while Assay grades a submission")
    if isinstance(argv, str):
        argv = ["/bin/sh", "-c", argv]
    reply = _channel.request(
        {
            "type": "run",
            "argv": list(argv),
            "stdin": None if stdin is None else base64.b64encode(stdin).decode("ascii"),
            "env": None if env is None else dict(env),
            "cwd": cwd,
            "limits": None if limits is None else limits.as_dict(),
            "output_policy": str(OutputPolicy(output_policy)),
        }
    )
    if reply.get("type") != "result":
        raise HookUsageError(str(reply.get("message", "the grading engine refused the run")))
    return RunResult.from_message(reply)
