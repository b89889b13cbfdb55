"""``assay grade ASSIGNMENT SUBMISSION``: grade one submission and show or export the report.

Exit status: 0 graded (whatever the score), 1 the report's status is
``error`` (retry; do not record the score), 2 usage errors and invalid
packages or submissions, 3 other infrastructure errors (e.g. no sandbox).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress as RichProgressBar
from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from assay.cli.console import EXIT_USAGE, err, fail
from assay.config import get_settings
from assay.errors import AssayError, ConfigError, GradingError, PackageError, SubmissionError
from assay.grading.context import NullProgress, Progress
from assay.grading.engine import grade
from assay.grading.exports import to_gradescope, to_junit_xml
from assay.grading.loader import load_package
from assay.grading.outcome import TestStatus
from assay.grading.report import GradeReport, ReportStatus
from assay.grading.stages import Stage
from assay.grading.submission import load_submission
from assay.sandbox.backends import BACKENDS, DEFAULT_BACKEND, make_backend
from assay.sandbox.base import SandboxBackend
from assay.sandbox.spec import format_size

EXIT_GRADED = 0
EXIT_REPORT_ERROR = 1
DETAIL_LINES = 6

STATUS_STYLE = {
    TestStatus.PASSED: "green",
    TestStatus.FAILED: "red",
    TestStatus.TIMEOUT: "yellow",
    TestStatus.MEMORY_LIMIT: "yellow",
    TestStatus.OUTPUT_LIMIT: "yellow",
    TestStatus.CRASHED: "magenta",
    TestStatus.ERROR: "bold red reverse",
    TestStatus.SKIPPED: "dim",
}
STAGE_LABELS = {
    Stage.SETUP: "setting up the sandbox",
    Stage.STATIC: "static checks",
    Stage.BUILDING: "building",
    Stage.DONE: "done",
}
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

BackendOpt = Annotated[
    str, typer.Option("--backend", "-b", help=f"Sandbox backend: {', '.join(BACKENDS)}.")
]


def safe(text: str) -> str:
    """Untrusted text for a terminal: control characters (ANSI escapes too) made visible."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def input_error(exc: AssayError) -> typer.Exit:
    """Print a package or submission error on one line; exit as a usage error."""
    fail(GradingError(exc.message))  # the message already carries the fix
    return typer.Exit(EXIT_USAGE)


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ConfigError(f"--backend: unknown backend {backend!r}; use {', '.join(BACKENDS)}")


def grading_options(backend: str) -> tuple[SandboxBackend, int]:
    """The backend ``--backend`` names, made from the settings read here (an entry
    point), and the tests run at a time (``grading_parallel_runs``)."""
    check_backend(backend)
    settings = get_settings()
    return make_backend(backend, settings), settings.grading_parallel_runs


class ProgressDisplay:
    """The engine's ``Progress`` shown as a Rich spinner line on stderr."""

    def __init__(self, bar: RichProgressBar) -> None:
        self.bar = bar
        self.task = bar.add_task("starting", total=None)
        self.prefix = ""  # which submission, while ``assignment check`` grades several

    def stage(
        self, name: Stage, detail: str = "", current: int | None = None, total: int | None = None
    ) -> None:
        if name == Stage.CHECKING:
            self.prefix = f"{safe(detail)} ({current} of {total}): "
            return
        label = STAGE_LABELS.get(name, name)
        if current is not None and total is not None:
            label = f"{name} {current} of {total}"
        if detail:
            label = f"{label}: {safe(detail)}"
        self.bar.update(self.task, description=escape(self.prefix + label))


def progress_bar() -> RichProgressBar:
    return RichProgressBar(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def grade_command(
    assignment: Annotated[Path, typer.Argument(help="Assignment package (directory or archive).")],
    submission: Annotated[
        Path, typer.Argument(help="Submission: a directory, a file, or a zip/tar archive.")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the GradeReport JSON on stdout (no table).")
    ] = False,
    gradescope: Annotated[
        Path | None, typer.Option("--gradescope", help="Write Gradescope results.json here.")
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    backend: BackendOpt = DEFAULT_BACKEND,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed for shuffled spec tests (reproducible).")
    ] = None,
    student_view: Annotated[
        bool,
        typer.Option("--student-view", help="Show and export only what the student may see."),
    ] = False,
) -> None:
    """Grade SUBMISSION against the ASSIGNMENT package."""
    try:
        sandbox, parallel_runs = grading_options(backend)
        try:
            package = load_package(assignment)
        except PackageError as exc:
            raise input_error(exc) from None
        with package:
            try:
                loaded = load_submission(submission)
            except SubmissionError as exc:
                raise input_error(exc) from None
            with progress_bar() as bar:
                display: Progress = ProgressDisplay(bar) if not bar.disable else NullProgress()
                report = grade(
                    package,
                    loaded,
                    backend=sandbox,
                    parallel_runs=parallel_runs,
                    progress=display,
                    seed=seed,
                )
        shown = report.student_view() if student_view else report
        _write_exports(report, shown, gradescope, junit)
    except AssayError as exc:
        raise fail(exc) from None
    if as_json:
        typer.echo(shown.to_json())
    else:
        print_report(shown, Console())
    raise typer.Exit(EXIT_REPORT_ERROR if report.status is ReportStatus.ERROR else EXIT_GRADED)


def _write_exports(
    report: GradeReport, shown: GradeReport, gradescope: Path | None, junit: Path | None
) -> None:
    try:
        if gradescope is not None:
            gradescope.write_text(json.dumps(to_gradescope(report), indent=2) + "\n")
        if junit is not None:
            junit.write_text(to_junit_xml(shown), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {exc.filename}: {exc.strerror}") from exc


def print_report(report: GradeReport, console: Console) -> None:
    """The results table and what the student needs to act on."""
    table = Table(title=Text(f"{report.assignment}"), title_justify="left")
    for column, justify in (("test", "left"), ("status", "left"), ("score", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    table.add_column("time", justify="right")
    table.add_column("memory", justify="right")
    for test in report.tests:
        table.add_row(
            Text(safe(test.name)),
            Text(test.status.value, style=STATUS_STYLE[test.status]),
            f"{test.score:g} / {test.max_score:g}",
            f"{test.timing.wall_s:.2f} s",
            format_size(test.timing.peak_memory_bytes) if test.timing.peak_memory_bytes else "",
        )
    console.print(table)
    _print_build(report, console)
    _print_details(report, console)
    _print_static(report, console)
    if report.tampered:
        console.print(Text("tampering detected: passed a test and its complement", "bold red"))
    if report.status is ReportStatus.ERROR:
        console.print(Text(f"error: {report.error or 'grading failed'}", "bold red"))
        if report.staff_error:
            console.print(Text(safe(report.staff_error.strip().splitlines()[-1]), "red"))
    style = "bold green" if report.full_marks else "bold"
    console.print(Text(f"score: {report.score:g} / {report.max_score:g}", style))


def _print_build(report: GradeReport, console: Console) -> None:
    build = report.build
    style = {"passed": "green", "skipped": "dim", "failed": "red"}.get(build.status.value, "red")
    line = Text("build: ")
    line.append(build.status.value, style)
    if build.timing.wall_s:
        line.append(f" ({build.timing.wall_s:.2f} s)")
    console.print(line)
    for d in build.diagnostics:
        place = ":".join(str(p) for p in (d.file, d.line, d.column) if p is not None)
        console.print(Text(safe(f"  {place}: {d.severity}: {d.message}")))
    if build.status.value == "failed" and not build.diagnostics and build.log:
        tail = build.log.strip().splitlines()[-DETAIL_LINES:]
        console.print(Text(safe("\n".join("  " + line for line in tail)), "dim"))
    if build.status.value == "failed":  # said once here, not once per test
        not_run = sum(1 for t in report.tests if t.status is TestStatus.SKIPPED)
        if not_run:
            tests = "test" if not_run == 1 else "tests"
            console.print(Text(f"{not_run} {tests} not run: the build failed", "dim"))


def _print_details(report: GradeReport, console: Console) -> None:
    for test in report.tests:
        if test.status is TestStatus.PASSED or not (test.message or test.expected is not None):
            continue
        if test.status is TestStatus.SKIPPED and report.build.status.value == "failed":
            continue  # the build's failure is shown once, above
        console.print(Text(safe(f"{test.name}:"), "bold"))
        lines = test.message.strip().splitlines()[:DETAIL_LINES]
        if test.expected is not None or test.actual is not None:
            lines += [
                f"expected: {_first_lines(test.expected)}",
                f"actual:   {_first_lines(test.actual)}",
            ]
        console.print(Text(safe("\n".join("  " + line for line in lines))))


def _first_lines(text: str | None, count: int = 3) -> str:
    if text is None:
        return "(none)"
    lines = text.splitlines()
    shown = " | ".join(lines[:count])
    return shown + (" | ..." if len(lines) > count else "")


def _print_static(report: GradeReport, console: Console) -> None:
    if report.static is None or not report.static.findings:
        return
    console.print(Text(f"static checks ({report.static.effect.value}):", "bold red"))
    for f in report.static.findings:
        where = f"{f.file}:{f.line}: " if f.file else ""
        console.print(Text(safe(f"  {where}{f.message}")))
    if report.static.deducted:
        console.print(Text(f"  deducted {report.static.deducted:g}"))
