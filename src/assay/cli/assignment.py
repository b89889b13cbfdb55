"""``assay assignment init | check | import-kattis | import-gradescope``: write and prove
packages."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
    from assay.grading.check50_import import Check50Import
    from assay.grading.gradescope_import import GradescopeImport
    from assay.grading.kattis import KattisImport
    from assay.grading.prairielearn_import import PrairieLearnImport

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
            with _progress() as display:
                report = check_package(
                    package, sandbox, parallel_runs=parallel_runs, progress=display
                )
    except AssayError as exc:
        raise fail(exc) from None
    _show_check(report, directory)


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


DestOpt = Annotated[Path, typer.Option("--dest", help="Create the assignment in this directory.")]
ProblemNameOpt = Annotated[
    str | None,
    typer.Option("--name", help="Assignment name (default: the problem directory's name)."),
]
BadOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--bad", metavar="PATH", help="A wrong submission to keep as known-bad (repeatable)."
    ),
]
NoCheckOpt = Annotated[
    bool, typer.Option("--no-check", help="Write the package only; do not check it.")
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Replace an earlier import in that directory.")
]


@contextmanager
def _import_errors() -> Iterator[None]:
    """An importer's errors as the CLI reports them: a package error (the input is
    wrong) on one line with the usage exit code, any other ``AssayError`` as a failure."""
    try:
        yield
    except PackageError as exc:
        raise input_error(exc) from None
    except AssayError as exc:
        raise fail(exc) from None


@contextmanager
def _progress() -> Iterator[Progress]:
    """The engine's progress as a spinner line on stderr (nothing when it is not a terminal)."""
    with progress_bar() as bar:
        yield ProgressDisplay(bar) if not bar.disable else NullProgress()


def _run_importer(
    importer: str,
    source: Path,
    dest: Path,
    *,
    name: str | None,
    bad: list[Path] | None,
    force: bool,
    backend: str | None,
    progress: bool = True,
    **options: object,
) -> Any:
    """Run ``importer`` (``module:function``; the module is loaded only now, importers
    load PyYAML and more) on ``source``, into the package its module's ``package_name``
    names in ``dest``, checked in the sandbox ``backend`` names (``None``: not checked,
    nothing runs), with the options all importers take and the importer's own
    ``options``; it is passed a progress display unless ``progress`` is false. Errors are
    reported as ``_import_errors`` does; returns what the importer returns."""
    module_name, function = importer.split(":")
    with _import_errors():
        module = importlib.import_module(module_name)
        target = dest / module.package_name(source, name)
        sandbox = None if backend is None else grading_options(backend)[0]
        run = partial(
            getattr(module, function),
            source,
            target,
            backend=sandbox,
            name=name,
            bad=bad or (),
            force=force,
            prepare=prepare_environment,
            **options,
        )
        if not progress:
            return run()
        with _progress() as display:
            return run(progress=display)


def _show_check(report: CheckReport | None, path: Path) -> None:
    """Show a package's check (or, after an import that did not check, the next step);
    exit 1 if it failed."""
    if report is None:
        typer.echo(f"next: assay assignment check {path}")
        return
    print_check(report, Console())
    if not report.ok:
        for reason in report.reasons:
            err.print(Text(f"check failed: {safe(reason)}", "bold red"))
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command("import-kattis")
def import_kattis_command(
    directory: Annotated[
        Path, typer.Argument(help="Kattis / ICPC / DOMjudge problem package directory.")
    ],
    dest: DestOpt = Path(),
    name: ProblemNameOpt = None,
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
    force: ForceOpt = False,
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
    base = name or directory.resolve().name
    imports: list[KattisImport] = []
    with _import_errors():
        kattis = importlib.import_module("assay.grading.kattis")
        languages = kattis.languages_of(directory) if language == "all" else [language]
        # one package per language: NAME-LANGUAGE with ``all``, else the one named
        targets = {each: f"{base}-{each}" if language == "all" else name for each in languages}
        if no_check:
            for each, each_name in targets.items():
                path = kattis.import_kattis(
                    directory,
                    dest / (each_name or base),
                    name=each_name,
                    language=each,
                    force=force,
                )
                typer.echo(f"created {path}")
                typer.echo(f"next: assay assignment check {path}")
            return
        sandbox, parallel_runs = grading_options(backend)
        for each, each_name in targets.items():
            with _progress() as display:
                imports.append(
                    kattis.import_and_check(
                        directory,
                        dest / (each_name or base),
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


@app.command("import-gradescope")
def import_gradescope_command(
    source: Annotated[
        Path, typer.Argument(help="The autograder: its zip, or a directory with the same files.")
    ],
    dest: DestOpt = Path(),
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
    bad: BadOpt = None,
    points: Annotated[
        float | None,
        typer.Option("--points", help="The assignment's points (default: the reference's)."),
    ] = None,
    force: ForceOpt = False,
    backend: BackendOpt = DEFAULT_BACKEND,
) -> None:
    """Convert a Gradescope autograder (setup.sh, run_autograder) into a package, unchanged."""
    done: GradescopeImport = _run_importer(
        "assay.grading.gradescope_import:import_gradescope",
        source,
        dest,
        name=name,
        bad=bad,
        force=force,
        backend=None if solution is None else backend,
        progress=False,  # it takes none
        solution=solution,
        points=points,
    )
    typer.echo(f"created {done.path} ({done.points:g} points)")
    _show_check(done.check, done.path)


@app.command("import-prairielearn")
def import_prairielearn_command(
    question: Annotated[
        Path,
        typer.Argument(help="PrairieLearn question directory (info.json, question.html, tests/)."),
    ],
    dest: DestOpt = Path(),
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
    bad: BadOpt = None,
    no_check: NoCheckOpt = False,
    force: ForceOpt = False,
    backend: BackendOpt = DEFAULT_BACKEND,
) -> None:
    """Convert an externally graded PrairieLearn Python question, then check the package."""
    done: PrairieLearnImport = _run_importer(
        "assay.grading.prairielearn_import:import_prairielearn",
        question,
        dest,
        name=name,
        bad=bad,
        force=force,
        backend=None if no_check else backend,
        solution=solution,
    )
    typer.echo(f"created {done.path} ({done.points:g} points, {len(done.question.tests)} tests)")
    for note in done.question.notes:
        err.print(Text(f"not imported: {safe(note)}", "yellow"))
    _show_check(done.check, done.path)


@app.command("import-check50")
def import_check50_command(
    problem: Annotated[
        Path, typer.Argument(help="check50 problem directory (.cs50.yml and __init__.py).")
    ],
    solution: Annotated[
        Path,
        typer.Option("--solution", help="A correct submission (a directory, or one file)."),
    ],
    dest: DestOpt = Path(),
    name: ProblemNameOpt = None,
    bad: BadOpt = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Fail if any check cannot be translated."),
    ] = False,
    no_check: NoCheckOpt = False,
    force: ForceOpt = False,
    backend: BackendOpt = DEFAULT_BACKEND,
) -> None:
    """Translate a check50 problem's checks into tests, then check the package."""
    done: Check50Import = _run_importer(
        "assay.grading.check50_import:import_check50",
        problem,
        dest,
        name=name,
        bad=bad,
        force=force,
        backend=None if no_check else backend,
        solution=solution,
        strict=strict,
    )
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
    _show_check(done.check, done.path)
