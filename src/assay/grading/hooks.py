"""``grader.py``: an assignment's optional Python hooks, in the spirit of Anubis.

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

Hooks are trusted code: they run in the grading process, never inside the
student's sandbox. ``run_student`` is the only way to run student code and
always goes through the sandbox of the submission being graded.
"""

from __future__ import annotations

import contextvars
import importlib.util
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from assay.errors import HookError, PackageError
from assay.grading.spec import Visibility
from assay.sandbox.result import RunResult
from assay.sandbox.spec import Limits, OutputPolicy

if TYPE_CHECKING:
    from assay.grading.context import GradingContext

__all__ = ["BuildResult", "Hooks", "TestResult", "build", "run_student", "test"]


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


@dataclass(frozen=True)
class HookTest:
    name: str
    points: float
    visibility: Visibility
    group: str
    function: Callable[[TestResult], None]


@dataclass
class Hooks:
    builds: list[Callable[[BuildResult], None]] = field(default_factory=list)
    tests: list[HookTest] = field(default_factory=list)


_loading: contextvars.ContextVar[Hooks | None] = contextvars.ContextVar("loading", default=None)
_context: contextvars.ContextVar[GradingContext | None] = contextvars.ContextVar(
    "context", default=None
)


def _registry() -> Hooks:
    hooks = _loading.get()
    if hooks is None:
        raise HookError("hook decorators only work in a grader.py loaded by Assay")
    return hooks


def build(function: Callable[[BuildResult], None]) -> Callable[[BuildResult], None]:
    """Register a build hook; it runs after the ``[build]`` commands of the package."""
    _registry().builds.append(function)
    return function


def test(
    name: str, *, points: float = 1.0, visibility: str = "visible", group: str = ""
) -> Callable[[Callable[[TestResult], None]], Callable[[TestResult], None]]:
    """Register a test hook worth ``points``."""
    try:
        vis = Visibility(visibility)
    except ValueError:
        raise HookError(f"test {name!r}: visibility must be visible, hidden or after_due") from None

    def register(function: Callable[[TestResult], None]) -> Callable[[TestResult], None]:
        _registry().tests.append(HookTest(name, float(points), vis, group, function))
        return function

    return register


def run_student(
    argv: Sequence[str] | str,
    *,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str = ".",
    limits: Limits | None = None,
    output_policy: OutputPolicy = OutputPolicy.KILL,
) -> RunResult:
    """Run a command as the student, in the submission's sandbox."""
    context = _context.get()
    if context is None:
        raise HookError("run_student() can only be called while a submission is graded")
    if isinstance(argv, str):
        argv = ["/bin/sh", "-c", argv]
    return context.run_student(
        list(argv), stdin=stdin, env=env, cwd=cwd, limits=limits, output_policy=output_policy
    )


@contextmanager
def active(context: GradingContext) -> Iterator[None]:
    """Make ``run_student`` use ``context`` while hooks run."""
    token = _context.set(context)
    try:
        yield
    finally:
        _context.reset(token)


def load_hooks(path: Path) -> Hooks:
    """Import a package's ``grader.py`` and collect what it registered."""
    hooks = Hooks()
    token = _loading.set(hooks)
    module_name = f"assay_grader_{abs(hash(str(path))):x}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PackageError("cannot be imported", file=path.name)
    try:
        module: Any = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except (HookError, PackageError):
        raise
    except Exception as exc:
        raise PackageError(
            f"importing it failed: {type(exc).__name__}: {exc}",
            file=path.name,
            fix="run `python grader.py` to see the error",
        ) from exc
    finally:
        _loading.reset(token)
        sys.modules.pop(module_name, None)
    names = [t.name for t in hooks.tests]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise PackageError(f"tests registered twice: {sorted(duplicates)}", file=path.name)
    return hooks
