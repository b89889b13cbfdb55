"""Reading a Kattis / ICPC problem package (both the legacy and the 2023-07 layout).

``problem.yaml`` (name, ``validation``, ``validator_flags``, ``limits``),
``problem_statement/`` (or ``statement/``), ``data/sample`` and
``data/secret`` (``*.in`` / ``*.ans``, nested groups too; a ``testdata.yaml``
with ``output_validator_flags`` overrides the flags below it),
``output_validators/`` (or ``output_validator/``: one ``.py``/``.c``/``.cc``/
``.cpp`` file) and ``submissions/``. Everything read must stay inside the
problem directory (links are followed only within it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from assay.errors import PackageError
from assay.grading.checkers import parse_checker

PROBLEM_YAML = "problem.yaml"
DEFAULT_TIME_LIMIT_S = 2.0  # Kattis derives it from accepted solutions; we cannot measure here
DEFAULT_OUTPUT_MIB = 8  # the Kattis default output limit
SOURCE_SUFFIXES = (".py", ".c", ".cc", ".cpp")
SUFFIX_ENVIRONMENTS = {".py": "python3", ".c": "c", ".cc": "cpp", ".cpp": "cpp", ".java": "java"}
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


def _cases(root: Path, flags: tuple[str, ...]) -> list[Case]:
    data = root / "data"
    cases: list[Case] = []
    flag_cache: dict[Path, tuple[str, ...]] = {}

    def flags_for(directory: Path) -> tuple[str, ...]:
        if directory not in flag_cache:
            inherited = flags if directory == data else flags_for(directory.parent)
            testdata = directory / "testdata.yaml"
            if testdata.is_file():
                meta = _load_yaml(testdata)
                for key in ("output_validator_flags", "output_validator_args"):
                    if key in meta:
                        inherited = _flags(meta[key], file=str(testdata.relative_to(root)), key=key)
            flag_cache[directory] = inherited
        return flag_cache[directory]

    for part, hidden in (("sample", False), ("secret", True)):
        for source in sorted((data / part).rglob("*.in")) if (data / part).is_dir() else []:
            inside(root, source)
            answer = source.with_suffix(".ans")
            if not answer.is_file():
                rel = answer.relative_to(root)
                raise kattis_error(f"{rel} is missing", file=str(rel), fix="add the answer file")
            inside(root, answer)
            rel = source.relative_to(data).with_suffix("")
            group = rel.parent.as_posix()
            cases.append(Case(rel.as_posix(), group, hidden, source, flags_for(source.parent)))
    if not cases:
        raise kattis_error(
            "no test data: expected data/sample/*.in and data/secret/*.in", file="data"
        )
    return cases


def _submissions(root: Path, verdict: str) -> list[Path]:
    folder = root / "submissions" / verdict
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix in SUFFIX_ENVIRONMENTS]


def java_class(source: Path) -> str:
    found = re.search(r"public\s+(?:final\s+)?class\s+(\w+)", source.read_text(errors="replace"))
    return found.group(1) if found else "Main"


def _limits(root: Path, meta: dict[str, Any]) -> dict[str, Any]:
    limits = meta.get("limits") or {}
    if not isinstance(limits, dict):
        raise kattis_error("must be a mapping", key="limits")
    time_limit = limits.get("time_limit")
    timelimit_file = root / ".timelimit"  # written by Kattis' problemtools after measuring
    if time_limit is None and timelimit_file.is_file():
        time_limit = next(iter(timelimit_file.read_text().split()), None)
    try:
        cpu = float(time_limit) if time_limit is not None else DEFAULT_TIME_LIMIT_S
        out: dict[str, Any] = {"cpu_time_s": cpu, "wall_time_s": max(2 * cpu, cpu + 2)}
        if limits.get("memory") is not None:
            out["memory"] = f"{int(limits['memory'])}M"
        out["output"] = f"{int(limits.get('output') or DEFAULT_OUTPUT_MIB)}M"
    except (TypeError, ValueError) as exc:
        raise kattis_error(f"a limit is not a number: {exc}", key="limits") from exc
    if cpu <= 0:
        raise kattis_error("time_limit must be positive", key="limits.time_limit")
    return out


@dataclass(frozen=True)
class KattisProblem:
    """What an import needs of a problem package."""

    root: Path
    title: str
    statement: str
    statement_is_tex: bool
    cases: list[Case]
    validator: Path | None  # the custom output validator's source file
    limits: dict[str, Any]  # [limits] of the assignment
    accepted: list[Path]
    wrong_answer: list[Path]


def read_problem(problem_dir: Path) -> KattisProblem:
    root = Path(problem_dir).resolve()
    if not (root / PROBLEM_YAML).is_file():
        raise kattis_error(
            f"no {PROBLEM_YAML} in {root}", file=None, fix="give a Kattis problem directory"
        )
    meta = _load_yaml(root / PROBLEM_YAML)
    validation = str(meta.get("validation", "default")).split()
    types = meta.get("type", "pass-fail")
    types = types.split() if isinstance(types, str) else [str(t) for t in types or []]
    if "interactive" in validation or {"interactive", "multi-pass"} & set(types):
        raise kattis_error("interactive problems cannot be imported", key="validation")
    flags = _flags(meta.get("validator_flags"), file=PROBLEM_YAML, key="validator_flags")
    validator = _validator(root)
    custom = validation[:1] == ["custom"] or (validator is not None and "validation" not in meta)
    if custom and validator is None:
        raise kattis_error(
            "validation is custom but there is no output validator", key="validation"
        )
    cases = _cases(root, flags)
    if not custom:
        for case in cases:
            default_checker(case.flags)  # bad flags are found before anything is written
    statement, is_tex = _statement(root)
    return KattisProblem(
        root=root,
        title=_title(meta, statement, root.name),
        statement=statement,
        statement_is_tex=is_tex,
        cases=cases,
        validator=validator if custom else None,
        limits=_limits(root, meta),
        accepted=_submissions(root, "accepted"),
        wrong_answer=_submissions(root, "wrong_answer"),
    )
