"""C and C++: the symbols the student's compiled objects use, read with ``nm``.

``nm`` runs inside the student's sandbox (after the build, before any test),
on the object files, archives and executables the student's build left in
the workspace. Its output is untrusted: the sections of each file are cut by
a random marker the student cannot know in advance, lines are parsed
defensively and everything is bounded.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assay.errors import GradingError
from assay.sandbox.spec import MIB, Limits, OutputPolicy

if TYPE_CHECKING:
    from assay.grading.context import GradingContext

MAX_FILES = 200
MAX_SYMBOLS_PER_FILE = 20_000
NM_LIMITS = Limits(cpu_time_s=30, wall_time_s=60, memory_bytes=512 * MIB, output_bytes=32 * MIB)
OBJECT_SUFFIXES = (".o", ".obj", ".a", ".so")
NOT_PROGRAMS = (".c", ".h", ".cpp", ".cc", ".cxx", ".hpp", ".hh", ".py", ".sh", ".txt", ".md")

# Names a compiler emits on its own (printf("x\n") becomes puts, a struct copy memcpy,
# strcat strlen + memcpy): a use of one is only the student's when their source calls it.
COMPILER_INTRODUCED = frozenset(
    {"memcpy", "memmove", "memset", "memcmp", "puts", "putchar", "fputs", "fputc", "fwrite"}
    | {"strlen", "strcpy", "stpcpy", "abort"}
)
# Functions glibc's headers implement inline with another: atoi(s) compiles to strtol.
HEADER_INLINED: dict[str, tuple[str, ...]] = {
    "strtol": ("atoi", "atol"),
    "strtoll": ("atoll",),
    "strtod": ("atof",),
    "getc": ("getchar", "fgetc"),
    "_IO_getc": ("getchar", "fgetc"),
    "putc": ("putchar", "fputc"),
    "_IO_putc": ("putchar", "fputc"),
}
# Symbols that count for a blacklist only when the source names them too.
NEEDS_SOURCE = COMPILER_INTRODUCED | frozenset(HEADER_INLINED)
# C++ runtime and standard library: outside what a whitelist restricts.
_CPP_RUNTIME = (
    "std::",
    "__gnu_cxx::",
    "__cxxabiv1::",
    "operator new",
    "operator delete",
    "typeinfo for ",
    "typeinfo name for ",
    "vtable for ",
    "VTT for ",
    "construction vtable for ",
    "guard variable for ",
    "non-virtual thunk to ",
    "virtual thunk to ",
)
_SYMBOL_LINE = re.compile(r"(?:[0-9a-fA-F]+)?\s+(?P<type>[A-Za-z?-])\s+(?P<name>\S.*)$")
_OPERATORS: tuple[str, ...] = (
    *("operator<<=", "operator>>=", "operator<<", "operator>>", "operator<=>"),
    *("operator<=", "operator>=", "operator->*", "operator->", "operator<", "operator>"),
)


@dataclass
class ObjectSymbols:
    """What one compiled file needs (undefined) and provides (defined)."""

    path: str
    undefined: set[str] = field(default_factory=set)
    defined: set[str] = field(default_factory=set)
    complete: bool = True  # False when its listing was cut short


def normalise_symbol(raw: str) -> str:
    """``system@GLIBC_2.2.5`` -> ``system``; ``__printf_chk`` -> ``printf``;
    ``std::thread::join()`` -> ``std::thread::join``."""
    name = raw.strip()
    name = re.sub(r"\s*\[clone [^\]]*\]$", "", name)
    if "(" not in name:
        name = name.split("@", 1)[0]
    for prefix in ("__isoc99_", "__isoc23_"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    fortified = re.fullmatch(r"__(\w+)_chk", name)
    if fortified:
        name = fortified.group(1)
    if "(" in name or "<" in name:
        name = _strip_signature(name)
    return name


def _strip_signature(name: str) -> str:
    """Drop template arguments, parameters and the return type of a demangled name."""
    saved: dict[str, str] = {}
    for index, operator in enumerate(_OPERATORS):
        if operator in name:
            key = f"\x00{index}\x00"
            saved[key] = operator
            name = name.replace(operator, key)
    out: list[str] = []
    depth = 0
    for char in name:
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(char)
    plain = "".join(out).strip()
    for suffix in (" const", " volatile", " &", " &&"):
        plain = plain.removesuffix(suffix)
    plain = plain.rsplit(" ", 1)[-1] if " " in plain and "operator" not in plain else plain
    for key, operator in saved.items():
        plain = plain.replace(key, operator)
    return plain


def is_runtime_internal(name: str) -> bool:
    """Names of the C/C++ runtime that no whitelist lists: reserved names, the C++ library."""
    if name.startswith("__") or (len(name) > 1 and name[0] == "_" and name[1].isupper()):
        return True
    return name.startswith(".") or name.startswith(_CPP_RUNTIME)


def parse_nm(text: str) -> tuple[set[str], bool]:
    """The symbol names of one ``nm`` listing and whether it was complete (not too long)."""
    names: set[str] = set()
    for line in text.splitlines():
        match = _SYMBOL_LINE.match(line[:4096])
        if match is None:
            continue
        if len(names) >= MAX_SYMBOLS_PER_FILE:
            return names, False
        names.add(normalise_symbol(match.group("name")))
    return names, True


@dataclass(frozen=True)
class WorkspaceFile:
    path: str
    mode: int
    student: bool  # owned by the student (their files and their build's output)


def list_workspace(ctx: GradingContext) -> tuple[list[WorkspaceFile], bool]:
    """Every regular file of the workspace (instructor harness dirs aside), and whether
    the listing is complete (bounded; names that are not UTF-8 cannot be checked)."""
    result = ctx.run_student(
        [
            "sh",
            "-c",
            'id -u; exec find . -path "./.assay-*" -prune -o -type f -printf "%U %m %p\\0"',
        ],
        limits=NM_LIMITS,
        output_policy=OutputPolicy.TRUNCATE,
    )
    if result.exit_code == 127:
        raise GradingError("listing the workspace failed: find is not available")
    uid_line, _, listing = result.stdout.partition(b"\n")
    # a directory the student made unreadable, or too many files: some files were not seen
    complete = result.ok and len(result.stdout) < NM_LIMITS.output_bytes
    files: list[WorkspaceFile] = []
    for record in listing.split(b"\0"):
        parts = record.split(b" ", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        try:
            path = parts[2].decode("utf-8").removeprefix("./")
        except UnicodeDecodeError:
            complete = False
            continue
        files.append(WorkspaceFile(path, int(parts[1], 8), parts[0] == uid_line.strip()))
    return files, complete


def compiled_files(files: Iterable[WorkspaceFile]) -> tuple[list[str], bool]:
    """The student's objects, archives and programs to read (objects first), and whether all fit."""
    found = [
        f.path
        for f in files
        if f.student
        and (
            f.path.endswith(OBJECT_SUFFIXES)
            or (f.mode & 0o100 and not f.path.endswith(NOT_PROGRAMS))
        )
    ]
    found.sort(key=lambda p: (not p.endswith(OBJECT_SUFFIXES), p))
    return found[:MAX_FILES], len(found) <= MAX_FILES


def read_symbols(ctx: GradingContext, paths: list[str]) -> tuple[list[ObjectSymbols], bool]:
    """The symbols of each compiled file, and whether every listing was complete."""
    if not paths:
        return [], True
    marker = secrets.token_hex(16)
    script = (
        'm="$1"; shift; for f do echo "$m U"; nm -u -C -- "$f" 2>/dev/null; '
        'nm -D -u -C -- "$f" 2>/dev/null; echo "$m D"; '
        'nm --defined-only -C -- "$f" 2>/dev/null; done; echo "$m END"'
    )
    result = ctx.run_student(
        ["sh", "-c", script, "sh", marker, *paths],
        limits=NM_LIMITS,
        output_policy=OutputPolicy.TRUNCATE,
    )
    if b"nm: not found" in result.stderr[:4096] or b"nm: command not found" in result.stderr[:4096]:
        raise GradingError("nm is not available in this environment")
    return _split(result.stdout.decode("utf-8", errors="replace"), marker, paths)


def _split(text: str, marker: str, paths: list[str]) -> tuple[list[ObjectSymbols], bool]:
    sections = re.split(rf"^{marker} (U|D|END)$", text, flags=re.MULTILINE)
    # ['', 'U', text, 'D', text, 'U', text, ..., 'END', '']
    pairs = list(zip(sections[1::2], sections[2::2], strict=False))
    out: list[ObjectSymbols] = []
    index = -1
    for kind, body in pairs:
        if kind == "U":
            index += 1
            if index >= len(paths):
                break
            out.append(ObjectSymbols(paths[index]))
            out[-1].undefined, out[-1].complete = parse_nm(body)
        elif kind == "D" and out:
            out[-1].defined, _ = parse_nm(body)
    finished = bool(pairs) and pairs[-1][0] == "END"
    if not finished and out:
        out[-1].complete = False
    complete = finished and len(out) == len(paths) and all(o.complete for o in out)
    return out, complete
