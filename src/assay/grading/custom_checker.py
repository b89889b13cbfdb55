"""Custom checkers: instructor programs following the Kattis output-validator convention.

``program input answer feedback_dir [args] < output``: exit 42 accepts, 43
rejects; any other end (another status, a signal, a limit) is the checker's
failure and never the student's. The message is ``feedback_dir/judgemessage.txt``.

A checker is trusted code but still runs sandboxed, in ``ctx.trusted_sandbox``
(a session of its own, never the student's). The student's output is only
data to it, given on standard input. A ``.py`` checker runs with python3; a
``.c``/``.cc``/``.cpp`` one is compiled once per grading in that sandbox;
anything else must be an executable file.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from assay.errors import WorkspacePathError
from assay.grading.checkers import CheckResult, CustomSpec
from assay.grading.outcome import decode, describe_run
from assay.sandbox.base import EntryKind, WorkspaceEntry
from assay.sandbox.environments import Environment, get_environment
from assay.sandbox.result import Termination
from assay.sandbox.session import Sandbox
from assay.sandbox.spec import OutputPolicy

if TYPE_CHECKING:
    from assay.grading.context import GradingContext

ACCEPT_EXIT = 42
REJECT_EXIT = 43
JUDGE_MESSAGE = "judgemessage.txt"
MESSAGE_READ_BYTES = 64 * 1024
MESSAGE_CHARS = 2000
DETAIL_CHARS = 4000
SIBLING_MAX_FILES = 64  # files next to the checker (headers, data) copied with it
SIBLING_MAX_BYTES = 16 * 1024 * 1024
BINARY = "checker.bin"
FAILED = "the checker of this test failed (not because of your submission)"

_COMPILED = {
    ".c": ("c", ("gcc", "-O2", "-std=gnu17", "-o", BINARY)),
    ".cc": ("cpp", ("g++", "-O2", "-std=gnu++17", "-o", BINARY)),
    ".cpp": ("cpp", ("g++", "-O2", "-std=gnu++17", "-o", BINARY)),
}
SUPPORTED = (".py", *_COMPILED)


def checker_environment(program: str, default: Environment) -> Environment:
    """The sandbox environment a checker runs in (``default``: the package's)."""
    suffix = Path(program).suffix
    if suffix == ".py":
        return get_environment("python3")
    return get_environment(_COMPILED[suffix][0]) if suffix in _COMPILED else default


def program_problem(path: Path) -> str | None:
    """What is wrong with ``path`` as a checker program (load time), or ``None``."""
    if not path.is_file():
        return "is not a file"
    if path.suffix in SUPPORTED:
        return None
    if not path.stat().st_mode & stat.S_IXUSR:
        return f"is neither {', '.join(SUPPORTED)} nor an executable file"
    return None


@dataclass(frozen=True)
class _Prepared:
    argv: tuple[str, ...] = ()  # how to start the checker (relative to the workspace)
    error: str | None = None  # why it cannot run (e.g. it does not compile)


class _BoxState:
    """What one trusted sandbox holds: prepared checkers, guarded by a lock (tests may overlap)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.prepared: dict[str, _Prepared] = {}


_states: WeakKeyDictionary[Sandbox, _BoxState] = WeakKeyDictionary()
_states_lock = threading.Lock()


def _state(box: Sandbox) -> _BoxState:
    with _states_lock:
        state = _states.get(box)
        if state is None:
            state = _states[box] = _BoxState()
        return state


def _files_with(program: Path, package_root: Path) -> list[Path]:
    """The program and, unless it sits at the package root, the files next to it (bounded)."""
    if program.parent == package_root:
        return [program]
    siblings: list[Path] = []
    total = 0
    for entry in sorted(os.scandir(program.parent), key=lambda e: e.name):
        if entry.is_file(follow_symlinks=False):
            total += entry.stat(follow_symlinks=False).st_size
            siblings.append(Path(entry.path))
    if len(siblings) > SIBLING_MAX_FILES or total > SIBLING_MAX_BYTES:
        return [program]
    return siblings


def _prepare(ctx: GradingContext, box: Sandbox, program: Path) -> _Prepared:
    """Copy the checker in (and compile it) once per trusted sandbox."""
    state = _state(box)
    key = str(program)
    with state.lock:
        if key not in state.prepared:
            state.prepared[key] = _install(ctx, box, program, key)
        return state.prepared[key]


def _install(ctx: GradingContext, box: Sandbox, program: Path, key: str) -> _Prepared:
    data = program.read_bytes()
    folder = "checker-" + hashlib.sha256(key.encode() + data).hexdigest()[:16]
    entries = [WorkspaceEntry(folder, EntryKind.DIR, mode=0o755)]
    for path in _files_with(program, ctx.package.root):
        mode = 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644
        entries.append(
            WorkspaceEntry(f"{folder}/{path.name}", EntryKind.FILE, path.read_bytes(), mode=mode)
        )
    box.add_entries(entries)
    suffix = program.suffix
    if suffix == ".py":
        prepared = _Prepared(("python3", f"{folder}/{program.name}"))
    elif suffix in _COMPILED:
        compiler = (*_COMPILED[suffix][1], program.name)
        result = box.run(compiler, cwd=folder, limits=ctx.package.build_limits)
        if result.ok:
            prepared = _Prepared((f"./{folder}/{BINARY}",))
        else:
            log = decode(result.stdout + result.stderr, DETAIL_CHARS)
            why = f"the checker {program.name} does not compile ({describe_run(result)})"
            prepared = _Prepared(error=f"{why}:\n{log}")
    else:
        prepared = _Prepared((f"./{folder}/{program.name}",))
    return prepared


def _judge_message(box: Sandbox, path: str) -> str:
    try:
        data = box.read_file(path, max_bytes=MESSAGE_READ_BYTES)
    except WorkspacePathError:
        return ""  # not written (or absurdly long): no message
    return decode(data, MESSAGE_CHARS).strip()


def run_custom_checker(
    ctx: GradingContext, spec: CustomSpec, *, input_data: bytes, answer: bytes, output: bytes
) -> CheckResult:
    """Judge ``output`` with the instructor's checker; ``error`` set if the checker failed."""
    program = ctx.package.path(spec.program, key="checker.program")
    box = ctx.trusted_sandbox(checker_environment(spec.program, ctx.package.environment))
    prepared = _prepare(ctx, box, program)
    if prepared.error is not None:
        return CheckResult(False, FAILED, error=prepared.error)
    # Each thread has its own input/answer slot (tests of a submission may overlap);
    # the feedback directory is fresh for every call.
    slot = f"io/{threading.get_ident()}"
    feedback = f"{slot}/feedback-{secrets.token_hex(6)}"
    box.add_entries(
        [
            WorkspaceEntry("io", EntryKind.DIR, mode=0o755),
            WorkspaceEntry(slot, EntryKind.DIR, mode=0o755),
            WorkspaceEntry(f"{slot}/input", EntryKind.FILE, input_data, mode=0o444),
            WorkspaceEntry(f"{slot}/answer", EntryKind.FILE, answer, mode=0o444),
            WorkspaceEntry(feedback, EntryKind.DIR, mode=0o755),
        ]
    )
    argv = (*prepared.argv, f"{slot}/input", f"{slot}/answer", f"{feedback}/", *spec.args)
    result = box.run(
        argv, stdin=output, limits=ctx.package.limits, output_policy=OutputPolicy.TRUNCATE
    )
    message = _judge_message(box, f"{feedback}/{JUDGE_MESSAGE}")
    if result.termination is Termination.EXITED and result.exit_code == ACCEPT_EXIT:
        return CheckResult(True, message)
    if result.termination is Termination.EXITED and result.exit_code == REJECT_EXIT:
        return CheckResult(False, message or "wrong answer")
    stderr = decode(result.stderr[-DETAIL_CHARS:], DETAIL_CHARS)
    detail = (
        f"the checker {spec.program} {describe_run(result)} "
        f"(expected exit status {ACCEPT_EXIT} or {REJECT_EXIT})"
    )
    if message:
        detail += f"\njudgemessage.txt: {message}"
    if stderr.strip():
        detail += f"\nstderr:\n{stderr}"
    return CheckResult(False, FAILED, error=detail)
