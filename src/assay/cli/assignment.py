"""``assay assignment init | check | import-kattis | import-gradescope``: write and prove
packages."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Protocol, cast

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from assay.cli.console import err, fail
from assay.cli.envbuild import ensure_tree
from assay.cli.grade import (
    BackendOpt,
    ProgressDisplay,
    grading_options,
    input_error,
    progress_bar,
    safe,
)
from assay.cli.lazy import LazyCommand, lazy_group
from assay.config import get_settings
from assay.errors import AssayError, PackageError
from assay.grading.checking import CheckReport, check_package
from assay.grading.context import NullProgress, Progress
from assay.grading.loader import load_package
from assay.grading.scaffold import DEFAULT_TITLE, LANGUAGES, scaffold_package
from assay.sandbox.backends import DEFAULT_BACKEND
from assay.sandbox.environments import Environment
from assay.sandbox.envs.resolve import store_from_settings

if TYPE_CHECKING:
    from assay.grading.gradescope_import import GradescopeImport
    from assay.grading.kattis import KattisImport

EXIT_CHECK_FAILED = 1

# `upload` needs the services layer (SQLAlchemy): loaded only when it runs.
COMMANDS = {
    "upload": LazyCommand(
        "assay.cli.upload:upload_command",
        "Upload an assignment package to a server: a new assignment, or a new version.",
    )
}
app = typer.Typer(
    cls=lazy_group(COMMANDS),
    help="Create, check and import assignment packages.",
    no_args_is_help=True,
)


@app.command("init")
def init(
    name: Annotated[str, typer.Argument(help="Assignment name (a slug: lowercase, digits, -_.).")],
    language: Annotated[
        str, typer.Option("--language", "-l", help=f"One of: {', '.join(LANGUAGES)}.")
    ],
    parent: Annotated[
        Path, typer.Option("--dir", help="Create the package in this directory.")
    ] = Path(),
    title: Annotated[str, typer.Option("--title", help="The assignment's title.")] = DEFAULT_TITLE,
) -> None:
    """Scaffold a package (io tests, reference solution, a known-bad one) that passes check."""
    try:
        path = scaffold_package(name, language, parent, title=title)
    except AssayError as exc:
        raise fail(exc) from None
    typer.echo(f"created {path}")
    typer.echo(f"next: edit {path / 'assignment.toml'}, then run: assay assignment check {path}")


@app.command("check")
def check(
    directory: Annotated[Path, typer.Argument(help="Package directory or archive.")],
    backend: BackendOpt = DEFAULT_BACKEND,
) -> None:
    """Validate the package, grade its reference solution (full marks) and known-bad ones."""
    try:
        sandbox, parallel_runs = grading_options(backend)
        try:
            package = load_package(directory)
        except PackageError as exc:
            fail(exc)  # an invalid package fails the check: exit 1 like any other reason
            raise typer.Exit(EXIT_CHECK_FAILED) from None
        with package:
            prepare_environment(package.environment)
            with progress_bar() as bar:
                display: Progress = ProgressDisplay(bar) if not bar.disable else NullProgress()
                report = check_package(
                    package, sandbox, parallel_runs=parallel_runs, progress=display
                )
    except AssayError as exc:
        raise fail(exc) from None
    print_check(report, Console())
    if not report.ok:
        for reason in report.reasons:
            err.print(Text(f"check failed: {safe(reason)}", "bold red"))
        raise typer.Exit(EXIT_CHECK_FAILED)


def prepare_environment(environment: Environment) -> None:
    """Build the package's environment first if this machine lacks it, showing the
    build (a cached one costs a lookup and prints nothing)."""
    store = store_from_settings(get_settings())
    if store.lookup(environment.key, touch=False) is None:
        err.print(
            f"environment {safe(environment.name)} ({environment.key[:12]}) is not built on this "
            "machine yet: building it once, before the check",
            highlight=False,
        )
        ensure_tree(store, environment.plan, err)


def print_check(report: CheckReport, console: Console) -> None:
    table = Table(title=Text(f"{report.assignment}: max score {report.max_score:g}"))
    for column in ("submission", "expected", "score", "result"):
        table.add_column(column)
    for entry in report.entries:
        score = "" if entry.report is None else f"{entry.report.score:g}"
        result = Text("ok", "green") if entry.ok else Text(safe(entry.problem), "red")
        table.add_row(Text(safe(entry.label)), entry.expectation, score, result)
    console.print(table)
    verdict = Text("check passed", "bold green") if report.ok else Text("check failed", "bold red")
    console.print(verdict)


@app.command("import-kattis")
def import_kattis_command(
    directory: Annotated[
        Path, typer.Argument(help="Kattis / ICPC / DOMjudge problem package directory.")
    ],
    dest: Annotated[
        Path, typer.Option("--dest", help="Create the assignment in this directory.")
    ] = Path(),
    name: Annotated[
        str | None,
        typer.Option("--name", help="Assignment name (default: the problem directory's name)."),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            "--language",
            "-l",
            help="The submissions' language: an environment (python3, c, cpp, java, kotlin, "
            "javascript, typescript, go, rust, ruby, r, haskell, bash; default: that of most "
            "submissions), or all: one package per language with an accepted submission, "
            "named NAME-LANGUAGE.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an earlier import in that directory.")
    ] = False,
    no_check: Annotated[
        bool,
        typer.Option(
            "--no-check",
            help="Only convert: no time limit measured, no check (nothing runs).",
        ),
    ] = False,
    backend: BackendOpt = DEFAULT_BACKEND,
) -> None:
    """Convert a Kattis problem package (problem.yaml, data/, output_validators/,
    submissions/), measure its time limit from the accepted submissions and check it."""
    target = dest / (name or directory.resolve().name)
    try:
        kattis = importlib.import_module("assay.grading.kattis")
        base = name or directory.resolve().name
        languages = kattis.languages_of(directory) if language == "all" else [language]
        if no_check:
            for each in languages:
                each_name = f"{base}-{each}" if language == "all" else name
                path = cast(_KattisImporter, kattis.import_kattis)(
                    directory,
                    dest / each_name if each_name else target,
                    name=each_name,
                    language=each,
                    force=force,
                )
                typer.echo(f"created {path}")
                typer.echo(f"next: assay assignment check {path}")
            return
        sandbox, parallel_runs = grading_options(backend)
        imports: list[KattisImport] = []
        for each in languages:
            each_name = f"{base}-{each}" if language == "all" else name
            with progress_bar() as bar:
                display: Progress = ProgressDisplay(bar) if not bar.disable else NullProgress()
                imports.append(
                    kattis.import_and_check(
                        directory,
                        dest / each_name if each_name else target,
                        backend=sandbox,
                        parallel_runs=parallel_runs,
                        progress=display,
                        prepare=prepare_environment,
                        name=each_name,
                        language=each,
                        force=force,
                    )
                )
            _print_kattis_import(imports[-1], imported=languages)
            print_check(imports[-1].check, Console())
    except PackageError as exc:
        raise input_error(exc) from None
    except AssayError as exc:
        raise fail(exc) from None
    failed = [reason for done in imports for reason in done.check.reasons]
    for reason in failed:
        err.print(Text(f"check failed: {safe(reason)}", "bold red"))
    if failed:
        raise typer.Exit(EXIT_CHECK_FAILED)


def _print_kattis_import(done: KattisImport, imported: list[str | None]) -> None:
    """What the Kattis import wrote: language, time limit and what it left out (but not
    the submissions of the ``imported`` languages' packages)."""
    written = done.written
    typer.echo(f"created {done.path} ({written.language.environment})")
    if done.slowest_s is None:
        why = "fixed by the problem" if written.problem.time.fixed else "no accepted run to measure"
        typer.echo(f"time limit: {done.time_limit_s:g} s ({why})")
    else:
        typer.echo(
            f"time limit: {done.time_limit_s:g} s (slowest accepted run "
            f"{done.slowest_s:.3f} s x {written.problem.time.multiplier:g})"
        )
    for note in written.notes:
        if not any(f"--language {each} to check" in note for each in imported if each):
            typer.echo(safe(f"note: {note}"))


class _KattisImporter(Protocol):
    def __call__(
        self,
        problem_dir: Path,
        dest: Path,
        *,
        name: str | None = None,
        language: str | None = None,
        force: bool = False,
    ) -> Path: ...


@app.command("import-gradescope")
def import_gradescope_command(
    source: Annotated[
        Path, typer.Argument(help="The autograder: its zip, or a directory with the same files.")
    ],
    dest: Annotated[
        Path, typer.Option("--dest", help="Create the assignment in this directory.")
    ] = Path(),
    name: Annotated[
        str | None,
        typer.Option("--name", help="Assignment name (default: the zip's or directory's name)."),
    ] = None,
    solution: Annotated[
        Path | None,
        typer.Option(
            "--solution",
            help="A reference submission: graded once to learn the points and tests, "
            "then the package is checked (builds the environment).",
        ),
    ] = None,
    bad: Annotated[
        list[Path] | None,
        typer.Option(
            "--bad", metavar="PATH", help="A wrong submission to keep as known-bad (repeatable)."
        ),
    ] = None,
    points: Annotated[
        float | None,
        typer.Option("--points", help="The assignment's points (default: the reference's)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an earlier import in that directory.")
    ] = False,
    backend: BackendOpt = DEFAULT_BACKEND,
) -> None:
    """Convert a Gradescope autograder (setup.sh, run_autograder) into a package, unchanged."""
    try:
        package_name, import_gradescope = _gradescope_importer()
        target = dest / package_name(source, name)
        sandbox = grading_options(backend)[0] if solution is not None else None
        done = import_gradescope(
            source,
            target,
            backend=sandbox,
            name=name,
            solution=solution,
            bad=bad or (),
            points=points,
            force=force,
            prepare=prepare_environment,
        )
    except PackageError as exc:
        raise input_error(exc) from None
    except AssayError as exc:
        raise fail(exc) from None
    typer.echo(f"created {done.path} ({done.points:g} points)")
    if done.check is None:
        typer.echo(f"next: assay assignment check {done.path}")
        return
    print_check(done.check, Console())
    if not done.check.ok:
        for reason in done.check.reasons:
            err.print(Text(f"check failed: {safe(reason)}", "bold red"))
        raise typer.Exit(EXIT_CHECK_FAILED)


def _gradescope_importer() -> tuple[
    Callable[[Path, str | None], str], Callable[..., GradescopeImport]
]:
    """``package_name`` and ``import_gradescope`` of ``assay.grading.gradescope_import``,
    loaded on use (it writes TOML with the Kattis importer's writer, which loads PyYAML)."""
    module = importlib.import_module("assay.grading.gradescope_import")
    return (
        cast("Callable[[Path, str | None], str]", module.package_name),
        cast("Callable[..., GradescopeImport]", module.import_gradescope),
    )


@app.command("import-prairielearn")
def import_prairielearn_command(
    question: Annotated[
        Path,
        typer.Argument(help="PrairieLearn question directory (info.json, question.html, tests/)."),
    ],
    dest: Annotated[
        Path, typer.Option("--dest", help="Create the assignment in this directory.")
    ] = Path(),
    name: Annotated[
        str | None,
        typer.Option("--name", help="Assignment name (default: the question directory's name)."),
    ] = None,
    solution: Annotated[
        Path | None,
        typer.Option(
            "--solution",
            help="A correct submission (a file or a directory); default: the question's "
            "tests/ans.py.",
        ),
    ] = None,
    bad: Annotated[
        list[Path] | None,
        typer.Option(
            "--bad", metavar="PATH", help="A wrong submission to keep as known-bad (repeatable)."
        ),
    ] = None,
    no_check: Annotated[
        bool, typer.Option("--no-check", help="Write the package only; do not check it.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an earlier import in that directory.")
    ] = False,
    backend: BackendOpt = DEFAULT_BACKEND,
) -> None:
    """Convert an externally graded PrairieLearn Python question, then check the package."""
    module = importlib.import_module("assay.grading.prairielearn_import")
    try:
        target = dest / module.package_name(question, name)
        sandbox = None if no_check else grading_options(backend)[0]
        with progress_bar() as bar:
            display: Progress = ProgressDisplay(bar) if not bar.disable else NullProgress()
            done = module.import_prairielearn(
                question,
                target,
                backend=sandbox,
                name=name,
                solution=solution,
                bad=bad or (),
                force=force,
                prepare=prepare_environment,
                progress=display,
            )
    except PackageError as exc:
        raise input_error(exc) from None
    except AssayError as exc:
        raise fail(exc) from None
    typer.echo(f"created {done.path} ({done.points:g} points, {len(done.question.tests)} tests)")
    for note in done.question.notes:
        err.print(Text(f"not imported: {safe(note)}", "yellow"))
    _finish_import(done.check, done.path)


def _finish_import(report: CheckReport | None, path: Path) -> None:
    """Show an importer's check (or the next step when it did not run); exit 1 if it failed."""
    if report is None:
        typer.echo(f"next: assay assignment check {path}")
        return
    print_check(report, Console())
    if not report.ok:
        for reason in report.reasons:
            err.print(Text(f"check failed: {safe(reason)}", "bold red"))
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command("import-check50")
def import_check50_command(
    problem: Annotated[
        Path, typer.Argument(help="check50 problem directory (.cs50.yml and __init__.py).")
    ],
    solution: Annotated[
        Path,
        typer.Option("--solution", help="A correct submission (a directory, or one file)."),
    ],
    dest: Annotated[
        Path, typer.Option("--dest", help="Create the assignment in this directory.")
    ] = Path(),
    name: Annotated[
        str | None,
        typer.Option("--name", help="Assignment name (default: the problem directory's name)."),
    ] = None,
    bad: Annotated[
        list[Path] | None,
        typer.Option(
            "--bad", metavar="PATH", help="A wrong submission to keep as known-bad (repeatable)."
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Fail if any check cannot be translated."),
    ] = False,
    no_check: Annotated[
        bool, typer.Option("--no-check", help="Write the package only; do not check it.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an earlier import in that directory.")
    ] = False,
    backend: BackendOpt = DEFAULT_BACKEND,
) -> None:
    """Translate a check50 problem's checks into tests, then check the package."""
    module = importlib.import_module("assay.grading.check50_import")
    try:
        target = dest / module.package_name(problem, name)
        sandbox = None if no_check else grading_options(backend)[0]
        with progress_bar() as bar:
            display: Progress = ProgressDisplay(bar) if not bar.disable else NullProgress()
            done = module.import_check50(
                problem,
                target,
                solution=solution,
                backend=sandbox,
                name=name,
                bad=bad or (),
                strict=strict,
                force=force,
                prepare=prepare_environment,
                progress=display,
            )
    except PackageError as exc:
        raise input_error(exc) from None
    except AssayError as exc:
        raise fail(exc) from None
    translated = sum(1 for c in done.problem.checks if c.translated)
    typer.echo(
        f"created {done.path} ({len(done.problem.tests)} tests from {translated} of "
        f"{len(done.problem.checks)} checks)"
    )
    for problem_item in done.problem.untranslated:
        err.print(Text(f"not translated: {safe(str(problem_item))}", "yellow"))
    for note in done.problem.notes:
        err.print(Text(f"note: {safe(note)}", "yellow"))
    if done.problem.untranslated:
        err.print(f"(listed in {safe(str(done.path / 'NOTES.md'))})", highlight=False)
    _finish_import(done.check, done.path)
