"""Reading a Kattis / ICPC problem package (both the legacy and the 2023-07 layout).

``problem.yaml`` (name, ``type``, ``validation``, ``validator_flags``,
``grading``, ``limits``), ``problem_statement/`` (or ``statement/``),
``data/sample`` and ``data/secret`` (``*.in`` / ``*.ans``, nested groups too;
each directory's ``testdata.yaml`` is merged over its parent's, as problemtools
does: ``output_validator_flags``, ``on_reject``, ``grading``, ``grader_flags``,
``accept_score``, ``reject_score``), ``output_validators/`` (or
``output_validator/``: one ``.py``/``.c``/``.cc``/``.cpp`` file) and
``submissions/<category>/`` (one file, or a directory of files, a submission;
its language from the files' extensions; DOMjudge's ``@EXPECTED_RESULTS@``
comments), and DOMjudge's ``domjudge-problem.ini`` (name, timelimit) and
``.timelimit``. Everything read must stay inside the problem directory (links are
followed only within it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from assay.errors import PackageError
from assay.grading.checkers import parse_checker

PROBLEM_YAML = "problem.yaml"
DOMJUDGE_INI = "domjudge-problem.ini"  # DOMjudge's: name, timelimit (seconds)
DEFAULT_TIME_LIMIT_S = 2.0  # until measured from the accepted submissions (kattis.py)
MEASURING_TIME_LIMIT_S = 20.0  # the CPU time allowed while measuring them
# problemtools' defaults (config/problem.yaml and metadata.py), MiB and seconds
DEFAULT_LIMITS: dict[str, float] = {
    "memory": 1024,
    "output": 8,
    "code": 128,
    "compilation_time": 60,
    "compilation_memory": 1024,
}
LEGACY_TIME_MULTIPLIER = 5.0  # problem_format_version legacy: limits.time_multiplier
LEGACY_SAFETY_MARGIN = 2.0  # limits.time_safety_margin
TIME_MULTIPLIER = 2.0  # 2023-07: limits.time_multipliers.ac_to_time_limit
SAFETY_MARGIN = 1.5  # 2023-07: limits.time_multipliers.time_limit_to_tle
SOURCE_SUFFIXES = (".py", ".c", ".cc", ".cpp")  # of an output validator
# Kattis' languages.yaml file patterns, for the languages Assay has environments of
SUFFIX_ENVIRONMENTS = {
    ".py": "python3",
    ".py3": "python3",
    ".c": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".c++": "cpp",
    ".C": "cpp",
    ".java": "java",
    ".kt": "kotlin",
    ".js": "javascript",
    ".ts": "typescript",
    ".go": "go",
    ".rs": "rust",
    ".rb": "ruby",
    ".R": "r",
    ".r": "r",
    ".hs": "haskell",
    ".sh": "bash",
}
# Kattis' priorities: a directory with files of two languages is the higher one's
PRIORITY = {
    "cpp": 1000,
    "c": 950,
    "python3": 850,
    "java": 800,
    "ruby": 650,
    "haskell": 600,
    "rust": 575,
    "javascript": 500,
    "go": 400,
    "kotlin": 250,
    "typescript": 240,
    "r": 230,
    "bash": 220,
}
# submissions/<category>: what Kattis (and DOMjudge) expect of the submissions in it
CATEGORIES: dict[str, str] = {
    "accepted": "accepted",
    "partially_accepted": "partial",
    "wrong_answer": "wrong",
    "no_output": "wrong",  # DOMjudge
    "time_limit_exceeded": "timeout",
    "run_time_error": "crashed",
    "memory_limit_exceeded": "memory_limit",
    "memory_limit": "memory_limit",
    "output_limit_exceeded": "output_limit",
    "output_limit": "output_limit",
    "compile_error": "build_failed",
    "compiler_error": "build_failed",
}
# DOMjudge's @EXPECTED_RESULTS@: CORRECT, ... comments
DOMJUDGE_RESULTS = {
    "CORRECT": "accepted",
    "WRONG-ANSWER": "wrong",
    "NO-OUTPUT": "wrong",
    "TIMELIMIT": "timeout",
    "RUN-ERROR": "crashed",
    "OUTPUT-LIMIT": "output_limit",
    "MEMORY-LIMIT": "memory_limit",
    "COMPILER-ERROR": "build_failed",
}
EXPECTED_RESULTS = re.compile(r"@EXPECTED_RESULTS@\s*:?\s*([A-Z ,-]+)")
SUBMISSION_MAX_FILES = 64
EXPECTED_RESULTS_BYTES = 64 * 1024  # where DOMjudge's comment is looked for
FLOAT_FLAGS = {
    "float_tolerance": ("abs_tol", "rel_tol"),
    "float_absolute_tolerance": ("abs_tol",),
    "float_relative_tolerance": ("rel_tol",),
}


def kattis_error(
    message: str,
    *,
    file: str | None = PROBLEM_YAML,
    key: str | None = None,
    fix: str | None = None,
) -> PackageError:
    """A ``PackageError`` about a file of the Kattis problem."""
    return PackageError(message, file=file, key=key, fix=fix)


# -- problem.yaml ---------------------------------------------------------------------
def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise kattis_error(f"not valid YAML: {exc}", file=path.name) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise kattis_error("must be a mapping of keys to values", file=path.name)
    return data


def _flags(value: Any, *, file: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    raise kattis_error("must be a string of flags or a list", file=file, key=key)


def default_checker(flags: tuple[str, ...], *, file: str = PROBLEM_YAML) -> dict[str, Any]:
    """The checker for the Kattis default validator with these flags.

    Kattis compares whitespace-separated tokens, case-insensitively unless
    ``case_sensitive``; ``space_change_sensitive`` makes whitespace count
    (``exact``); a float tolerance accepts a number within the absolute OR
    the relative tolerance. With both space and float flags, whitespace is
    not compared (an approximation).
    """
    options: dict[str, Any] = {"case_sensitive": False}
    space = False
    rest = iter(flags)
    for flag in rest:
        if flag == "case_sensitive":
            options["case_sensitive"] = True
        elif flag == "space_change_sensitive":
            space = True
        elif flag in FLOAT_FLAGS:
            text = next(rest, None)
            try:
                value = float(text) if text is not None else math.nan
            except ValueError:
                value = math.nan
            if not math.isfinite(value) or value < 0:
                raise kattis_error(
                    f"{flag} needs a tolerance (a number >= 0), got {text!r}",
                    file=file,
                    key="validator_flags",
                )
            for name in FLOAT_FLAGS[flag]:
                options[name] = value
        else:
            raise kattis_error(
                f"unknown default-validator flag {flag!r}",
                file=file,
                key="validator_flags",
                fix="use case_sensitive, space_change_sensitive, float_tolerance, "
                "float_absolute_tolerance or float_relative_tolerance",
            )
    kind = (
        "float" if "abs_tol" in options or "rel_tol" in options else "exact" if space else "tokens"
    )
    spec = {"type": kind, **options}
    parse_checker(spec)  # ours must be valid
    return spec


def _title(meta: dict[str, Any], statement: str, fallback: str) -> str:
    name = meta.get("name")
    if isinstance(name, dict) and name:
        name = name.get("en", next(iter(name.values())))
    if isinstance(name, str) and name.strip():
        return name.strip()
    found = re.search(r"\\problemname\{([^}]*)\}", statement)
    return found.group(1).strip() if found else fallback


# -- the parts of the problem -------------------------------------------------------------
def inside(root: Path, path: Path) -> Path:
    """``path`` if it (after links) stays inside the problem directory."""
    if not path.resolve().is_relative_to(root):
        raise kattis_error(
            f"{path.relative_to(root)} leads outside the problem directory", file=str(path.name)
        )
    return path


def _statement(root: Path) -> tuple[str, bool]:
    """The statement text and whether it is LaTeX."""
    for folder in ("problem_statement", "statement"):
        directory = root / folder
        if not directory.is_dir():
            continue
        for suffix in (".md", ".tex"):
            found = sorted(directory.glob(f"problem*{suffix}"))
            found.sort(
                key=lambda p: (".en." not in p.name and p.name != f"problem{suffix}", p.name)
            )
            if found:
                text = inside(root, found[0]).read_text(encoding="utf-8", errors="replace")
                return text, suffix == ".tex"
    return "", False


def _validator(root: Path) -> Path | None:
    """The custom output validator's source file, if the problem has one."""
    single = root / "output_validator"
    programs = [single] if single.is_dir() else []
    legacy = root / "output_validators"
    if legacy.is_dir():
        programs += sorted(p for p in legacy.iterdir() if not p.name.startswith("."))
    if not programs:
        return None
    if len(programs) > 1:
        raise kattis_error(
            "more than one output validator", file="output_validators", fix="keep one"
        )
    program = programs[0]
    if program.is_file():
        sources = [program]
    else:
        if (program / "build").exists() or (program / "run").exists():
            raise kattis_error(
                "validators with build/run scripts are not supported", file=program.name
            )
        sources = sorted(p for p in program.iterdir() if p.suffix in SOURCE_SUFFIXES)
    if len(sources) != 1 or sources[0].suffix not in SOURCE_SUFFIXES:
        raise kattis_error(
            "the output validator must be one .py, .c, .cc or .cpp file",
            file=str(program.relative_to(root)),
        )
    return inside(root, sources[0])


@dataclass(frozen=True)
class Case:
    name: str  # e.g. "secret/group1/03"
    group: str
    hidden: bool
    source: Path  # the .in file; the .ans sits next to it
    flags: tuple[str, ...]
    points: float = 1.0
    depends: tuple[str, ...] = ()  # tests that must pass for this one to count


# testdata.yaml keys merged down the data tree (problemtools' defaults)
GROUP_DEFAULTS: dict[str, Any] = {
    "on_reject": "break",
    "grading": "default",
    "grader_flags": "",
    "accept_score": 1.0,
    "reject_score": 0.0,
}
SCORE_AGGREGATES = ("sum", "min", "max", "avg")


@dataclass
class _Group:
    directory: Path
    config: dict[str, Any]
    flags: tuple[str, ...]
    items: list[_Group | Case]

    def cases(self) -> list[Case]:
        found: list[Case] = []
        for item in self.items:
            found += item.cases() if isinstance(item, _Group) else [item]
        return found


def _group_tree(
    root: Path,
    directory: Path,
    parent: dict[str, Any],
    flags: tuple[str, ...],
    overrides: dict[str, Any],
) -> _Group:
    """The data tree under ``directory`` (test cases and groups in name order)."""
    data = root / "data"
    config = dict(parent)
    testdata = directory / "testdata.yaml"
    if testdata.is_file():
        meta = _load_yaml(inside(root, testdata))
        for key in ("output_validator_flags", "output_validator_args"):
            if key in meta:
                flags = _flags(meta[key], file=str(testdata.relative_to(root)), key=key)
        config.update({k: v for k, v in meta.items() if k in GROUP_DEFAULTS})
    config.update(overrides)
    group = _Group(directory, config, flags, [])
    for entry in sorted(directory.iterdir()):
        if directory == data and entry.name not in ("sample", "secret"):
            continue  # e.g. invalid_input: not for submissions
        if entry.is_dir():
            group.items.append(_group_tree(root, entry, config, flags, overrides))
        elif entry.suffix == ".in":
            inside(root, entry)
            answer = entry.with_suffix(".ans")
            if not answer.is_file():
                rel = answer.relative_to(root)
                raise kattis_error(f"{rel} is missing", file=str(rel), fix="add the answer file")
            inside(root, answer)
            rel_case = entry.relative_to(data).with_suffix("")
            hidden = rel_case.parts[0] != "sample"
            group.items.append(
                Case(rel_case.as_posix(), rel_case.parent.as_posix(), hidden, entry, flags)
            )
    return group


def _number(value: Any, *, file: str, key: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise kattis_error(f"{key} is not a number: {value!r}", file=file, key=key)
    return number


def _aggregate(group: _Group, root: Path) -> str:
    where = str(group.directory.relative_to(root))
    if group.config.get("grading", "default") != "default":
        raise kattis_error(
            "custom graders are not supported",
            file=f"{where}/testdata.yaml",
            key="grading",
            fix="use the default grader (grader_flags: sum or min)",
        )
    flags = str(group.config.get("grader_flags") or "").split()
    found = [f for f in flags if f in SCORE_AGGREGATES]
    aggregate = found[-1] if found else "sum"
    if aggregate not in ("sum", "min") or {"ignore_sample", "accept_if_any_accepted"} & set(flags):
        raise kattis_error(
            f"grader_flags {' '.join(flags)!r} are not supported",
            file=f"{where}/testdata.yaml",
            key="grader_flags",
            fix="aggregate a group's scores with sum or min",
        )
    return aggregate


def _score_tree(group: _Group, root: Path, before: tuple[str, ...] = ()) -> list[Case]:
    """The cases of a scoring problem's ``group`` with their points and dependencies.

    A case scores ``accept_score``; a ``sum`` group adds its items' scores; a
    ``min`` group of test cases scores all or nothing (its points on its last
    case, which depends on the others); ``on_reject: break`` makes every item
    depend on the items before it (Kattis stops the group at the first failure).
    ``before``: the tests everything here depends on already.
    """
    where = str(group.directory.relative_to(root))
    aggregate = _aggregate(group, root)
    if _number(group.config.get("reject_score", 0), file=where, key="reject_score") != 0:
        raise kattis_error(
            "a reject_score other than 0 is not supported",
            file=f"{where}/testdata.yaml",
            key="reject_score",
        )
    out: list[Case] = []
    earlier: list[str] = []  # tests of the items before (for on_reject: break)
    brk = str(group.config.get("on_reject", "break")) == "break"
    for item in group.items:
        needs = before + (tuple(earlier) if brk else ())
        if isinstance(item, _Group):
            cases = _score_tree(item, root, needs)
        else:
            accept = _number(group.config.get("accept_score", 1), file=where, key="accept_score")
            if accept < 0:
                raise kattis_error("accept_score must be >= 0", file=where, key="accept_score")
            cases = [replace(item, points=accept, depends=needs)]
        out += cases
        earlier += [c.name for c in cases]
    if aggregate == "min" and out:
        if any(isinstance(item, _Group) for item in group.items):
            raise kattis_error(
                "grader_flags min over groups of groups is not supported",
                file=f"{where}/testdata.yaml",
                key="grader_flags",
                fix="use min in groups of test cases only",
            )
        points = min(c.points for c in out)
        last = out[-1]
        others = tuple(c.name for c in out[:-1])
        deps = tuple(dict.fromkeys(last.depends + others))
        out = [replace(c, points=0.0) for c in out[:-1]] + [
            replace(last, points=points, depends=deps)
        ]
    return out


def _cases(
    root: Path, flags: tuple[str, ...], *, scoring: bool, overrides: dict[str, Any]
) -> list[Case]:
    data = root / "data"
    if not data.is_dir():
        raise kattis_error(
            "no test data: expected data/sample/*.in and data/secret/*.in", file="data"
        )
    tree = _group_tree(root, data, dict(GROUP_DEFAULTS), flags, overrides)
    cases = _score_tree(tree, root) if scoring else tree.cases()
    if not cases:
        raise kattis_error(
            "no test data: expected data/sample/*.in and data/secret/*.in", file="data"
        )
    return cases


@dataclass(frozen=True)
class Submission:
    """One submission of ``submissions/``: a file, or a directory of files."""

    category: str  # its directory under submissions/
    name: str  # the file's or the directory's name
    files: dict[str, Path]  # its path in the submission -> the file
    environment: str
    expect: str  # "accepted", "partial" or a checking.Expect value

    @property
    def label(self) -> str:
        return f"submissions/{self.category}/{self.name}"


def _environment_of(names: list[str]) -> str | None:
    counts: dict[str, int] = {}
    for name in names:
        environment = SUFFIX_ENVIRONMENTS.get(Path(name).suffix)
        if environment is not None:
            counts[environment] = counts.get(environment, 0) + 1
    if not counts:
        return None
    return max(counts, key=lambda e: (counts[e], PRIORITY.get(e, 0)))


def _expected_results(files: dict[str, Path]) -> str | None:
    """The expectation of DOMjudge's ``@EXPECTED_RESULTS@`` comment, if the files have one:
    its one result; "partial" for several failures (only "not full marks" is checked);
    "" when ``CORRECT`` is one of several (nothing can be checked)."""
    for path in files.values():
        with path.open("rb") as source:
            head = source.read(EXPECTED_RESULTS_BYTES).decode(errors="replace")
        found = EXPECTED_RESULTS.search(head)
        if found:
            results = {r.strip() for r in found.group(1).replace(",", " ").split() if r.strip()}
            expects = {DOMJUDGE_RESULTS[r] for r in results if r in DOMJUDGE_RESULTS}
            if len(expects) == 1:
                return expects.pop()
            return "" if "accepted" in expects or not expects else "partial"
    return None


def _submissions(root: Path) -> tuple[list[Submission], list[str]]:
    """Every submission under ``submissions/`` and notes on what was left out."""
    base = root / "submissions"
    found: list[Submission] = []
    notes: list[str] = []
    if not base.is_dir():
        return found, notes
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        category = folder.name
        if category not in CATEGORIES:
            notes.append(f"submissions/{category}: not a known category, left out")
            continue
        for entry in sorted(folder.iterdir()):
            inside(root, entry)
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                files = {
                    p.relative_to(entry).as_posix(): inside(root, p)
                    for p in sorted(entry.rglob("*"))
                    if p.is_file() and not p.name.startswith(".")
                }
            else:
                files = {entry.name: entry}
            label = f"submissions/{category}/{entry.name}"
            environment = _environment_of(list(files))
            if len(files) > SUBMISSION_MAX_FILES:
                notes.append(f"{label}: more than {SUBMISSION_MAX_FILES} files, left out")
                continue
            if environment is None:
                if entry.is_dir() or entry.suffix not in (".md", ".txt", ".yaml", ".yml"):
                    notes.append(f"{label}: no language Assay has an environment for, left out")
                continue
            expect = CATEGORIES[category]
            domjudge = _expected_results(files)
            if domjudge == "":
                notes.append(f"{label}: @EXPECTED_RESULTS@ allows CORRECT and more: left out")
                continue
            if domjudge == "partial":
                notes.append(
                    f"{label}: @EXPECTED_RESULTS@ names several failures: checked "
                    "only to lose points"
                )
            if domjudge is not None:
                expect = domjudge
            found.append(Submission(category, entry.name, files, environment, expect))
    return found, notes


def _limits(root: Path, meta: dict[str, Any], legacy: bool) -> TimeRule:
    limits = meta.get("limits") or {}
    if not isinstance(limits, dict):
        raise kattis_error("must be a mapping", key="limits")
    values = dict(DEFAULT_LIMITS)
    for key in DEFAULT_LIMITS:
        if limits.get(key) is not None:
            values[key] = _number(limits[key], file=PROBLEM_YAML, key=f"limits.{key}")
            if values[key] <= 0:
                raise kattis_error("must be positive", key=f"limits.{key}")
    multipliers = limits.get("time_multipliers") or {}
    if not isinstance(multipliers, dict):
        raise kattis_error("must be a mapping", key="limits.time_multipliers")
    if legacy:
        multiplier = limits.get("time_multiplier", LEGACY_TIME_MULTIPLIER)
        margin = limits.get("time_safety_margin", LEGACY_SAFETY_MARGIN)
        resolution: Any = 1.0
    else:
        multiplier = multipliers.get("ac_to_time_limit", TIME_MULTIPLIER)
        margin = multipliers.get("time_limit_to_tle", SAFETY_MARGIN)
        resolution = limits.get("time_resolution", 1.0)
    fixed: Any = limits.get("time_limit")
    source = "problem.yaml limits.time_limit"
    timelimit_file = root / ".timelimit"  # DOMjudge's (and old problemtools') fixed limit
    if fixed is None and timelimit_file.is_file():
        fixed = next(iter(timelimit_file.read_text().split()), None)
        source = ".timelimit"
    rule = TimeRule(
        multiplier=_number(multiplier, file=PROBLEM_YAML, key="limits.time_multiplier"),
        safety_margin=_number(margin, file=PROBLEM_YAML, key="limits.time_safety_margin"),
        resolution=_number(resolution, file=PROBLEM_YAML, key="limits.time_resolution"),
        fixed=None if fixed is None else _number(fixed, file=PROBLEM_YAML, key=source),
        fixed_from=source if fixed is not None else "",
        memory_mib=int(values["memory"]),
        output_mib=int(values["output"]),
        code_kib=int(values["code"]),
        compilation_time_s=values["compilation_time"],
        compilation_memory_mib=int(values["compilation_memory"]),
    )
    if rule.multiplier < 1 or rule.safety_margin < 1 or rule.resolution <= 0:
        raise kattis_error("time multipliers must be >= 1 and time_resolution > 0", key="limits")
    if rule.fixed is not None and rule.fixed <= 0:
        raise kattis_error("time_limit must be positive", key="limits.time_limit")
    return rule


def _domjudge_ini(root: Path) -> dict[str, str]:
    """``domjudge-problem.ini``'s ``key = value`` lines (DOMjudge's name and timelimit)."""
    ini = root / DOMJUDGE_INI
    if not ini.is_file():
        return {}
    values = {}
    for line in inside(root, ini).read_text(errors="replace").splitlines()[:100]:
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip().strip("'\"")
    return values


@dataclass(frozen=True)
class TimeRule:
    """Kattis' limits: the time limit is fixed, or measured from the accepted submissions."""

    multiplier: float  # time limit = slowest accepted run x multiplier, rounded up ...
    safety_margin: float  # ... to resolution; runs are killed at limit x safety_margin
    resolution: float
    fixed: float | None  # problem.yaml time_limit or .timelimit: no measuring
    fixed_from: str
    memory_mib: int
    output_mib: int
    code_kib: int
    compilation_time_s: float
    compilation_memory_mib: int

    def time_limit(self, slowest_s: float) -> float:
        """problemtools' rule: max(1, ceil(slowest x multiplier / resolution)) x resolution."""
        if self.fixed is not None:
            return self.fixed
        steps = max(1, math.ceil(slowest_s * self.multiplier / self.resolution - 1e-9))
        return round(steps * self.resolution, 6)

    def limits(self, cpu_s: float) -> dict[str, Any]:
        """The [limits] table for a time limit of ``cpu_s``."""
        return {
            "cpu_time_s": cpu_s,
            "wall_time_s": round(max(cpu_s * self.safety_margin, cpu_s + 1), 6),
            "memory": f"{self.memory_mib}M",
            "output": f"{self.output_mib}M",
        }


@dataclass(frozen=True)
class KattisProblem:
    """What an import needs of a problem package."""

    root: Path
    title: str
    statement: str
    statement_is_tex: bool
    cases: list[Case]
    validator: Path | None  # the custom output validator's source file
    time: TimeRule
    submissions: list[Submission]
    notes: list[str]  # what was left out, for the import's output
    scoring: bool
    interactive: bool

    @property
    def accepted(self) -> list[Submission]:
        return [s for s in self.submissions if s.expect == "accepted"]


def read_problem(problem_dir: Path) -> KattisProblem:
    root = Path(problem_dir).resolve()
    domjudge = _domjudge_ini(root)
    if not (root / PROBLEM_YAML).is_file() and not domjudge:
        raise kattis_error(
            f"no {PROBLEM_YAML} in {root}", file=None, fix="give a Kattis problem directory"
        )
    meta = _load_yaml(root / PROBLEM_YAML) if (root / PROBLEM_YAML).is_file() else {}
    if "name" not in meta and domjudge.get("name"):
        meta["name"] = domjudge["name"]
    if domjudge.get("timelimit"):
        limits = meta.get("limits") if isinstance(meta.get("limits"), dict) else {}
        meta["limits"] = {"time_limit": domjudge["timelimit"], **(limits or {})}
    legacy = str(meta.get("problem_format_version", "legacy")).startswith("legacy")
    validation = str(meta.get("validation", "default")).split()
    types = meta.get("type", "pass-fail")
    types = types.split() if isinstance(types, str) else [str(t) for t in types or []]
    interactive = "interactive" in validation or "interactive" in types
    if "multi-pass" in types or "multi-pass" in validation:
        raise kattis_error("multi-pass problems cannot be imported", key="type")
    if "score" in validation:
        raise kattis_error(
            "validators that give scores (validation: custom score) are not supported",
            key="validation",
            fix="let the groups' accept_score give the points",
        )
    scoring = "scoring" in types
    flags = _flags(meta.get("validator_flags"), file=PROBLEM_YAML, key="validator_flags")
    validator = _validator(root)
    custom = (
        validation[:1] == ["custom"]
        or interactive
        or (validator is not None and "validation" not in meta)
    )
    if custom and validator is None:
        raise kattis_error(
            "validation is custom but there is no output validator", key="validation"
        )
    grading = meta.get("grading") or {}
    if not isinstance(grading, dict):
        raise kattis_error("must be a mapping", key="grading")
    if grading.get("objective", "max") != "max":
        raise kattis_error("only objective: max is supported", key="grading.objective")
    overrides = {
        k: grading[k] for k in ("accept_score", "reject_score") if grading.get(k) is not None
    }
    on_reject = grading.get("on_reject")
    if on_reject is not None:
        overrides["on_reject"] = "continue" if on_reject == "grade" else "break"
    cases = _cases(root, flags, scoring=scoring, overrides=overrides)
    if not custom:
        for case in cases:
            default_checker(case.flags)  # bad flags are found before anything is written
    statement, is_tex = _statement(root)
    submissions, notes = _submissions(root)
    return KattisProblem(
        root=root,
        title=_title(meta, statement, root.name),
        statement=statement,
        statement_is_tex=is_tex,
        cases=cases,
        validator=validator if custom else None,
        time=_limits(root, meta, legacy),
        submissions=submissions,
        notes=notes,
        scoring=scoring,
        interactive=interactive,
    )
