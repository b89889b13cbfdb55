"""``assay assignment upload DIR_OR_ARCHIVE --course CODE``: put a package on a server.

A new assignment is created from the package; if the course already has one of
that name, the package becomes its new version (submissions from then on are
graded against it). ``--publish``, ``--release`` and ``--due`` then set it up.

The server checks the package against its reference solution before it answers;
the result is printed. A server that has the workers run the check may answer
before it ends: the command then waits for it (a spinner on stderr) and prints it.
A package that fails (or whose check could not run) is not
published, nor put in place of a published assignment's version, unless
``--force`` is given (the server's audit log records it).
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from assay.cli.client import ApiClient, ApiError, ServerOpt, TokenOpt
from assay.cli.console import EXIT_INFRASTRUCTURE, EXIT_USAGE, err
from assay.errors import AssayError, InvalidRequestError
from assay.grading.archive import is_archive
from assay.services.catalog.packages import pack_directory, validate

CONFLICT = 409
UPLOAD_TIMEOUT_S = 900.0
CHECK_POLL_S = 1.0


def _package(path: Path) -> tuple[str, bytes]:
    if path.is_dir():
        return f"{path.name}.tar.gz", pack_directory(path)
    if path.is_file() and is_archive(path):
        return path.name, path.read_bytes()
    raise InvalidRequestError(f"{path}: give a package directory or a .zip/.tar(.gz) archive")


def _date(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(f"{option}: not an ISO date: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # a local time, as the user wrote it
    return parsed.isoformat()


def _course_id(client: ApiClient, code: str) -> int:
    for course in client.get("/courses"):
        if course["code"] == code:
            return int(course["id"])
    raise InvalidRequestError(f"no course {code!r} among yours")


def upload_command(
    package: Annotated[Path, typer.Argument(help="Package directory or .zip/.tar(.gz) archive.")],
    course: Annotated[str, typer.Option("--course", help="The course's code.")],
    publish: Annotated[
        bool, typer.Option("--publish", help="Make it visible to students.")
    ] = False,
    release: Annotated[
        str | None, typer.Option("--release", help="Release date (ISO 8601; local if no zone).")
    ] = None,
    due: Annotated[
        str | None, typer.Option("--due", help="Due date (ISO 8601; local if no zone).")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Publish (or replace a published version) even if the package fails "
            "its reference check; recorded in the server's audit log.",
        ),
    ] = False,
    server: ServerOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
) -> None:
    """Upload an assignment package to a server: a new assignment, or a new version.
    The server checks it against its reference solution first."""
    try:
        filename, data = _package(package)
        name = validate(data, filename).name  # refuse a broken package before sending it
        changes: dict[str, Any] = {"published": True, "force": force} if publish else {}
        for key, value in (
            ("release_at", _date(release, "--release")),
            ("due_at", _date(due, "--due")),
        ):
            if value is not None:
                changes[key] = value
        # the server grades the reference solution and the known-bad before it answers
        with ApiClient(server, token, timeout_s=UPLOAD_TIMEOUT_S) as client:
            course_id = _course_id(client, course)
            uploaded, created = _create_or_update(
                client, course_id, name, filename, data, force=force
            )
            if (uploaded.get("reference") or {}).get("status") == "running":
                uploaded = _wait_for_check(client, uploaded)
            _report_check(uploaded)
            _refuse_pending(uploaded, force=force)
            assignment = uploaded
            if changes:
                assignment = client.patch(f"/admin/assignments/{uploaded['id']}", json=changes)
    except AssayError as exc:
        err.print(f"[bold red]error:[/] {exc.message}", highlight=False)
        unreachable = isinstance(exc, ApiError) and not exc.status
        if (
            isinstance(exc, ApiError)
            and exc.status == CONFLICT
            and "reference check" in exc.message
        ):
            err.print("(--force publishes it anyway; the server's audit log records that)")
        raise typer.Exit(EXIT_INFRASTRUCTURE if unreachable else EXIT_USAGE) from None
    action = "created" if created else f"uploaded version {assignment['version']} of"
    state = "published" if assignment["published"] else "not published"
    typer.echo(
        f"{action} assignment {assignment['id']} {assignment['slug']!r} in {course} ({state})"
    )


def _wait_for_check(client: ApiClient, uploaded: dict[str, Any]) -> dict[str, Any]:
    """The upload with its check once the workers ended it (polling the versions), and
    the assignment as it is then (a version waiting for its check becomes current
    when it passes)."""
    path = f"/admin/assignments/{uploaded['id']}"
    number = uploaded.get("reference_version")
    deadline = time.monotonic() + UPLOAD_TIMEOUT_S
    check: dict[str, Any] = uploaded["reference"]
    err.print(f"reference check of version {number} running on the workers…", highlight=False)
    with err.status("waiting for the check"):  # a spinner on a terminal, nothing otherwise
        while check.get("status") == "running" and time.monotonic() < deadline:
            time.sleep(CHECK_POLL_S)
            versions = client.get(f"{path}/versions")
            mine = next((v for v in versions if v["number"] == number), None)
            if mine is None:
                raise InvalidRequestError(f"version {number} is gone from the server")
            check = mine.get("reference") or check
    assignment: dict[str, Any] = client.get(f"/assignments/{uploaded['id']}")
    return {**assignment, "reference": check, "reference_version": number}


def _refuse_pending(uploaded: dict[str, Any], *, force: bool) -> None:
    """A version that waited for its check, failed it and so did not become current."""
    number = uploaded.get("reference_version")
    status = (uploaded.get("reference") or {}).get("status")
    if force or number is None or number == uploaded.get("version") or status == "running":
        return
    raise ApiError(
        f"not put in place: version {number}'s reference check did not pass; the "
        f"assignment stays on version {uploaded.get('version')}",
        CONFLICT,
    )


def _report_check(uploaded: dict[str, Any]) -> None:
    """The reference check the server ran on the upload, on stderr (stdout: the result)."""
    check = uploaded.get("reference") or {}
    status = check.get("status", "")
    if status == "passed":
        err.print("reference check passed", highlight=False)
        return
    err.print(f"[bold yellow]reference check {status or 'did not run'}[/]", highlight=False)
    if check.get("error"):
        err.print(f"  could not run: {check['error']}", highlight=False, markup=False)
    for problem in check.get("problems", []):
        err.print(f"  {problem}", highlight=False, markup=False)
    for entry in check.get("entries", []):
        if not entry.get("ok") and entry.get("problem"):
            err.print(f"  {entry['label']}: {entry['problem']}", highlight=False, markup=False)


def _create_or_update(
    client: ApiClient, course_id: int, name: str, filename: str, data: bytes, *, force: bool
) -> tuple[dict[str, Any], bool]:
    form = {"force": "true"} if force else {}
    try:
        created = client.post(
            f"/admin/courses/{course_id}/assignments",
            files={"package": (filename, data)},
            data=form,
        )
    except ApiError as exc:
        if exc.status != CONFLICT:
            raise
    else:
        return created, True
    existing = next(a for a in client.get(f"/courses/{course_id}/assignments") if a["slug"] == name)
    updated = client.post(
        f"/admin/assignments/{existing['id']}/versions",
        files={"package": (filename, data)},
        data=form,
    )
    return updated, False
