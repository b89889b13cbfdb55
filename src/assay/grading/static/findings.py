"""Uses and symbols judged against the blacklist and whitelist: student-facing findings.

Blacklist: any use matching an entry is a finding named after the entry (so
``deduct`` takes points once per entry). Whitelist: a finding per library
name used that no entry covers; what it covers differs by language (see
docs/static-checks.md). Names the student's own code defines are always
allowed.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from assay.grading.outcome import StaticFinding
from assay.grading.spec import StaticSpec
from assay.grading.static.rules import (
    Language,
    Use,
    UseKind,
    covers_module,
    first_match,
    normalise,
    where,
)
from assay.grading.static.symbols import (
    COMPILER_INTRODUCED,
    HEADER_INLINED,
    NEEDS_SOURCE,
    OBJECT_SUFFIXES,
    ObjectSymbols,
    is_runtime_internal,
)

BLACKLIST, WHITELIST = "blacklist", "whitelist"
_ALWAYS_ALLOWED_PY = frozenset(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
)
_PY_IMPORT_KINDS = (UseKind.IMPORT, UseKind.DYNAMIC_IMPORT)
_PY_CALL_KINDS = (UseKind.CALL, UseKind.DYNAMIC_ATTRIBUTE)


@dataclass(frozen=True)
class Context:
    """What the judge needs besides the uses: the spec and the student's own names."""

    spec: StaticSpec
    local_modules: frozenset[str] = frozenset()  # Python modules of the submission
    definitions: frozenset[str] = frozenset()  # functions the student's C/C++/Java defines


def _allowed_list(spec: StaticSpec) -> str:
    names = ", ".join(f"`{n}`" for n in spec.whitelist[:12])
    return names + (", ..." if len(spec.whitelist) > 12 else "")


def _shown(use: Use) -> str:
    if use.kind is UseKind.METHOD:
        return f"the method `{use.name.lstrip('.')}`"
    return f"`{use.detail or use.name}`"


def blacklisted(use: Use, language: Language, ctx: Context) -> StaticFinding | None:
    entries = ctx.spec.blacklist
    if not entries or (language is not Language.PYTHON and _is_own(use, language, ctx)):
        return None  # (a module file of the student's cannot make a library name its own)
    place = where(use.file, use.line)
    if use.kind is UseKind.STAR_IMPORT:
        module = use.name
        entry = next(
            (e for e in entries if covers_module((e,), module) and not e.startswith(".")), None
        )
        if entry is None:
            return None
        message = f"{place}: `from {module} import *` brings in `{entry}`, which is not allowed"
        return _finding(entry, BLACKLIST, message + " in this assignment", use)
    if use.kind is UseKind.COMPUTED_IMPORT:
        message = (
            f"{place}: `{use.name}(...)` imports a module whose name is only known when the "
            "program runs, so it cannot be checked; import modules by name in this assignment"
        )
        return _finding(use.name, BLACKLIST, message, use)
    entry = first_match(entries, use.name, language)
    if entry is None:
        return None
    what = f"importing `{use.name}`" if use.kind in _PY_IMPORT_KINDS else _shown(use)
    message = f"{place}: {what} is not allowed in this assignment"
    if normalise(entry, language) != normalise(use.name, language):
        message += f" (nothing from `{entry}` may be used)"
    return _finding(entry, BLACKLIST, message, use)


def not_whitelisted(use: Use, language: Language, ctx: Context) -> StaticFinding | None:
    entries = ctx.spec.whitelist
    if not entries or _is_own(use, language, ctx) or use.name.startswith("__future__."):
        return None
    place = where(use.file, use.line)
    if use.kind in (*_PY_IMPORT_KINDS, UseKind.STAR_IMPORT) or (
        language is Language.JAVA and use.kind is UseKind.REFERENCE
    ):
        if covers_module(entries, use.name.removesuffix(".*")):
            return None
        message = f"{place}: importing `{use.name}` is not allowed in this assignment"
    elif _whitelist_checks(use, language):
        if first_match(entries, use.name, language) or use.name in _ALWAYS_ALLOWED_PY:
            return None
        message = f"{place}: {_shown(use)} is not allowed in this assignment"
    else:
        return None
    return _finding(use.name, WHITELIST, f"{message} (allowed: {_allowed_list(ctx.spec)})", use)


def _whitelist_checks(use: Use, language: Language) -> bool:
    if language is Language.PYTHON:
        return use.kind in _PY_CALL_KINDS and not _is_dunder(use.name)
    if language in (Language.C, Language.CPP):
        # the objects' symbols are the authority; the source only for names a compiler adds
        return use.kind is UseKind.CALL and normalise(use.name, language) in COMPILER_INTRODUCED
    return False


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__") and name != "__import__"


def _is_own(use: Use, language: Language, ctx: Context) -> bool:
    """The student's own modules and functions are never restricted."""
    if language is Language.PYTHON:
        top = use.name.split(".")[0]
        return bool(top) and top in ctx.local_modules and use.kind is not UseKind.STAR_IMPORT
    if use.kind not in (UseKind.CALL, UseKind.METHOD) or use.detail.startswith("new "):
        return False
    # an unqualified call may be one of the student's methods; ::f and std::f are not
    return use.name.lstrip(".") in ctx.definitions and not use.detail.startswith("::")


def symbol_findings(
    objects: Iterable[ObjectSymbols],
    language: Language,
    ctx: Context,
    *,
    source_uses: Mapping[str, list[Use]],
    already: set[str],
    instructor_calls: frozenset[str],
) -> list[StaticFinding]:
    """Findings from undefined symbols that the source scan did not already report.

    ``source_uses``: the student's call uses by normalised name (to place a
    finding and to confirm names a compiler may add); ``already``: entries
    the source scan reported; ``instructor_calls``: names the instructor's
    own sources call (their uses inside a linked program are not the student's).
    """
    objects = list(objects)
    defined = set(ctx.definitions).union(*(o.defined for o in objects))
    has_objects = any(o.path.endswith(OBJECT_SUFFIXES) for o in objects)
    out: list[StaticFinding] = []
    seen: set[str] = set(already)
    for obj in objects:
        program = not obj.path.endswith(OBJECT_SUFFIXES)
        for symbol in sorted(obj.undefined - defined):
            if program and symbol in instructor_calls:
                continue
            entry = first_match(ctx.spec.blacklist, symbol, language)
            named = normalise(symbol, language) in source_uses
            if entry is not None and entry not in seen and (named or symbol not in NEEDS_SOURCE):
                seen.add(entry)
                out.append(_symbol_finding(entry, BLACKLIST, symbol, obj.path, source_uses))
            shown = _written_as(symbol, source_uses)
            if (
                ctx.spec.whitelist
                and not (program and has_objects)  # the objects say it better
                and not is_runtime_internal(symbol)
                and symbol not in COMPILER_INTRODUCED
                and first_match(ctx.spec.whitelist, symbol, language) is None
                and first_match(ctx.spec.whitelist, shown, language) is None
                and shown not in seen
            ):
                seen.add(shown)
                out.append(_symbol_finding(shown, WHITELIST, shown, obj.path, source_uses))
    return out


def _written_as(symbol: str, source_uses: Mapping[str, list[Use]]) -> str:
    """The name the source wrote for ``symbol`` (``atoi`` for ``strtol``), if it wrote one."""
    if symbol in source_uses:
        return symbol
    return next((a for a in HEADER_INLINED.get(symbol, ()) if a in source_uses), symbol)


def _symbol_finding(
    name: str, rule: str, symbol: str, compiled: str, source_uses: Mapping[str, list[Use]]
) -> StaticFinding:
    """Placed where the source calls or names ``symbol``, else at the object's source file."""
    stem = compiled.rsplit(".", 1)[0]
    uses = sorted(
        source_uses.get(normalise(symbol, Language.CPP), []),
        key=lambda u: (u.file.rsplit(".", 1)[0] != stem, u.file, u.line or 0),
    )
    use = uses[0] if uses else None
    sources = {u.file for found in source_uses.values() for u in found}
    file = (
        use.file if use else next((f for f in sorted(sources) if f.rsplit(".", 1)[0] == stem), None)
    )
    line = use.line if use else None
    place = where(file, line) or compiled
    message = (
        f"{place}: `{symbol}` is used by the compiled program ({compiled}) "
        "and is not allowed in this assignment"
    )
    return StaticFinding(name, rule, message, file or compiled, line, use.column if use else None)


def _finding(name: str, rule: str, message: str, use: Use) -> StaticFinding:
    return StaticFinding(name, rule, message, use.file, use.line, use.column)
