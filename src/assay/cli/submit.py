"""``assay submit ASSIGNMENT_ID FILES...``: hand in files to an Assay server.

Directories are sent with the paths of their files relative to the directory;
a single .zip or .tar(.gz) is sent as an archive the server unpacks. With
``--wait`` the command follows the grading live and prints the report.

Exit status: 0 submitted (with --wait: graded, whatever the score), 1 the run
ended in error or was cancelled, 2 usage errors and refusals, 3 an unreachable
server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from assay.cli.client import ApiClient, ApiError, ServerOpt, TokenOpt
from assay.cli.console import EXIT_INFRASTRUCTURE, EXIT_USAGE, err
from assay.cli.grade import print_report
from assay.errors import AssayError, InvalidRequestError
from assay.grading.report import GradeReport
from assay.grading.submission import SKIPPED_DIRS

EXIT_RUN_FAILED = 1


def collect_files(paths: list[Path]) -> list[tuple[str, bytes]]:
    """(name, contents) of every file to send; directories contribute their files."""
    out: list[tuple[str, bytes]] = []
    for path in paths:
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                relative = file.relative_to(path)
                if (
                    file.is_file()
                    and not file.is_symlink()
                    and not (set(relative.parts[:-1]) & SKIPPED_DIRS)
                ):
                    out.append((relative.as_posix(), file.read_bytes()))
        elif path.is_file():
            out.append((path.name, path.read_bytes()))
        else:
            raise InvalidRequestError(f"{path}: no such file or directory")
    names = [name for name, _ in out]
    if len(set(names)) != len(names):
        raise InvalidRequestError("two files would have the same name on the server")
    if not out:
        raise InvalidRequestError("nothing to submit")
    return out


def _error_exit(exc: AssayError) -> typer.Exit:
    err.print(Text(f"error: {exc.message}", "bold red"))
    status = getattr(exc, "status", None)
    return typer.Exit(
        EXIT_INFRASTRUCTURE if isinstance(exc, ApiError) and not status else EXIT_USAGE
    )


def submit_command(
    assignment_id: Annotated[int, typer.Argument(help="The assignment's id.")],
    files: Annotated[list[Path], typer.Argument(help="Files or directories (or one archive).")],
    server: ServerOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the grading and print the report.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, not tables.")] = False,
) -> None:
    """Submit files for an assignment to an Assay server."""
    try:
        with ApiClient(server, token) as client:
            submission = _send(client, assignment_id, files)
            if not wait:
                if as_json:
                    typer.echo(_dump(submission))
                else:
                    typer.echo(f"submission {submission['id']} queued (run {submission['run_id']})")
                return
            _follow(client, submission, quiet=as_json)
            result = client.get(f"/submissions/{submission['id']}")
            report = _report(client, submission["id"]) if result["status"] == "graded" else None
    except AssayError as exc:
        raise _error_exit(exc) from None
    if as_json:
        typer.echo(_dump({"submission": result, "report": report}))
    elif report is not None and report.get("report"):
        print_report(GradeReport.model_validate(report["report"]), Console())
    else:
        err.print(Text(f"grading ended: {result['status']}", "bold red"))
    if result["status"] != "graded":
        raise typer.Exit(EXIT_RUN_FAILED)


def _send(client: ApiClient, assignment_id: int, paths: list[Path]) -> dict[str, Any]:
    # One archive goes as it is: the server unpacks it (safely, within its limits).
    upload = [("files", (name, data)) for name, data in collect_files(paths)]
    answer: dict[str, Any] = client.post(f"/assignments/{assignment_id}/submissions", files=upload)
    return answer


def _follow(client: ApiClient, submission: dict[str, Any], *, quiet: bool) -> None:
    if not quiet:
        err.print(f"submission {submission['id']}: following its grading")
    for event in client.events(f"/submissions/{submission['id']}/events"):
        if quiet:
            continue
        step = f" {event['current']}/{event['total']}" if event.get("total") else ""
        detail = f"  {event['detail']}" if event.get("detail") else ""
        err.print(Text(f"  {event['stage']}{step}{detail}", "dim"))


def _report(client: ApiClient, submission_id: int) -> dict[str, Any]:
    answer: dict[str, Any] = client.get(f"/submissions/{submission_id}/report")
    return answer


def _dump(value: object) -> str:
    return json.dumps(value, indent=2)
