"""Import a check50 problem (``.cs50.yml`` + ``__init__.py``) as an assignment package.

The checks are read from the syntax tree (``assay.grading.check50_checks``), never
run on the host. ``exists`` becomes required files, ``include`` support files,
``compile`` the build; every ``run`` / ``valgrind`` / ``import_`` chain a test of
kind ``dialogue`` / ``valgrind`` / ``script`` worth one point, depending (``depends``)
on the tests of the check it depended on, so a failed check skips its dependents as
check50 does. What could not be translated is listed, with ``file:line``, in the
result and in the package's ``NOTES.md``; such a check is left out whole rather
than replaced by a weaker test.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assay.errors import PackageError
from assay.grading.check50_checks import (
    CHECKS_FILE,
    CONFIG,
    Check,
    Problem,
    read_checks,
    simple_checks,
)
from assay.grading.checking import CheckReport, check_package
from assay.grading.context import Progress
from assay.grading.destination import prepare_destination
from assay.grading.kattis import toml_value
from assay.grading.loader import load_package
from assay.grading.package import MANIFEST
from assay.grading.spec import NAME_PATTERN
from assay.sandbox.base import SandboxBackend
from assay.sandbox.environments import Environment

MANAGED = (MANIFEST, "statement.md", "support", "solution", "bad", "NOTES.md")
C_TOOLS = frozenset({"clang", "gcc", "cc", "make"})


@dataclass(frozen=True)
class TestEntry:
    """An Assay test written for a check."""

    name: str
    kind: str
    options: dict[str, Any]
    depends: tuple[str, ...]
    check: str


@dataclass
class Check50Problem:
    """What the importer made of a problem."""

    slug: str
    checks: list[Check]
    required: list[str]
    support: list[str]
    build: list[list[str]]
    tests: list[TestEntry]
    environment: str
    notes: list[str] = field(default_factory=list)

    @property
    def untranslated(self) -> list[Problem]:
        return [p for c in self.checks for p in c.problems]

    def tests_of(self, check: str) -> list[TestEntry]:
        return [t for t in self.tests if t.check == check]


@dataclass(frozen=True)
class Check50Import:
    path: Path
    problem: Check50Problem
    check: CheckReport | None = None


class _Loader(yaml.SafeLoader):
    """``.cs50.yml`` with lib50's ``!include`` / ``!exclude`` / ``!require`` tags."""


def _tagged(tag: str) -> Callable[[yaml.SafeLoader, yaml.Node], tuple[str, str]]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> tuple[str, str]:
        return (tag, str(loader.construct_scalar(node)))  # type: ignore[arg-type]

    return construct


for _tag in ("include", "exclude", "require"):
    _Loader.add_constructor(f"!{_tag}", _tagged(_tag))


def package_name(problem_dir: Path, name: str | None = None) -> str:
    text = name or problem_dir.resolve().name
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")[:64]
    if not re.fullmatch(NAME_PATTERN, slug):
        raise PackageError(f"cannot make an assignment name from {text!r}", fix="pass --name")
    return slug


def _config(problem_dir: Path, notes: list[str]) -> dict[str, Any]:
    path = problem_dir / CONFIG
    if not path.is_file():
        notes.append(f"no {CONFIG}: the files check50 requires are read from the checks only")
        return {}
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - SafeLoader
    except yaml.YAMLError as exc:
        raise PackageError(f"{CONFIG} is not valid YAML: {exc}", file=str(path)) from exc
    section = data.get("check50") if isinstance(data, dict) else None
    if section is None or section is False:
        raise PackageError(f"{CONFIG} has no check50 section", file=str(path))
    return section if isinstance(section, dict) else {}


def _topological(checks: list[Check]) -> list[Check]:
    by_name = {c.name: c for c in checks}
    done: dict[str, Check] = {}

    def visit(check: Check, trail: tuple[str, ...]) -> None:
        if check.name in done:
            return
        if check.name in trail:
            raise PackageError(f"the checks depend on each other in a circle: {check.name}")
        parent = by_name.get(check.dependency or "")
        if parent is not None:
            visit(parent, (*trail, check.name))
        done[check.name] = check

    for check in checks:
        visit(check, ())
    return list(done.values())


def read_problem(problem_dir: Path, name: str | None = None) -> Check50Problem:
    """The package's parts for the check50 problem in ``problem_dir``."""
    notes: list[str] = []
    config = _config(problem_dir, notes)
    simple = config.get("checks")
    if isinstance(simple, dict):
        checks = simple_checks(simple)  # check50 uses these, not __init__.py
    elif not (problem_dir / CHECKS_FILE).is_file():
        raise PackageError(
            f"{problem_dir} has no {CHECKS_FILE}",
            fix="pass a check50 problem directory (.cs50.yml and __init__.py)",
        )
    else:
        try:
            checks = _topological(read_checks(problem_dir))
        except SyntaxError as exc:
            raise PackageError(f"{CHECKS_FILE} does not parse: {exc}", file=CHECKS_FILE) from exc
    if not checks:
        raise PackageError(f"{CHECKS_FILE} has no @check50.check functions", file=CHECKS_FILE)
    by_name = {c.name: c for c in checks}
    required: list[str] = []
    for entry in config.get("files") or []:
        if isinstance(entry, tuple) and entry[0] == "require" and entry[1] not in required:
            required.append(entry[1])
    for key in sorted(set(config) - {"files", "checks"}):
        notes.append(f"{CONFIG}: check50.{key} is not imported")
    support: list[str] = []
    build: list[list[str]] = []
    for check in checks:
        required += [r for r in check.required if r not in required]
        support += [s for s in check.include if s not in support]
        build += [b for b in check.build if b not in build]
        if check.dependency and check.dependency not in by_name:
            check.problems.append(
                Problem(
                    f"{CHECKS_FILE}:{check.line}",
                    f"depends on {check.dependency}, which is not a check",
                )
            )
    for rel in support:
        path = (problem_dir / rel).resolve()
        if not path.is_relative_to(problem_dir.resolve()) or not path.exists():
            raise PackageError(f"check50.include({rel!r}): no such file in the problem")
    tests = _tests(checks, by_name, notes)
    tools = {b[0] for b in build} | {t.kind for t in tests}
    environment = "c" if tools & (C_TOOLS | {"valgrind"}) else "python3"
    return Check50Problem(
        package_name(problem_dir, name), checks, required, support, build, tests, environment, notes
    )


def _tests(checks: list[Check], by_name: dict[str, Check], notes: list[str]) -> list[TestEntry]:
    names: set[str] = set()
    written: dict[str, list[str]] = {}
    tests: list[TestEntry] = []
    for check in checks:
        if not check.translated:
            continue
        if check.hidden is not None:
            notes.append(
                f"{check.name}: @check50.hidden's message ({check.hidden!r}) is not used; "
                "students see the test's own message"
            )
        depends: list[str] = []
        parent = by_name.get(check.dependency or "")
        while parent is not None:
            if not parent.translated:
                notes.append(
                    f"{check.name} depends on {parent.name}, which was not translated: it runs "
                    f"whether or not {parent.name} would pass"
                )
            if written.get(parent.name):
                depends = written[parent.name]
                break
            parent = by_name.get(parent.dependency or "")
        mine = []
        for test in check.tests:
            name = test.name if test.name not in names else f"{test.name} [{check.name}]"
            names.add(name)
            mine.append(name)
            tests.append(TestEntry(name, test.kind, test.options, tuple(depends), check.name))
        written[check.name] = mine
    return tests


def _manifest(problem: Check50Problem, title: str, bad: Sequence[str]) -> str:
    lines = [
        "# Imported by `assay assignment import-check50` (docs/importers.md). Each check50",
        "# check is one or more tests below (see NOTES.md for what was not translated).",
        "[assignment]",
        f"name = {toml_value(problem.slug)}",
        f"title = {toml_value(title)}",
        'statement = "statement.md"',
        f"environment = {toml_value(problem.environment)}",
        "",
        "[limits]",
        "cpu_time_s = 10",
        "wall_time_s = 60  # check50 gives a check 60 s",
        'memory = "512M"',
        "",
        "[build]",
        f"required_files = {toml_value(problem.required)}",
    ]
    if problem.build:
        lines.append(f"commands = {toml_value(problem.build)}")
    for test in problem.tests:
        lines += [
            "",
            f"# check50: {test.check}",
            "[[tests]]",
            f"name = {toml_value(test.name)}",
            f"kind = {toml_value(test.kind)}",
            "points = 1",
        ]
        if test.depends:
            lines.append(f"depends = {toml_value(list(test.depends))}")
        for key, value in test.options.items():
            lines.append(f"{key} = {toml_value(value)}")
    for path in bad:
        lines += ["", "[[known_bad]]", f"path = {toml_value(path)}"]
    return "\n".join(lines) + "\n"


def _notes(problem: Check50Problem) -> str:
    rows = ["| check50 check | Assay tests |", "|---|---|"]
    for check in problem.checks:
        if not check.translated:
            shown = "not translated"
        elif problem.tests_of(check.name):
            shown = ", ".join(f"`{t.name}` ({t.kind})" for t in problem.tests_of(check.name))
        else:
            parts = []
            if check.required:
                parts.append("required files " + ", ".join(check.required))
            if check.build:
                parts.append("the build")
            if check.include:
                parts.append("support files " + ", ".join(check.include))
            shown = "; ".join(parts) or "nothing to run"
        rows.append(f"| `{check.name}`: {check.description} | {shown} |")
    problems = [f"- {p}" for p in problem.untranslated] or ["- nothing: every check was translated"]
    others = [f"- {n}" for n in problem.notes]
    return "\n".join(
        [
            f"# Import notes: {problem.slug}",
            "",
            "Imported by `assay assignment import-check50`.",
            "",
            *rows,
            "",
            "## Not translated (the checks they belong to are left out)",
            "",
            *problems,
            *(["", "## Other notes", "", *others] if others else []),
            "",
        ]
    )


def _copy(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True, symlinks=False)
    elif source.is_file():
        shutil.copyfile(source, target / source.name)
    else:
        raise PackageError(f"{source} is neither a file nor a directory")


def import_check50(
    problem_dir: Path,
    dest: Path,
    *,
    solution: Path,
    backend: SandboxBackend | None = None,
    name: str | None = None,
    bad: Sequence[Path] = (),
    force: bool = False,
    strict: bool = False,
    prepare: Callable[[Environment], None] | None = None,
    progress: Progress | None = None,
) -> Check50Import:
    """Write the package for the check50 problem at ``dest``; with ``backend``, check it."""
    problem = read_problem(problem_dir, name)
    if not problem.tests:
        listed = "; ".join(str(p) for p in problem.untranslated) or "no check runs the program"
        raise PackageError(f"nothing of the problem could be translated: {listed}")
    if strict and problem.untranslated:
        listed = "; ".join(str(p) for p in problem.untranslated)
        raise PackageError(f"some checks could not be translated (--strict): {listed}")
    prepare_destination(dest, force=force, managed=MANAGED)
    for rel in problem.support:
        source = problem_dir / rel
        target = dest / "support" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, symlinks=False)
        else:
            shutil.copyfile(source, target)
    _copy(solution, dest / "solution")
    bad_paths = []
    for index, path in enumerate(bad, 1):
        rel = f"bad/{index}-{package_name(path)}"
        _copy(path, dest / rel)
        bad_paths.append(rel)
    title = f"{problem.slug} (check50)"
    described = "\n".join(f"- {c.description}" for c in problem.checks)
    (dest / "statement.md").write_text(
        f"# {problem.slug}\n\nChecked as check50 checks it:\n\n{described}\n", encoding="utf-8"
    )
    (dest / "NOTES.md").write_text(_notes(problem), encoding="utf-8")
    (dest / MANIFEST).write_text(_manifest(problem, title, bad_paths), encoding="utf-8")
    with load_package(dest) as package:
        if backend is None:
            return Check50Import(dest, problem)
        if prepare is not None:
            prepare(package.environment)
        check = check_package(package, backend, progress=progress)
    return Check50Import(dest, problem, check)
