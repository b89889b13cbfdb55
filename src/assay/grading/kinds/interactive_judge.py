"""The instructor's judge of an interactive test: put in its own sandbox, compiled once.

A judge is a file (``.py`` runs with python3; ``.c``/``.cc``/``.cpp`` is
compiled; anything else must be executable) copied with the files next to
it, or a directory (a Kattis ``output_validators/<name>/``) whose C or C++
sources are compiled together, or whose one Python file is run. It is put
into ``ctx.trusted_sandbox`` (a session apart from the student's) and built
once per sandbox, so once per grading, whatever the number of tests.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from weakref import WeakKeyDictionary

from assay.grading.context import GradingContext
from assay.grading.outcome import decode, describe_run
from assay.sandbox.base import EntryKind, WorkspaceEntry
from assay.sandbox.environments import Environment, get_environment
from assay.sandbox.session import WORKSPACE, Sandbox

BINARY = "judge.bin"
MAX_FILES = 64
MAX_BYTES = 16 * 1024 * 1024
LOG_CHARS = 4000
PYTHON_NAMES = ("validator.py", "interactor.py", "judge.py", "main.py")
C_SOURCES = (".c",)
CPP_SOURCES = (".cc", ".cpp", ".cxx", ".C", ".c++")
# as problemtools compiles (less -static): (before the sources, after them)
_COMPILERS = {
    "c": (("gcc", "-O2", "-std=gnu17", "-o", BINARY), ("-lm",)),
    "cpp": (("g++", "-O2", "-std=gnu++23", "-o", BINARY), ()),
}


@dataclass(frozen=True)
class JudgeProgram:
    """What to copy and how to build and start a judge (read from the package at load time)."""

    files: tuple[Path, ...]  # copied into one folder of the judge's sandbox
    language: str  # "python3", "c", "cpp" or "" (an executable)
    main: str  # the file run (python3, executable) or "" (compiled sources)
    sources: tuple[str, ...] = ()  # compiled together (c, cpp)

    @property
    def environment_name(self) -> str | None:
        return self.language or None


def _listing(folder: Path) -> list[Path]:
    return sorted(
        Path(e.path)
        for e in os.scandir(folder)
        if e.is_file(follow_symlinks=False) and not e.name.startswith(".")
    )


def _bounded(files: list[Path]) -> bool:
    return len(files) <= MAX_FILES and sum(f.stat().st_size for f in files) <= MAX_BYTES


def read_judge(path: Path, package_root: Path) -> JudgeProgram | str:
    """The judge at ``path``, or why it cannot be one (a load-time message)."""
    if path.is_dir():
        return _read_dir(path)
    if not path.is_file():
        return "is neither a file nor a directory"
    files = [path] if path.parent == package_root else _listing(path.parent)
    if not _bounded(files):
        files = [path]
    suffix = path.suffix
    if suffix == ".py":
        return JudgeProgram(tuple(files), "python3", path.name)
    if suffix in C_SOURCES or suffix in CPP_SOURCES:
        return JudgeProgram(tuple(files), _language(suffix), "", (path.name,))
    if not path.stat().st_mode & stat.S_IXUSR:
        return "is neither a .py, .c, .cc nor .cpp file nor an executable"
    return JudgeProgram(tuple(files), "", path.name)


def _language(suffix: str) -> str:
    return "c" if suffix in C_SOURCES else "cpp"


def _read_dir(folder: Path) -> JudgeProgram | str:
    files = _listing(folder)
    if not files:
        return "is an empty directory"
    if not _bounded(files):
        return f"holds more than {MAX_FILES} files or {MAX_BYTES // (1024 * 1024)} MiB"
    cpp = [f.name for f in files if f.suffix in CPP_SOURCES]
    c = [f.name for f in files if f.suffix in C_SOURCES]
    if cpp:  # a C++ program: its C++ files (C files next to them are not compiled)
        return JudgeProgram(tuple(files), "cpp", "", tuple(cpp))
    if c:
        return JudgeProgram(tuple(files), "c", "", tuple(c))
    python = [f.name for f in files if f.suffix == ".py"]
    if len(python) > 1:
        python = [name for name in PYTHON_NAMES if name in python][:1]
    if len(python) == 1:
        return JudgeProgram(tuple(files), "python3", python[0])
    return "holds no C, C++ or Python judge (or several .py files, none named validator.py)"


def judge_environment(program: JudgeProgram, name: str | None, default: Environment) -> Environment:
    """The environment the judge runs in: the one named, else by its language."""
    chosen = name or program.environment_name
    return get_environment(chosen) if chosen else default


@dataclass(frozen=True)
class PreparedJudge:
    argv: tuple[str, ...] = ()  # absolute paths inside the judge's sandbox
    folder: str = ""
    error: str | None = None  # it cannot run (e.g. does not compile): a staff-only message


class _BoxState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.prepared: dict[str, PreparedJudge] = {}


_states: WeakKeyDictionary[Sandbox, _BoxState] = WeakKeyDictionary()
_states_lock = threading.Lock()


def prepare_judge(ctx: GradingContext, box: Sandbox, program: JudgeProgram) -> PreparedJudge:
    """Copy the judge into ``box`` and build it, once per sandbox."""
    with _states_lock:
        state = _states.get(box)
        if state is None:
            state = _states[box] = _BoxState()
    digest = hashlib.sha256()
    for path in program.files:
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    key = digest.hexdigest()[:16]
    with state.lock:
        if key not in state.prepared:
            state.prepared[key] = _install(ctx, box, program, f"judge-{key}")
        return state.prepared[key]


def _install(
    ctx: GradingContext, box: Sandbox, program: JudgeProgram, folder: str
) -> PreparedJudge:
    # owned by the sandbox's root and read-only: the judge itself cannot change its own program
    entries = [WorkspaceEntry(folder, EntryKind.DIR, mode=0o755, owner_root=True)]
    for path in program.files:
        mode = 0o555 if path.stat().st_mode & stat.S_IXUSR else 0o444
        entries.append(
            WorkspaceEntry(
                f"{folder}/{path.name}",
                EntryKind.FILE,
                path.read_bytes(),
                mode=mode,
                owner_root=True,
            )
        )
    box.add_entries(entries)
    where = f"{WORKSPACE}/{folder}"
    if program.language == "python3":
        return PreparedJudge(("python3", f"{where}/{program.main}"), folder)
    if program.language in _COMPILERS:
        build = f"build-{folder}"
        box.add_entries([WorkspaceEntry(build, EntryKind.DIR, mode=0o755)])
        sources = [f"{where}/{name}" for name in program.sources]
        before, after = _COMPILERS[program.language]
        compiler = (*before, *sources, *after)
        result = box.run(compiler, cwd=build, limits=ctx.package.build_limits)
        if not result.ok:
            log = decode(result.stdout + result.stderr, LOG_CHARS)
            why = f"the judge does not compile ({describe_run(result)})"
            return PreparedJudge(folder=folder, error=f"{why}:\n{log}")
        return PreparedJudge((f"{WORKSPACE}/{build}/{BINARY}",), folder)
    return PreparedJudge((f"{where}/{program.main}",), folder)
