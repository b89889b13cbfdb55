"""Import a Kattis / ICPC problem package as an assignment package.

Samples become visible tests, secret data hidden ones (one point each); the
default validator's flags become a checker (``tokens``, ``exact`` or
``float``), a custom output validator a ``custom`` checker; one accepted
submission becomes the reference solution and the wrong answers known-bad
submissions. The result is loaded with ``load_package`` before returning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.errors import PackageError
from assay.grading.destination import prepare_destination
from assay.grading.kattis_problem import (
    SUFFIX_ENVIRONMENTS,
    Case,
    KattisProblem,
    default_checker,
    inside,
    java_class,
    kattis_error,
    read_problem,
)
from assay.grading.loader import load_package
from assay.grading.package import MANIFEST
from assay.grading.spec import NAME_PATTERN

SAMPLE_SHOWN_BYTES = 4096  # samples up to this size are quoted in the statement
MANAGED = ("assignment.toml", "statement.md", "tests", "checkers", "solution", "bad")


@dataclass(frozen=True)
class Language:
    environment: str
    main: str  # the file students submit
    build: tuple[tuple[str, ...], ...]
    run: tuple[str, ...]


def language_for(environment: str, java_class: str = "Main") -> Language:
    match environment:
        case "python3":
            return Language("python3", "main.py", (), ("python3", "main.py"))
        case "c":
            gcc = ("gcc", "-O2", "-std=gnu17", "-o", "main", "main.c", "-lm")
            return Language("c", "main.c", (gcc,), ("./main",))
        case "cpp":
            gxx = ("g++", "-O2", "-std=gnu++17", "-o", "main", "main.cpp")
            return Language("cpp", "main.cpp", (gxx,), ("./main",))
        case "java":
            javac = ("javac", "-encoding", "UTF-8", f"{java_class}.java")
            return Language("java", f"{java_class}.java", (javac,), ("java", java_class))
    raise PackageError(f"unknown language {environment!r}", fix="use python3, c, cpp or java")


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")[:64]
    if not re.fullmatch(NAME_PATTERN, slug):
        raise kattis_error(f"cannot make an assignment name from {text!r}", fix="pass a name")
    return slug


# -- writing the assignment package -------------------------------------------------------
def toml_value(value: Any) -> str:
    """A TOML value (strings, numbers, booleans, lists and inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        out = []
        for char in value:
            if char in '"\\':
                out.append("\\" + char)
            elif ord(char) < 0x20 or ord(char) == 0x7F:
                out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char, f"\\u{ord(char):04x}"))
            else:
                out.append(char)
        return '"' + "".join(out) + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_value(key)


def _table(name: str, values: dict[str, Any], *, array: bool = False) -> str:
    head = f"[[{name}]]" if array else f"[{name}]"
    return head + "\n" + "".join(f"{_toml_key(k)} = {toml_value(v)}\n" for k, v in values.items())


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())


def _fenced(text: str, info: str = "") -> str:
    fence = "~~~~" if "```" in text else "```"
    return f"{fence}{info}\n{text.rstrip()}\n{fence}\n"


def _statement_md(problem: KattisProblem, lang: Language) -> str:
    parts = [f"# {problem.title}\n"]
    body = problem.statement
    if problem.statement_is_tex:
        parts.append(
            "The problem statement (LaTeX, as in the Kattis package):\n\n" + _fenced(body, "latex")
        )
    elif body.strip():
        parts.append(body.rstrip() + "\n")
    samples = [c for c in problem.cases if not c.hidden]
    for number, case in enumerate(samples, 1):
        data_in, data_ans = case.source.read_bytes(), case.source.with_suffix(".ans").read_bytes()
        if len(data_in) > SAMPLE_SHOWN_BYTES or len(data_ans) > SAMPLE_SHOWN_BYTES:
            continue
        parts.append(f"## Sample input {number}\n\n" + _fenced(data_in.decode(errors="replace")))
        parts.append(f"## Sample output {number}\n\n" + _fenced(data_ans.decode(errors="replace")))
    parts.append(
        f"## Submitting\n\nSubmit one file, `{lang.main}`. It reads standard input and writes "
        "standard output.\n"
    )
    return "\n".join(parts)


def _write_checker(root: Path, validator: Path, dest: Path) -> str:
    """Copy the validator (with the files of its own directory) in; its package path."""
    legacy_dir = root / "output_validators"
    if validator.parent == legacy_dir:  # a single-file program
        files, folder = [validator], Path("checkers")
    else:
        files = sorted(p for p in validator.parent.iterdir() if p.is_file())
        folder = Path("checkers") / validator.parent.name
    for file in files:
        _copy(inside(root, file), dest / folder / file.name)
    return (folder / validator.name).as_posix()


def _test_entry(case: Case, dest: Path, checker_path: str | None) -> dict[str, Any]:
    rel_in = Path("tests") / f"{case.name}.in"
    rel_ans = rel_in.with_suffix(".ans")
    _copy(case.source, dest / rel_in)
    _copy(case.source.with_suffix(".ans"), dest / rel_ans)
    checker: dict[str, Any]
    if checker_path is not None:
        checker = {"type": "custom", "program": checker_path, "args": list(case.flags)}
    else:
        checker = default_checker(case.flags)
    return {
        "name": case.name,
        "group": case.group,
        "visibility": "hidden" if case.hidden else "visible",
        "stdin_file": rel_in.as_posix(),
        "expected_file": rel_ans.as_posix(),
        "checker": checker,
    }


def _write_known_bad(problem: KattisProblem, dest: Path, lang: Language) -> list[str]:
    """Copy wrong answers of the assignment's language to bad/; their [[known_bad]] tables."""
    tables: list[str] = []
    used: set[str] = set()
    for bad in problem.wrong_answer:
        if SUFFIX_ENVIRONMENTS[bad.suffix] != lang.environment:
            continue
        if lang.environment == "java" and f"{java_class(bad)}.java" != lang.main:
            continue  # students submit one class name; this one uses another
        stem = re.sub(r"[^a-z0-9_-]+", "-", bad.stem.lower()).strip("-") or "bad"
        while stem in used:
            stem += "-2"
        used.add(stem)
        _copy(inside(problem.root, bad), dest / "bad" / stem / lang.main)
        why = f"Kattis submissions/wrong_answer/{bad.name}"
        tables.append(_table("known_bad", {"path": f"bad/{stem}", "why": why}, array=True))
    return tables


def import_kattis(
    problem_dir: Path,
    dest: Path,
    *,
    name: str | None = None,
    language: str | None = None,
    force: bool = False,
) -> Path:
    """Convert the Kattis problem package ``problem_dir`` into an assignment package at ``dest``.

    ``language`` (python3, c, cpp, java) picks the environment; by default it
    is that of the first accepted solution, else python3. Returns ``dest``.
    """
    problem = read_problem(problem_dir)
    slug = _slug(name or problem.root.name)
    accepted = problem.accepted
    if language is not None:
        language_for(language)  # an unknown name is an error
        accepted = [p for p in accepted if SUFFIX_ENVIRONMENTS[p.suffix] == language]
    solution = accepted[0] if accepted else None
    environment = language or (SUFFIX_ENVIRONMENTS[solution.suffix] if solution else "python3")
    main_class = java_class(solution) if solution and environment == "java" else "Main"
    lang = language_for(environment, main_class)

    prepare_destination(dest, force=force, managed=MANAGED)
    assignment = {"name": slug, "title": problem.title, "statement": "statement.md"}
    manifest = [
        _table("assignment", {**assignment, "environment": environment}),
        "# Kattis sets the time limit from its accepted solutions (times time_multiplier):\n"
        "# grade the reference solution and adjust cpu_time_s.\n"
        + _table("limits", problem.limits),
        _table("build", {"commands": [list(c) for c in lang.build], "required_files": [lang.main]}),
        _table("run", {"command": list(lang.run)}),
    ]
    checker = _write_checker(problem.root, problem.validator, dest) if problem.validator else None
    manifest += [_table("tests", _test_entry(c, dest, checker), array=True) for c in problem.cases]
    if solution is not None:
        _copy(inside(problem.root, solution), dest / "solution" / lang.main)
    manifest += _write_known_bad(problem, dest, lang)
    (dest / MANIFEST).write_text("\n".join(manifest), encoding="utf-8")
    (dest / "statement.md").write_text(_statement_md(problem, lang), encoding="utf-8")
    with load_package(dest):
        pass  # what we wrote must be a valid package
    return dest
