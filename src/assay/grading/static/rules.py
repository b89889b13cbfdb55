"""What a scanner finds (``Use``) and how blacklist and whitelist entries match it.

Names are dotted for Python and Java (``os.system``) and ``::``-qualified for
C and C++ (``std::system``). An entry matches a name when it is equal to it or
a prefix of it at a separator (``os`` blocks ``os.system``); an entry that
starts with a dot (``.sort``) matches a method of that name on any object.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Language(StrEnum):
    PYTHON = "python"
    C = "c"
    CPP = "cpp"
    JAVA = "java"


class UseKind(StrEnum):
    IMPORT = "import"  # import os / from os import system / #include is not tracked
    STAR_IMPORT = "star_import"  # from os import *
    DYNAMIC_IMPORT = "dynamic_import"  # __import__("os"), importlib.import_module("os")
    COMPUTED_IMPORT = "computed_import"  # __import__(name): the module cannot be known
    DYNAMIC_ATTRIBUTE = "dynamic_attribute"  # getattr(os, "system")
    CALL = "call"  # a call of a library (non-local) name: print(), os.system()
    REFERENCE = "reference"  # a library name used without a call: key=len, f = eval
    METHOD = "method"  # a call or use of a method of an unknown object: xs.sort()
    SYMBOL = "symbol"  # an undefined symbol of a compiled object (nm)


@dataclass(frozen=True)
class Use:
    """One use of a name in a student's file."""

    name: str
    kind: UseKind
    file: str
    line: int | None = None
    column: int | None = None
    detail: str = ""  # how it was written, when that differs from the name


def _separator(language: Language) -> str:
    return "::" if language in (Language.C, Language.CPP) else "."


def normalise(name: str, language: Language) -> str:
    """The comparable form of a name or an entry."""
    name = name.strip()
    if language in (Language.C, Language.CPP):
        name = name.removeprefix("::").removeprefix("std::")
    elif language is Language.JAVA:
        name = name.replace("()", "").replace(" ", "")
    elif language is Language.PYTHON:
        for prefix in ("builtins.", "__builtins__."):
            name = name.removeprefix(prefix)
    return name


def matches(entry: str, name: str, language: Language) -> bool:
    """Whether a blacklist or whitelist ``entry`` covers ``name``."""
    entry, name = normalise(entry, language), normalise(name, language)
    if not entry or not name:
        return False
    if entry.startswith("."):
        return name.endswith(entry)
    sep = _separator(language)
    if name == entry or name.startswith(entry + sep):
        return True
    if language is Language.JAVA:
        # java.util.Scanner also covers Scanner and Scanner.nextInt (imported simple names),
        # and exec covers Runtime.getRuntime().exec
        simple = entry.rsplit(".", 1)[-1]
        if "." in entry and simple[:1].isupper():
            return name == simple or name.startswith(simple + ".")
        return "." not in entry and name.endswith("." + entry)
    return False


def first_match(entries: tuple[str, ...], name: str, language: Language) -> str | None:
    for entry in entries:
        if matches(entry, name, language):
            return entry
    return None


def covers_module(entries: tuple[str, ...], module: str) -> bool:
    """A (Python) import is allowed when an entry names the module, a parent or a member of it."""
    return any(
        module == e or module.startswith(e + ".") or e.startswith(module + ".") for e in entries
    )


def where(file: str | None, line: int | None) -> str:
    """``main.c, line 12`` (or the parts that are known) for a student-facing message."""
    parts = [p for p in (file, f"line {line}" if line else None) if p]
    return ", ".join(parts)
