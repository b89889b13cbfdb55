"""Assay's JUnit runner classes (``harness/java/assay``), compiled once per environment.

The runner is Assay's own code, the same for every submission: it is compiled
by ``javac`` in the grading's trusted sandbox (never the student's) against the
environment's JUnit jars only, and the class files are kept for the life of
the process. Each test run then reads them from a read-only harness folder.
"""

from __future__ import annotations

import secrets
import threading
from importlib import resources
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING

from assay.errors import GradingError
from assay.grading.context import harness_entries
from assay.grading.outcome import decode
from assay.sandbox.envs.builtin import JAVA_CLASSPATH
from assay.sandbox.spec import OutputPolicy

if TYPE_CHECKING:
    from assay.grading.context import GradingContext
    from assay.sandbox.session import Sandbox

AGENT_PACKAGE = "assay"  # harness/java/assay/...: the runner, compiled here
SUPPORT_PACKAGE = "com"  # harness/java/com/...: @GradedTest, compiled with the tests
MAX_CLASS_FILES = 200
MAX_CLASS_BYTES = 1024 * 1024
COMPILE_CPU_S = 60.0
COMPILE_WALL_S = 120.0

_cache: dict[str, dict[str, bytes]] = {}
_lock = threading.Lock()


def java_sources(top: str) -> dict[str, bytes]:
    """The ``.java`` files under ``harness/java/<top>``, keyed by their package path."""
    found: dict[str, bytes] = {}
    root = resources.files("assay.grading.harness").joinpath("java")
    pending: list[tuple[str, Traversable]] = [(top, root.joinpath(top))]
    while pending:
        rel, node = pending.pop()
        for child in node.iterdir():
            if child.is_dir():
                pending.append((f"{rel}/{child.name}", child))
            elif child.name.endswith(".java"):
                found[f"{rel}/{child.name}"] = child.read_bytes()
    return found


def junit_classpath(ctx: GradingContext) -> list[str]:
    """The environment's JUnit jars (its ``CLASSPATH`` without ``.``)."""
    value = ctx.sandbox.environment.env.get("CLASSPATH") or JAVA_CLASSPATH
    return [entry for entry in value.split(":") if entry and entry != "."]


def agent_classes(ctx: GradingContext) -> dict[str, bytes]:
    """The runner's class files (``classes/assay/junit/...``) for the student's environment."""
    environment = ctx.sandbox.environment
    with _lock:
        classes = _cache.get(environment.key)
        if classes is None:
            box = ctx.trusted_sandbox(environment)
            classes = _compile(box, junit_classpath(ctx))
            _cache[environment.key] = classes
        return classes


def _compile(box: Sandbox, jars: list[str]) -> dict[str, bytes]:
    sources = java_sources(AGENT_PACKAGE)
    folder = f".assay-junit-agent-{secrets.token_hex(8)}"
    box.add_entries(harness_entries(folder, sources))
    out = f"{folder}-classes"
    argv = [
        "javac",
        "-J-XX:TieredStopAtLevel=1",
        "-J-XX:+UseSerialGC",
        "-encoding",
        "UTF-8",
        "-proc:none",
        "-nowarn",
        "-d",
        f"/work/{out}",
        "-cp",
        ":".join(jars),
        *(f"/work/{folder}/{rel}" for rel in sorted(sources)),
    ]
    limits = box.limits.replace(
        cpu_time_s=max(box.limits.cpu_time_s, COMPILE_CPU_S),
        wall_time_s=max(box.limits.wall_time_s, COMPILE_WALL_S),
    )
    result = box.run(argv, limits=limits, output_policy=OutputPolicy.TRUNCATE)
    if not result.ok:
        said = decode(result.stderr or result.stdout)[-2000:]
        raise GradingError(
            f"Assay's JUnit runner does not compile in environment "
            f"{box.environment.name!r} (a JDK and JUnit 5.9+ are needed): {said}"
        )
    return _class_files(box, out)


def _class_files(box: Sandbox, out: str) -> dict[str, bytes]:
    """Every ``.class`` javac wrote under ``out``, as ``classes/<path>``."""
    found: dict[str, bytes] = {}
    pending = [""]
    while pending:
        rel = pending.pop()
        for name in box.list_files(f"{out}/{rel}" if rel else out):
            path = f"{rel}/{name}" if rel else name
            if not name.endswith(".class"):
                pending.append(path)
                continue
            found[f"classes/{path}"] = box.read_file(f"{out}/{path}", max_bytes=MAX_CLASS_BYTES)
            if len(found) > MAX_CLASS_FILES:
                raise GradingError(
                    f"the JUnit runner compiled to more than {MAX_CLASS_FILES} files"
                )
    return found
