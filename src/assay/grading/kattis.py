"""Import a Kattis / ICPC (or DOMjudge) problem package as an assignment package.

Samples become visible tests, secret data hidden ones; a pass-fail problem
gives one point a test, a scoring problem its groups' scores (``sum`` adds,
``min`` is all or nothing, ``on_reject: break`` skips what follows a failure:
test dependencies). The default validator's flags become a checker
(``tokens``, ``exact`` or ``float``), a custom output validator a ``custom``
checker; an interactive problem's validator judges ``interactive`` tests.
Every submission under ``submissions/`` of the assignment's language is kept:
the first accepted one as the reference solution, the other accepted
ones as known-good, the rest as known-bad with the failure their category
names (``time_limit_exceeded``: a timeout, ...). Students submit any file
names; the language's files are found by extension, as Kattis does.
``import_and_check`` then measures the time limit from the accepted
submissions (problemtools' rule) and runs ``assignment check``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.config import DEFAULT_GRADING_PARALLEL_RUNS
from assay.errors import PackageError
from assay.grading.checking import CheckReport, check_package
from assay.grading.context import Progress
from assay.grading.destination import prepare_destination
from assay.grading.engine import grade
from assay.grading.kattis_problem import (
    DEFAULT_TIME_LIMIT_S,
    MEASURING_TIME_LIMIT_S,
    SUFFIX_ENVIRONMENTS,
    Case,
    KattisProblem,
    Submission,
    default_checker,
    inside,
    kattis_error,
    read_problem,
)
from assay.grading.loader import load_package
from assay.grading.package import MANIFEST
from assay.grading.spec import NAME_PATTERN
from assay.grading.stages import Stage
from assay.grading.submission import load_submission
from assay.sandbox.base import SandboxBackend
from assay.sandbox.environments import Environment

SAMPLE_SHOWN_BYTES = 4096  # samples up to this size are quoted in the statement
MANAGED = ("assignment.toml", "statement.md", "tests", "checkers", "solution", "good", "bad")
BINARY = "submission.bin"
NODE_TYPES = "/usr/share/nodejs/@types"  # Debian's @types/node, in the typescript environment
PAIR_WALL_TIME_S = 30.0  # an interactive test's judge and submission together (wall)

# Finds the submission's files of the language (top level, name order) as "$@" and its
# main file as $main: one named main.* if any, else the first (Kattis' rule).
_PRELUDE = """set -e
set --
main=
for f in *; do
  case "$f" in {patterns}) ;; *) continue ;; esac
  [ -f "$f" ] || continue
  set -- "$@" "$f"
  case "$f" in [Mm][Aa][Ii][Nn].*) [ -n "$main" ] || main=$f ;; esac
done
if [ $# -eq 0 ]; then echo "no {name} file ({patterns}) in the submission" >&2; exit 1; fi
[ -n "$main" ] || main=$1
"""


@dataclass(frozen=True)
class Language:
    """How a language's submissions are built and run (``sh`` scripts in the workspace)."""

    environment: str
    name: str
    build: str  # after the prelude; "" only checks that there are files
    run: str  # after the prelude when ``run_needs_main``
    run_needs_main: bool = True

    @property
    def suffixes(self) -> tuple[str, ...]:
        return tuple(s for s, e in SUFFIX_ENVIRONMENTS.items() if e == self.environment)

    @property
    def patterns(self) -> str:
        return "|".join(f"*{s}" for s in self.suffixes)

    def prelude(self) -> str:
        return _PRELUDE.format(patterns=self.patterns, name=self.name)

    def build_command(self) -> list[str]:
        return ["sh", "-c", self.prelude() + (self.build or ":") + "\n"]

    def run_command(self, memory_mib: int) -> list[str]:
        run = self.run.replace("{memory}", str(memory_mib))
        return ["sh", "-c", (self.prelude() if self.run_needs_main else "") + run + "\n"]


_JVM = "-Dfile.encoding=UTF-8 -XX:+UseSerialGC -Xss64m -Xmx{memory}m"
LANGUAGES: dict[str, Language] = {
    lang.environment: lang
    for lang in (
        Language("python3", "Python 3", 'python3 -m py_compile "$@"', 'exec python3 "$main"'),
        Language(
            "c",
            "C",
            f'gcc -O2 -std=gnu17 -o {BINARY} "$@" -lm',
            f"exec ./{BINARY}",
            run_needs_main=False,
        ),
        Language(
            "cpp",
            "C++",
            f'g++ -O2 -std=gnu++20 -o {BINARY} "$@"',
            f"exec ./{BINARY}",
            run_needs_main=False,
        ),
        Language(
            "java",
            "Java",
            'javac -encoding UTF-8 -d . "$@"',
            f'exec java {_JVM} -cp . "${{main%.*}}"',
        ),
        Language(
            "kotlin",
            "Kotlin",
            'kotlinc -nowarn -include-runtime -d submission.jar "$@" 2>&1',
            'c=${main%.*}; k=$(printf %s "$c" | cut -c1 | tr a-z A-Z)$(printf %s "$c" | cut -c2-)\n'
            f'exec java {_JVM} -cp submission.jar "${{k}}Kt"',
        ),
        Language(
            "javascript",
            "JavaScript",
            'for f; do node --check "$f"; done',
            'exec node "$main"',
        ),
        Language(
            "typescript",
            "TypeScript",
            "tsc --target es2020 --module commonjs --types node "
            f'--typeRoots {NODE_TYPES} --outDir tsout "$@"',
            'exec node "tsout/${main%.ts}.js"',
        ),
        Language(
            "go",
            "Go",
            f'go build -o {BINARY} "$@"',
            f"exec ./{BINARY}",
            run_needs_main=False,
        ),
        Language(
            "rust",
            "Rust",
            f'rustc -C opt-level=3 --edition 2021 -o {BINARY} "$main"',
            f"exec ./{BINARY}",
            run_needs_main=False,
        ),
        Language("ruby", "Ruby", 'ruby -c "$main" >/dev/null', 'exec ruby "$main"'),
        Language("r", "R", "", 'exec Rscript "$main"'),
        Language(
            "haskell",
            "Haskell",
            f'ghc -O2 -v0 -outputdir /tmp/assay-ghc -o {BINARY} "$@"',
            f"exec ./{BINARY}",
            run_needs_main=False,
        ),
        Language("bash", "Bash", 'bash -n "$main"', 'exec bash "$main"'),
    )
}


def language_for(environment: str) -> Language:
    if environment not in LANGUAGES:
        raise PackageError(
            f"unknown language {environment!r}", fix=f"use one of {', '.join(LANGUAGES)}"
        )
    return LANGUAGES[environment]


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
    if isinstance(value, str) and _multiline(value):
        return "'''\n" + value + "'''"
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


def _multiline(text: str) -> bool:
    """Whether ``text`` reads best (and is exact) as a TOML multi-line literal string."""
    return (
        "\n" in text
        and "'''" not in text
        and not text.endswith("'")
        and all(c in "\n\t" or (0x20 <= ord(c) != 0x7F) for c in text)
    )


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
        if problem.interactive:
            dialogue = case.source.with_suffix(".interaction")
            if dialogue.is_file() and dialogue.stat().st_size <= SAMPLE_SHOWN_BYTES:
                text = inside(problem.root, dialogue).read_text(errors="replace")
                parts.append(f"## Sample interaction {number}\n\n" + _fenced(text))
            continue
        data_in, data_ans = case.source.read_bytes(), case.source.with_suffix(".ans").read_bytes()
        if len(data_in) > SAMPLE_SHOWN_BYTES or len(data_ans) > SAMPLE_SHOWN_BYTES:
            continue
        parts.append(f"## Sample input {number}\n\n" + _fenced(data_in.decode(errors="replace")))
        parts.append(f"## Sample output {number}\n\n" + _fenced(data_ans.decode(errors="replace")))
    names = ", ".join(f"`*{suffix}`" for suffix in lang.suffixes)
    parts.append(
        f"## Submitting\n\nSubmit your {lang.name} source files ({names}), with any names. "
        "The program reads standard input and writes standard output. With several "
        "files, the one named `main.*` (else the first by name) is the main one.\n"
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


def _points(case: Case, scoring: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": case.name, "group": case.group}
    if scoring:
        entry["points"] = case.points
        if case.depends:
            entry["depends"] = list(case.depends)
    return entry


def _interactive(case: Case, dest: Path, judge: str, rel_in: Path) -> dict[str, Any]:
    """The options of the ``interactive`` kind: the validator judges, talking to the program."""
    entry: dict[str, Any] = {
        "visibility": "hidden" if case.hidden else "visible",
        "kind": "interactive",
        "judge": judge,
        "judge_args": list(case.flags),
        "input_file": rel_in.as_posix(),
        "answer_file": rel_in.with_suffix(".ans").as_posix(),
        # the submission keeps its own limits; the judge waits this long for the pair, so
        # that a busy machine's slow start of the submission never fails the judge
        "pair_wall_time_s": PAIR_WALL_TIME_S,
    }
    dialogue = case.source.with_suffix(".interaction")
    if not case.hidden and dialogue.is_file():
        _copy(inside(case.source.parent, dialogue), dest / rel_in.with_suffix(".interaction"))
        entry["sample_interaction"] = rel_in.with_suffix(".interaction").as_posix()
    return entry


def _test_entry(
    case: Case, dest: Path, checker_path: str | None, *, scoring: bool, interactive: bool
) -> dict[str, Any]:
    rel_in = Path("tests") / f"{case.name}.in"
    rel_ans = rel_in.with_suffix(".ans")
    _copy(case.source, dest / rel_in)
    _copy(case.source.with_suffix(".ans"), dest / rel_ans)
    if interactive and checker_path is not None:  # read_problem: it always has a validator
        return {**_points(case, scoring), **_interactive(case, dest, checker_path, rel_in)}
    checker: dict[str, Any]
    if checker_path is not None:
        checker = {"type": "custom", "program": checker_path, "args": list(case.flags)}
    else:
        checker = default_checker(case.flags)
    return {
        **_points(case, scoring),
        "visibility": "hidden" if case.hidden else "visible",
        "stdin_file": rel_in.as_posix(),
        "expected_file": rel_ans.as_posix(),
        "checker": checker,
    }


def _slug_path(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "submission"


def _write_submission(problem: KattisProblem, submission: Submission, target: Path) -> None:
    for rel, source in submission.files.items():
        _copy(inside(problem.root, source), target / rel)


@dataclass(frozen=True)
class Written:
    """What ``import_kattis`` wrote besides the files."""

    path: Path
    problem: KattisProblem
    language: Language
    limits: str  # the [limits] table as written
    accepted: tuple[str, ...]  # package paths of the solution and the known-good ones
    notes: tuple[str, ...]  # submissions left out, and why
    sources: dict[str, str]  # package path ("solution", "bad/...") -> "submissions/..."


def _known_entries(
    problem: KattisProblem,
    dest: Path,
    lang: Language,
    solution: Submission | None,
    sources: dict[str, str],
) -> tuple[list[str], list[str], list[str]]:
    """Copy every submission of the language in; their tables, the accepted paths and notes
    (``sources`` gets each package path's submission)."""
    tables: list[str] = []
    accepted = ["solution"] if solution is not None else []
    notes: list[str] = []
    used: set[str] = set()
    for sub in problem.submissions:
        if sub is solution:
            continue
        if sub.environment != lang.environment:
            notes.append(
                f"{sub.label}: {sub.environment}, not {lang.environment}: left out "
                f"(import with --language {sub.environment} to check it)"
            )
            continue
        good = sub.expect == "accepted"
        path = f"{'good' if good else 'bad'}/{sub.category}/{_slug_path(sub.name)}"
        while path in used:
            path += "-2"
        used.add(path)
        sources[path] = sub.label
        _write_submission(problem, sub, dest / path)
        why = f"Kattis {sub.label}"
        if good:
            accepted.append(path)
            tables.append(_table("known_good", {"path": path, "why": why}, array=True))
            continue
        entry: dict[str, Any] = {"path": path, "why": why}
        if sub.expect != "partial":
            entry["expect"] = sub.expect
        tables.append(_table("known_bad", entry, array=True))
    return tables, accepted, notes


def main_language(problem: KattisProblem) -> str | None:
    """The language of most submissions among those with an accepted one (ties: the
    first accepted submission's)."""
    accepted = [s.environment for s in problem.accepted]
    if not accepted:
        return None
    count = {e: sum(s.environment == e for s in problem.submissions) for e in accepted}
    return max(accepted, key=lambda e: (count[e], -accepted.index(e)))


def languages_of(problem_dir: Path) -> list[str]:
    """Every language with an accepted submission, the main one first."""
    problem = read_problem(problem_dir)
    main = main_language(problem)
    found = dict.fromkeys([main] if main else [])
    found.update(dict.fromkeys(s.environment for s in problem.accepted))
    return list(found)


def import_kattis(
    problem_dir: Path,
    dest: Path,
    *,
    name: str | None = None,
    language: str | None = None,
    force: bool = False,
) -> Path:
    """Convert the Kattis problem package ``problem_dir`` into an assignment package at ``dest``
    (the time limit: the problem's fixed one, else a provisional one). Returns ``dest``."""
    return write_package(problem_dir, dest, name=name, language=language, force=force).path


def write_package(
    problem_dir: Path,
    dest: Path,
    *,
    name: str | None = None,
    language: str | None = None,
    force: bool = False,
    time_limit_s: float | None = None,
) -> Written:
    """``import_kattis``, telling what it wrote. ``language`` (an environment: python3, c,
    cpp, java, ...) picks the submissions' language; by default that of most submissions
    (``main_language``), else python3. ``time_limit_s``: the limit until measured (default: the
    problem's fixed one, else ``DEFAULT_TIME_LIMIT_S``)."""
    problem = read_problem(problem_dir)
    slug = _slug(name or problem.root.name)
    accepted = problem.accepted
    if language is not None:
        language_for(language)  # an unknown name is an error
        accepted = [s for s in accepted if s.environment == language]
    if language is None and accepted:
        language = main_language(problem)
        accepted = [s for s in accepted if s.environment == language]
    solution = accepted[0] if accepted else None
    environment = language or "python3"
    lang = language_for(environment)
    time = problem.time
    cpu = time_limit_s or time.fixed or DEFAULT_TIME_LIMIT_S
    limits = _table("limits", time.limits(cpu))

    prepare_destination(dest, force=force, managed=MANAGED)
    assignment = {"name": slug, "title": problem.title, "statement": "statement.md"}
    build_limits = {
        "cpu_time_s": time.compilation_time_s,
        "wall_time_s": 2 * time.compilation_time_s,
        "memory": f"{time.compilation_memory_mib}M",
    }
    manifest = [
        _table("assignment", {**assignment, "environment": environment}),
        limits,
        _table("build", {"commands": [lang.build_command()]}),
        _table("build.limits", build_limits),
        _table("run", {"command": lang.run_command(time.memory_mib)}),
    ]
    checker = _write_checker(problem.root, problem.validator, dest) if problem.validator else None
    manifest += [
        _table(
            "tests",
            _test_entry(c, dest, checker, scoring=problem.scoring, interactive=problem.interactive),
            array=True,
        )
        for c in problem.cases
    ]
    if solution is not None:
        _write_submission(problem, solution, dest / "solution")
    sources = {"solution": solution.label} if solution is not None else {}
    tables, accepted_paths, notes = _known_entries(problem, dest, lang, solution, sources)
    manifest += tables
    (dest / MANIFEST).write_text("\n".join(manifest), encoding="utf-8")
    (dest / "statement.md").write_text(_statement_md(problem, lang), encoding="utf-8")
    with load_package(dest):
        pass  # what we wrote must be a valid package
    return Written(
        dest, problem, lang, limits, tuple(accepted_paths), tuple(problem.notes + notes), sources
    )


# -- measuring the time limit and checking ------------------------------------------------
@dataclass(frozen=True)
class KattisImport:
    path: Path
    written: Written
    time_limit_s: float
    slowest_s: float | None  # the slowest accepted run measured (None: a fixed limit)
    check: CheckReport


def _slowest_accepted(
    written: Written,
    backend: SandboxBackend,
    parallel_runs: int,
    progress: Progress | None,
) -> float:
    """The most CPU time any test of any accepted submission took (problemtools' lower
    bound of the time limit), graded under a generous limit."""
    slowest = 0.0
    with load_package(written.path) as package:
        for number, rel in enumerate(written.accepted, 1):
            if progress is not None:
                progress.stage(Stage.CHECKING, f"timing {rel}", number, len(written.accepted))
            report = grade(
                package,
                load_submission(package.path(rel, key="solution")),
                backend=backend,
                parallel_runs=parallel_runs,
                seed=0,
            )
            for test in report.tests:
                if test.status.value == "passed":
                    slowest = max(slowest, test.timing.cpu_s)
    return slowest


def import_and_check(
    problem_dir: Path,
    dest: Path,
    *,
    backend: SandboxBackend,
    parallel_runs: int = DEFAULT_GRADING_PARALLEL_RUNS,
    progress: Progress | None = None,
    prepare: Callable[[Environment], None] | None = None,
    name: str | None = None,
    language: str | None = None,
    force: bool = False,
) -> KattisImport:
    """Import, measure the time limit (unless the problem fixes it) and check the package.

    Kattis' rule (problemtools): the slowest accepted submission's CPU time (its slowest
    test) times the multiplier, rounded up to the time resolution, at least one step.
    """
    problem = read_problem(problem_dir)
    fixed = problem.time.fixed
    written = write_package(
        problem_dir,
        dest,
        name=name,
        language=language,
        force=force,
        time_limit_s=fixed or MEASURING_TIME_LIMIT_S,
    )
    slowest: float | None = None
    limit = fixed or MEASURING_TIME_LIMIT_S
    if prepare is not None:
        with load_package(written.path) as package:
            prepare(package.environment)
    if fixed is None:
        if written.accepted:
            slowest = _slowest_accepted(written, backend, parallel_runs, progress)
            limit = problem.time.time_limit(slowest)
            rule = (
                f"# Kattis' rule: slowest accepted run {slowest:.3f} s CPU"
                f" x {problem.time.multiplier:g}, rounded up to {problem.time.resolution:g} s\n"
            )
        else:  # nothing to measure (the check fails: no reference solution)
            limit = DEFAULT_TIME_LIMIT_S
            rule = "# no accepted submission to measure the time limit from\n"
        manifest = written.path / MANIFEST
        text = manifest.read_text(encoding="utf-8")
        new_limits = _table("limits", problem.time.limits(limit))
        manifest.write_text(text.replace(written.limits, rule + new_limits, 1), encoding="utf-8")
    with load_package(written.path) as package:
        report = check_package(package, backend, parallel_runs=parallel_runs, progress=progress)
    return KattisImport(written.path, written, limit, slowest, report)
