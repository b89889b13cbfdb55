"""The submission page: live grading progress, then the report (student or staff view).

``GET /submissions/{id}`` renders the page; while the run is waiting or running,
``static/js/live.js`` follows ``/api/v1/submissions/{id}/events`` (SSE) and, when a
terminal stage arrives, swaps in ``GET /submissions/{id}/results`` (the same
fragment the page embeds) without a reload. ``POST /submissions/{id}/regrade``
re-queues it (students: their own, charged to the submission rate limit, once they
confirm that they want the same code graded again).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from assay.grading.stages import Stage
from assay.web.deps import IdPath, PlatformDep, client_of, limiters, rate_key
from assay.web.ui import reportview
from assay.web.ui.render import render
from assay.web.ui.session import FormUserDep, UserDep

router = APIRouter()

STAGES = (Stage.QUEUED, Stage.BUILDING, Stage.TESTING, Stage.DONE)


@router.get("/submissions/{submission_id}")
def submission_page(
    request: Request,
    submission_id: IdPath,
    platform: PlatformDep,
    actor: UserDep,
    requeued: bool = False,
) -> Response:
    page = reportview.submission_page(platform, actor, submission_id)
    flash = [("ok", "Queued for grading again.")] if requeued and page.pending else []
    return _render(request, page, flash=flash)


def _render(
    request: Request,
    page: reportview.SubmissionPage,
    *,
    flash: list[tuple[str, str]],
    ask_regrade: bool = False,
) -> Response:
    return render(
        request,
        "submissions/page.html",
        title=f"Submission {page.submission.id}",
        nav="courses",
        crumbs=[
            ("Courses", "/courses"),
            (page.course_code, f"/courses/{page.course_id}"),
            (page.assignment_title, f"/assignments/{page.assignment_id}"),
            (f"Submission {page.submission.id}", None),
        ],
        flash=flash,
        view=page,
        stages=STAGES,
        ask_regrade=ask_regrade,
    )


@router.get("/submissions/{submission_id}/results")
def results_fragment(
    request: Request, submission_id: IdPath, platform: PlatformDep, actor: UserDep
) -> Response:
    """The page body below the header (htmx swaps it in when grading ends)."""
    page = reportview.submission_page(platform, actor, submission_id)
    return render(request, "submissions/_body.html", view=page, stages=STAGES)


@router.post("/submissions/{submission_id}/regrade")
def regrade(
    request: Request,
    submission_id: IdPath,
    platform: PlatformDep,
    actor: FormUserDep,
    confirmed: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Staff regrade at once (their button asks first); a student's request first shows
    what it would do (the same code, and whether the tests changed) and asks to confirm."""
    if confirmed != "yes":
        page = reportview.submission_page(platform, actor, submission_id)
        if not page.staff:
            return _render(request, page, flash=[], ask_regrade=True)

    def charge() -> None:
        limiters(request).submissions.hit(rate_key(actor, client_of(request)), "submissions")

    reportview.request_regrade(platform, actor, submission_id, charge=charge)
    return RedirectResponse(f"/submissions/{submission_id}?requeued=1", status_code=303)
