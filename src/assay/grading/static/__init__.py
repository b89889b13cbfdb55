"""Static checks: blacklisted and whitelisted functions and imports (picobytes).

``check_sources`` reads the submission before anything runs: Python with
``ast``, C/C++/Java with a token scan. ``check_build`` reads, for C and C++,
the undefined symbols of what the student's build compiled (``nm`` inside
their sandbox), which macros cannot hide. See docs/static-checks.md.
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from assay.errors import WorkspacePathError
from assay.grading.outcome import StaticFinding
from assay.grading.spec import StaticSpec
from assay.grading.static.clike import scan_c, scan_java
from assay.grading.static.findings import (
    BLACKLIST,
    WHITELIST,
    Context,
    blacklisted,
    not_whitelisted,
    symbol_findings,
)
from assay.grading.static.python import UncheckableSource, scan_python
from assay.grading.static.rules import Language, Use, UseKind, normalise
from assay.grading.static.symbols import compiled_files, list_workspace, read_symbols

if TYPE_CHECKING:
    from assay.grading.context import GradingContext

MAX_FILE_BYTES = 1024 * 1024
MAX_FINDINGS = 200
MAX_FINDINGS_PER_NAME = 20
DEFAULT_FILES: Mapping[str, tuple[str, ...]] = {
    "python3": ("*.py",),
    "c": ("*.c", "*.h"),
    "cpp": ("*.cpp", "*.cc", "*.cxx", "*.hpp", "*.hh", "*.h", "*.c"),
    "java": ("*.java",),
}
COMPILED_PYTHON = (".pyc", ".pyo", ".so", ".pyd")
_C_SOURCES = (".c", ".cpp", ".cc", ".cxx")
_SUFFIXES = {
    ".py": Language.PYTHON,
    ".java": Language.JAVA,
    ".c": Language.C,
    ".cpp": Language.CPP,
    ".cc": Language.CPP,
    ".cxx": Language.CPP,
    ".hpp": Language.CPP,
    ".hh": Language.CPP,
}


def language_of(path: str, environment: str) -> Language | None:
    suffix = PurePosixPath(path).suffix.lower()
    if suffix == ".h":
        return Language.CPP if environment == "cpp" else Language.C
    return _SUFFIXES.get(suffix)


def selected(path: str, spec: StaticSpec, environment: str) -> bool:
    """Whether a file is checked: ``[static] files`` globs, else the environment's sources.

    A pattern without ``/`` matches the file name in any directory.
    """
    patterns = spec.files or DEFAULT_FILES.get(environment, ())
    name = path.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatchcase(path, p) or ("/" not in p and fnmatch.fnmatchcase(name, p))
        for p in patterns
    )


@dataclass
class _Scanned:
    """The uses of the checked files, by language, and what cannot be checked."""

    uses: dict[Language, list[Use]] = field(default_factory=dict)
    definitions: set[str] = field(default_factory=set)
    mentions: dict[str, list[Use]] = field(default_factory=dict)  # C/C++ identifiers
    unchecked: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)


def _scan(files: Mapping[str, bytes], spec: StaticSpec, environment: str) -> _Scanned:
    scanned = _Scanned()
    for path in sorted(files):
        data = files[path]
        if environment == "python3" and path.endswith(COMPILED_PYTHON):
            scanned.unchecked.append((path, "compiled Python code cannot be checked"))
            continue
        language = language_of(path, environment)
        if language is None or not selected(path, spec, environment):
            continue
        if len(data) > MAX_FILE_BYTES:
            scanned.unchecked.append((path, "the file is too large to be checked"))
            continue
        uses = scanned.uses.setdefault(language, [])
        if language is Language.PYTHON:
            try:
                result = scan_python(data, path)
            except UncheckableSource:
                scanned.unchecked.append((path, "the code is nested too deeply to be checked"))
                continue
            uses.extend(result.uses if result else ())
        elif language is Language.JAVA:
            java = scan_java(data, path)
            uses.extend(java.uses)
            scanned.definitions |= java.definitions
        else:
            code = scan_c(data, path, language)
            uses.extend(code.uses)
            scanned.definitions |= code.definitions
            for name, (line, column) in code.mentions.items():
                mention = Use(name, UseKind.REFERENCE, path, line, column)
                scanned.mentions.setdefault(name, []).append(mention)
    return scanned


def _local_modules(files: Mapping[str, bytes]) -> frozenset[str]:
    """Top-level Python modules and packages of the submission (never a standard one's name:
    ``os`` is already loaded when a program starts, so a student's ``os.py`` is not it)."""
    tops = set()
    for path in files:
        if path.endswith(".py"):
            first = path.split("/", 1)[0]
            tops.add(first.removesuffix(".py"))
    return frozenset(tops - sys.stdlib_module_names - {"builtins", "__main__"})


def _judge(scanned: _Scanned, spec: StaticSpec, ctx: Context) -> list[StaticFinding]:
    out: list[StaticFinding] = []
    rule = BLACKLIST if spec.blacklist else WHITELIST
    for path, reason in scanned.unchecked:
        out.append(StaticFinding(path, rule, f"{path}: {reason}; submit plain source files", path))
    for language, uses in scanned.uses.items():
        for use in sorted(uses, key=lambda u: (u.file, u.line or 0, u.column or 0)):
            for finding in (blacklisted(use, language, ctx), not_whitelisted(use, language, ctx)):
                if finding is not None:
                    out.append(finding)
    return out


def _bounded(findings: list[StaticFinding]) -> list[StaticFinding]:
    """One finding per name and place, at most ``MAX_FINDINGS_PER_NAME`` per name."""
    out: list[StaticFinding] = []
    seen: set[tuple[str, str | None, int | None]] = set()
    per_name: dict[str, int] = {}
    for f in findings:
        key = (f.name, f.file, f.line)
        if key in seen or per_name.get(f.name, 0) >= MAX_FINDINGS_PER_NAME:
            continue
        seen.add(key)
        per_name[f.name] = per_name.get(f.name, 0) + 1
        out.append(f)
    return out[:MAX_FINDINGS]


def check_sources(
    spec: StaticSpec, environment: str, files: Mapping[str, bytes]
) -> list[StaticFinding]:
    """Findings from the submission's source files, before anything is built or run."""
    if not spec.enabled:
        return []
    scanned = _scan(files, spec, environment)
    ctx = Context(spec, _local_modules(files), frozenset(scanned.definitions))
    return _bounded(_judge(scanned, spec, ctx))


def check_build(spec: StaticSpec, environment: str, ctx: GradingContext) -> list[StaticFinding]:
    """C and C++: findings from the undefined symbols of the student's compiled files.

    Names the source scan already reported are not repeated; what is new
    here is what the source hides (macros, token pasting, prebuilt objects).
    """
    if not spec.enabled or environment not in ("c", "cpp"):
        return []
    language = Language.CPP if environment == "cpp" else Language.C
    workspace, listed = list_workspace(ctx)
    student: dict[str, bytes] = {}
    instructor: dict[str, bytes] = {}
    for entry in workspace:
        if language_of(entry.path, environment) in (Language.C, Language.CPP):
            data = _read(ctx, entry.path)
            if data is not None:
                (student if entry.student else instructor)[entry.path] = data
    scanned = _scan(
        {p: d for p, d in student.items() if selected(p, spec, environment)}, spec, environment
    )
    judge_ctx = Context(spec, definitions=frozenset(scanned.definitions))
    already = {f.name for f in _judge(scanned, spec, judge_ctx) if f.rule == BLACKLIST}
    # objects built from the instructor's own sources (not headers) are not the student's
    instructor_stems = {
        p.rsplit(".", 1)[0].rsplit("/", 1)[-1] for p in instructor if p.endswith(_C_SOURCES)
    }
    paths, all_listed = compiled_files(workspace)
    paths = [p for p in paths if p.rsplit("/", 1)[-1].rsplit(".", 1)[0] not in instructor_stems]
    objects, read_all = read_symbols(ctx, paths)
    source_uses: dict[str, list[Use]] = {}
    languages = {language, Language.C}
    for use in (u for lang in languages for u in scanned.uses.get(lang, [])):
        if use.kind is UseKind.CALL:
            source_uses.setdefault(normalise(use.name, language), []).append(use)
    for name, mentions in scanned.mentions.items():
        source_uses.setdefault(normalise(name, language), []).extend(mentions)
    instructor_calls = frozenset(
        normalise(u.name, language)
        for path, data in instructor.items()
        for u in scan_c(data, path, language).uses
    )
    found = symbol_findings(
        objects,
        language,
        judge_ctx,
        source_uses=source_uses,
        already=already,
        instructor_calls=instructor_calls,
    )
    if not (listed and all_listed and read_all):
        rule = BLACKLIST if spec.blacklist else WHITELIST
        message = (
            "some compiled files could not be checked (too many, too large, oddly named, "
            "or in a directory that cannot be read)"
        )
        found.append(StaticFinding("<unchecked>", rule, message))
    return _bounded(found)


def _read(ctx: GradingContext, path: str) -> bytes | None:
    try:
        return ctx.sandbox.read_file(path, max_bytes=MAX_FILE_BYTES)
    except WorkspacePathError:
        return None


__all__ = ["check_build", "check_sources", "language_of", "selected"]
