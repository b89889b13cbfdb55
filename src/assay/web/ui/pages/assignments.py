"""Pages: an assignment (statement, deadline, starter files, history) and submitting to it.

Submitting works without JavaScript: the upload form is a plain multipart form
(``files``: several files or one archive) and the editor form posts its textareas
(``path`` / ``content`` pairs); submit.js adds drag-and-drop and CodeMirror on top.
Both end in ``submissions.submit`` and a redirect to the submission's live page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.datastructures import UploadFile

from assay.errors import InvalidRequestError, PayloadTooLargeError, RateLimitedError
from assay.files.fileset import FileSet
from assay.grading.scoring import LatePolicy
from assay.services import Actor, Platform
from assay.services.intake import submissions
from assay.services.intake.submissions import MAX_SUBMISSION_FILES
from assay.services.reporting import coursework
from assay.services.reporting.coursework import EditorFile
from assay.web import errors as api_errors
from assay.web.deps import IdPath, PlatformDep, client_of, intake_gate, limiters, rate_key
from assay.web.ui.render import render
from assay.web.ui.session import FormUserDep, UserDep

router = APIRouter()
SUBMIT_REFUSALS = (InvalidRequestError, PayloadTooLargeError, RateLimitedError)


_statement_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def statement_html(text: str, title: str) -> Markup:
    """The statement under the page's own h1: a leading heading that repeats the title
    is dropped and every heading moves one level down, so the page keeps one h1.
    Raw HTML in the source is escaped (``html: False``), as in ``ui.markdown``."""
    tokens = _statement_md.parse(text)
    first = tokens[1].content if len(tokens) >= 3 and tokens[0].type == "heading_open" else None
    if first is not None and first.strip().casefold() == title.strip().casefold():
        tokens = tokens[3:]
    for token in tokens:
        if token.type in {"heading_open", "heading_close"}:
            token.tag = f"h{min(6, int(token.tag[1]) + 1)}"
    html = _statement_md.renderer.render(tokens, _statement_md.options, {})
    return Markup(html)  # noqa: S704 - markdown-it escapes raw HTML (html=False)


def late_text(policy: LatePolicy) -> str:
    """The late policy in one sentence for students."""
    grace = f"{policy.grace_minutes} minutes of grace, then " if policy.grace_minutes else ""
    if not policy.max_late_days:
        return _sentence(f"{grace}no late submissions.")
    days = f"{policy.max_late_days} day{'s' if policy.max_late_days != 1 else ''}"
    cost = (
        f"each started day late costs {policy.penalty_per_day:.0%} of the score"
        if policy.penalty_per_day
        else "without penalty"
    )
    return _sentence(f"{grace}late submissions accepted for {days}, {cost}.")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _page(
    request: Request,
    platform: Platform,
    actor: Actor,
    assignment_id: int,
    *,
    from_starter: bool = False,
    status_code: int = 200,
    error: str = "",
    editor: list[EditorFile] | None = None,
    tab: str = "",
) -> HTMLResponse:
    view = coursework.assignment_view(platform, actor, assignment_id, from_starter=from_starter)
    if editor is not None:  # a refused editor submission keeps what was typed
        view = view.model_copy(update={"editor": editor, "editor_from": "draft"})
    course = view.course
    return render(
        request,
        "assignments/assignment.html",
        status_code=status_code,
        title=view.assignment.title,
        nav="courses",
        crumbs=[
            ("Courses", "/courses"),
            (course.name, f"/courses/{course.id}"),
            (view.assignment.title, None),
        ],
        flash=[("error", error)] if error else [],
        view=view,
        now=datetime.now(UTC),
        late_text=late_text(view.assignment.late_policy),
        statement=statement_html(view.assignment.statement, view.assignment.title),
        tab=tab or ("upload" if view.editor is None else "editor"),
    )


@router.get("/assignments/{assignment_id}")
def assignment_page(
    request: Request,
    assignment_id: IdPath,
    platform: PlatformDep,
    actor: UserDep,
    start: Annotated[str, Query(max_length=16)] = "",
) -> HTMLResponse:
    return _page(request, platform, actor, assignment_id, from_starter=start == "starter")


@router.get("/assignments/{assignment_id}/history")
def history_fragment(
    request: Request, assignment_id: IdPath, platform: PlatformDep, actor: UserDep
) -> HTMLResponse:
    """The history section alone (htmx polls it while a submission is being graded)."""
    mine = coursework.history_view(platform, actor, assignment_id)
    return render(request, "assignments/_history.html", mine=mine, assignment_id=assignment_id)


def _download(data: bytes, filename: str) -> Response:
    """Bytes as an attachment: never rendered by the browser, whatever they hold."""
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "content-disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
            "cache-control": "private, no-cache",
        },
    )


@router.get("/assignments/{assignment_id}/starter.zip")
def starter_zip(assignment_id: IdPath, platform: PlatformDep, actor: UserDep) -> Response:
    data = coursework.starter_zip(platform, actor, assignment_id)
    return _download(data, f"assignment-{assignment_id}-starter.zip")


@router.get("/assignments/{assignment_id}/starter/{path:path}")
def starter_file(
    assignment_id: IdPath, path: str, platform: PlatformDep, actor: UserDep
) -> Response:
    data = coursework.starter_file(platform, actor, assignment_id, path)
    return _download(data, path.rsplit("/", 1)[-1])


async def _submit(
    request: Request,
    platform: Platform,
    actor: Actor,
    assignment_id: int,
    files: FileSet,
    *,
    source: str,
) -> Response:
    key = rate_key(actor, client_of(request))
    # in a thread: on PostgreSQL the buckets are rows of the database
    await run_in_threadpool(limiters(request).submissions.hit, key, "submissions")
    async with intake_gate(request).turn():
        try:  # a required file missing: refused before anything is stored, and not charged
            admitted = await run_in_threadpool(
                submissions.admission, platform, actor, assignment_id, files
            )
        except InvalidRequestError:
            await run_in_threadpool(limiters(request).submissions.refund, key)
            raise
        made = await run_in_threadpool(
            submissions.submit_admitted, platform, actor, admitted, source=source
        )
    return RedirectResponse(f"/submissions/{made.id}", status_code=303)


@router.post("/assignments/{assignment_id}/upload")
async def submit_upload(
    request: Request, assignment_id: IdPath, platform: PlatformDep, actor: FormUserDep
) -> Response:
    """Files chosen or dropped (or one .zip/.tar.gz of them)."""
    try:
        uploads: list[tuple[str, bytes]] = []
        async with request.form(max_files=MAX_SUBMISSION_FILES, max_fields=10) as form:
            for item in form.getlist("files"):
                if not isinstance(item, UploadFile):
                    raise InvalidRequestError("choose the files to upload")
                data = await item.read()
                if item.filename or data:  # an empty file input sends one nameless part
                    uploads.append((item.filename or "", data))
        files = await run_in_threadpool(submissions.files_from_uploads, uploads)
        return await _submit(request, platform, actor, assignment_id, files, source="upload")
    except SUBMIT_REFUSALS as exc:
        return await run_in_threadpool(
            _refused, request, platform, actor, assignment_id, exc=exc, editor=None, tab="upload"
        )


@router.post("/assignments/{assignment_id}/editor")
async def submit_editor(
    request: Request, assignment_id: IdPath, platform: PlatformDep, actor: FormUserDep
) -> Response:
    """The editor's files: ``path`` and ``content`` fields in pairs."""
    form = await request.form()
    paths = [p for p in form.getlist("path") if isinstance(p, str)]
    texts = [t for t in form.getlist("content") if isinstance(t, str)]
    # browsers send textarea line breaks as CRLF; programs are graded with LF
    typed = [
        EditorFile(path=p, text=t.replace("\r\n", "\n")) for p, t in zip(paths, texts, strict=False)
    ]
    try:
        if not typed or len(paths) != len(texts):
            raise InvalidRequestError("the editor sent no files")
        files = submissions.files_from_mapping({f.path: f.text for f in typed})
        return await _submit(request, platform, actor, assignment_id, files, source="editor")
    except SUBMIT_REFUSALS as exc:
        return await run_in_threadpool(
            _refused,
            request,
            platform,
            actor,
            assignment_id,
            exc=exc,
            editor=typed or None,
            tab="editor",
        )


def _status(exc: Exception) -> int:
    if isinstance(exc, PayloadTooLargeError):
        return 413
    return 429 if isinstance(exc, RateLimitedError) else 400


def _refused(
    request: Request,
    platform: Platform,
    actor: Actor,
    assignment_id: int,
    *,
    exc: InvalidRequestError | PayloadTooLargeError | RateLimitedError,
    editor: list[EditorFile] | None,
    tab: str,
) -> HTMLResponse:
    """The assignment page again, saying why (and keeping the editor's text)."""
    response = _page(
        request,
        platform,
        actor,
        assignment_id,
        status_code=_status(exc),
        error=f"Not submitted: {exc.message}",
        editor=editor,
        tab=tab,
    )
    if isinstance(exc, RateLimitedError):
        response.headers["Retry-After"] = api_errors.retry_after(exc.retry_after_s)
    return response
