"""Import a Gradescope autograder (a zip or a directory) as an assignment package.

The package keeps the autograder's files unchanged under ``autograder/``; its
``[environment]`` puts them at ``/autograder/source`` and runs their ``setup.sh``
through ``SETUP_WRAPPER`` (``layout``); one ``[[tests]]`` entry of kind
``gradescope`` runs ``run_autograder``. With a reference submission the import
grades it once to learn the points and the tests its results list (recorded as
``expected_tests``, which the forgery check compares with), then the package is
checked (reference at full marks, each known-bad one below).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.errors import PackageError, SubmissionError
from assay.files.fileset import FileSet
from assay.grading.archive import ArchiveLimits
from assay.grading.checking import CheckReport, check_package
from assay.grading.destination import prepare_destination
from assay.grading.engine import grade
from assay.grading.gradescope.layout import BUILT_DIR, REQUIRED, SETUP_WRAPPER, SOURCE_DIR
from assay.grading.kattis import toml_value
from assay.grading.loader import load_package
from assay.grading.outcome import TestOutcome
from assay.grading.package import MANIFEST
from assay.grading.report import GradeReport
from assay.grading.spec import NAME_PATTERN
from assay.grading.submission import load_submission
from assay.sandbox.base import SandboxBackend
from assay.sandbox.environments import Environment

AUTOGRADER_LIMITS = ArchiveLimits(
    max_total_bytes=64 * 1024 * 1024, max_entries=2000, max_file_bytes=64 * 1024 * 1024
)
WRAPPER = "gradescope-setup.sh"
ENTRY = "autograder"
MANAGED = (MANIFEST, "statement.md", "autograder", WRAPPER, "solution", "bad")
# The entry's points while the reference is graded to learn the real total: the
# kind caps a results.json's score at its entry's points, and nothing should be
# capped before the total is known.
LEARNING_POINTS = 1e9

# Gradescope's default timeout is ten minutes; its containers are generous with memory
DEFAULT_LIMITS = {
    "cpu_time_s": 600,
    "wall_time_s": 600,
    "memory": "2G",
    "pids": 256,
    "workspace": "512M",
    "output": "4M",
}


@dataclass(frozen=True)
class GradescopeImport:
    """What an import wrote and, with a reference submission, what grading it gave."""

    path: Path
    points: float
    reference: GradeReport | None = None
    check: CheckReport | None = None


def read_autograder(source: Path) -> FileSet:
    """The autograder's files (a zip or a directory), with Gradescope's rule checked:
    ``setup.sh`` and ``run_autograder`` at the top."""
    try:
        files = load_submission(source, AUTOGRADER_LIMITS)
    except SubmissionError as exc:
        raise PackageError(f"cannot read the autograder {source}: {exc.message}") from exc
    names = {f.path for f in files.files}
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        nested = sorted({n.split("/", 1)[0] for n in names if n.endswith(f"/{missing[0]}")})
        fix = (
            f"zip the files, not the folder {nested[0]}/ (Gradescope's rule too)"
            if nested
            else "an autograder has setup.sh and run_autograder at the top of its zip"
        )
        raise PackageError(f"the autograder has no {' or '.join(missing)} at its top", fix=fix)
    return files


def package_name(source: Path, name: str | None = None) -> str:
    """The assignment's name: ``name``, else the zip's or directory's, as a slug."""
    return _slug(name or source.resolve().name.removesuffix(".zip"))


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")[:64]
    if not re.fullmatch(NAME_PATTERN, slug):
        raise PackageError(f"cannot make an assignment name from {text!r}", fix="pass --name")
    return slug


def _write_files(files: FileSet, folder: Path) -> None:
    for file in files.files:
        target = folder / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.data)
        target.chmod(0o755 if file.executable or file.path == "run_autograder" else 0o644)


def _copy_submission(source: Path, target: Path) -> None:
    files = load_submission(source)  # refuses links and oversize, like a real submission
    _write_files(files, target)


def _manifest(  # noqa: PLR0917 - one private caller
    slug: str,
    title: str,
    files: FileSet,
    points: float,
    expected: Sequence[dict[str, Any]],
    bad: Sequence[str],
) -> str:
    lines = [
        "# Imported by `assay assignment import-gradescope`: the autograder is unchanged in",
        "# autograder/; see docs/gradescope.md.",
        "[assignment]",
        f"name = {toml_value(slug)}",
        f"title = {toml_value(title)}",
        "",
        "# one run_autograder covers every test; Gradescope's default timeout is ten minutes",
        "[limits]",
        *(f"{k} = {toml_value(v)}" for k, v in DEFAULT_LIMITS.items()),
        "",
        "[environment]",
        f"name = {toml_value(f'gradescope-{slug}'[:64].rstrip('-._'))}",
        f"description = {toml_value(f'Gradescope autograder of {slug}, built by its setup.sh')}",
        'base = "bookworm"',
        f"setup = {toml_value(WRAPPER)}",
        f"probe = {toml_value(['test', '-x', f'{BUILT_DIR}/run_autograder'])}",
        "",
        "[environment.files]",
    ]
    for file in sorted(files.files, key=lambda f: f.path):
        mode = "0o755" if file.executable or file.path == "run_autograder" else "0o644"
        entry = f"{{ source = {toml_value(f'autograder/{file.path}')}, mode = {mode} }}"
        lines.append(f"{toml_value(f'{SOURCE_DIR}/{file.path}')} = {entry}")
    lines += [
        "",
        "[[tests]]",
        f"name = {toml_value(ENTRY)}",
        'kind = "gradescope"',
        f"points = {toml_value(float(round(points, 4)))}",
    ]
    if expected:
        lines.append("expected_tests = [")
        lines += [f"  {toml_value(dict(e))}," for e in expected]
        lines.append("]")
    for path in bad:
        lines += ["", "[[known_bad]]", f"path = {toml_value(path)}"]
    return "\n".join(lines) + "\n"


def _expected(rows: Sequence[TestOutcome]) -> list[dict[str, Any]]:
    """The reference run's test rows (the summary row is the entry itself)."""
    prefix = f"{ENTRY} :: "
    return [
        {"name": o.name.removeprefix(prefix), "max_score": o.max_score}
        for o in rows
        if o.name.startswith(prefix)
    ]


def _reference_points(report: GradeReport) -> float:
    """The points a reference run shows: its tests' maxima, or the total its
    results set with a top-level score (the summary row then carries it)."""
    summary = next((o for o in report.tests if o.name == ENTRY), None)
    if summary is None or summary.staff_detail is None:
        raise PackageError("the reference submission's results could not be read")
    if summary.max_score > 0:
        return summary.score
    return max(sum(o.max_score for o in report.tests if o.name != ENTRY), summary.score)


def _reference_problem(report: GradeReport) -> str:
    """Why the reference run gave no usable results, or ``""``."""
    if report.staff_error:
        return report.staff_error
    rows = [o for o in report.tests if o.name == ENTRY]
    if len(report.tests) == 1 and rows and not rows[0].passed and rows[0].score <= 0:
        return f"{rows[0].message}\n{rows[0].staff_detail or ''}".strip()
    return ""


def import_gradescope(
    source: Path,
    dest: Path,
    *,
    backend: SandboxBackend | None = None,
    name: str | None = None,
    solution: Path | None = None,
    bad: Sequence[Path] = (),
    points: float | None = None,
    force: bool = False,
    prepare: Callable[[Environment], None] | None = None,
) -> GradescopeImport:
    """Write the package for the autograder ``source`` at ``dest``.

    With ``solution`` (and a ``backend``), the reference is graded once to learn the
    points and expected tests, then the package is checked. Without it, ``points``
    is required (Gradescope keeps an assignment's total in its settings, not in
    the autograder). ``prepare`` is called with the package's environment before the
    reference is graded (the CLI builds it there, showing the build's progress).
    """
    files = read_autograder(source)
    if solution is None and points is None:
        raise PackageError(
            "the assignment's points are unknown",
            fix="pass --points, or --solution to learn them from a reference run",
        )
    if solution is not None and backend is None:
        raise PackageError("grading the reference submission needs a sandbox backend")
    slug = package_name(source, name)
    title = f"{slug} (a Gradescope autograder)"
    prepare_destination(dest, force=force, managed=MANAGED)
    _write_files(files, dest / "autograder")
    (dest / WRAPPER).write_text(SETUP_WRAPPER, encoding="utf-8")
    (dest / WRAPPER).chmod(0o755)
    (dest / "statement.md").write_text(
        f"# {slug}\n\nGraded by a Gradescope autograder (its `run_autograder`).\n",
        encoding="utf-8",
    )
    bad_paths: list[str] = []
    for index, path in enumerate(bad, 1):
        rel = f"bad/{index}-{_slug(path.resolve().name)}"
        _copy_submission(path, dest / rel)
        bad_paths.append(rel)

    def write(pts: float, expected: Sequence[dict[str, Any]]) -> None:
        manifest = _manifest(slug, title, files, pts, expected, bad_paths)
        (dest / MANIFEST).write_text(manifest, encoding="utf-8")

    if solution is None or backend is None:
        write(points or 0.0, [])
        with load_package(dest):
            pass  # what we wrote must be a valid package
        return GradescopeImport(dest, points or 0.0)
    _copy_submission(solution, dest / "solution")
    write(points if points is not None else LEARNING_POINTS, [])
    with load_package(dest) as package:
        if prepare is not None:
            prepare(package.environment)
        reference = grade(package, load_submission(dest / "solution"), backend=backend, seed=0)
    problem = _reference_problem(reference)
    if problem:
        raise PackageError(
            f"the reference submission gave no Gradescope results: {problem}",
            fix="run the autograder on it by hand (docs/gradescope.md)",
        )
    expected = _expected(reference.tests)
    learned = points if points is not None else _reference_points(reference)
    write(learned, expected)
    with load_package(dest) as package:
        check = check_package(package, backend)
    return GradescopeImport(dest, learned, reference, check)
