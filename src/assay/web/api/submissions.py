"""Submissions: submit, status, report, own lists; staff: lists, regrades, results, exports.

``router`` is the public zone; ``admin`` is mounted under ``/api/v1/admin`` (staff).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile

from assay.errors import InvalidRequestError
from assay.files.fileset import FileSet
from assay.services import Actor, Platform
from assay.services.intake import submissions
from assay.services.intake.submissions import MAX_SUBMISSION_FILES, SubmissionOut
from assay.services.reporting import exports, results
from assay.services.reporting.exports import GradescopeExport
from assay.services.reporting.results import BestOut, RegradeOut, ReportOut, SubmissionFilter
from assay.storage.models import RunStatus
from assay.web.deps import (
    ActorDep,
    IdPath,
    IntakeDep,
    OptionalIdQuery,
    PlatformDep,
    StaffDep,
    SubmitLimitDep,
    client_of,
    limiters,
    rate_key,
)

router = APIRouter(tags=["submissions"])
admin = APIRouter(tags=["admin: submissions and grades"])


class JsonSubmission(BaseModel):
    """Files as JSON: path -> content (text, or base64 with ``encoding: base64``)."""

    files: dict[str, str] = Field(min_length=1)
    encoding: Literal["utf-8", "base64"] = "utf-8"


SUBMIT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "the files, or one .zip/.tar(.gz) archive of them",
                        }
                    },
                }
            },
            "application/json": {"schema": JsonSubmission.model_json_schema()},
        },
    }
}


async def submitted_files(request: Request) -> FileSet:
    """The files of a submission: multipart ``files`` (or one archive), or JSON."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json":
        try:
            payload = JsonSubmission.model_validate_json(await request.body())
        except ValidationError as exc:
            # without the input: invalid UTF-8 in it cannot be put into a JSON answer
            raise RequestValidationError(
                exc.errors(include_url=False, include_context=False, include_input=False)
            ) from None
        return submissions.files_from_json(
            payload.files, base64_encoded=payload.encoding == "base64"
        )
    if media == "multipart/form-data":
        uploads: list[tuple[str, bytes]] = []
        async with request.form(max_files=MAX_SUBMISSION_FILES, max_fields=10) as form:
            for item in form.getlist("files"):
                if not isinstance(item, UploadFile):
                    raise InvalidRequestError("the form field 'files' must hold file uploads")
                uploads.append((item.filename or "", await item.read()))
        return await run_in_threadpool(submissions.files_from_uploads, uploads)
    raise InvalidRequestError("send multipart/form-data (field 'files') or application/json")


FilesDep = Annotated[FileSet, Depends(submitted_files)]
Limit = Annotated[int, Query(ge=1, le=results.MAX_PAGE)]
Offset = Annotated[int, Query(ge=0, le=10**9)]


@router.post(
    "/assignments/{assignment_id}/submissions",
    status_code=201,
    response_model=SubmissionOut,
    openapi_extra=SUBMIT_BODY,
    summary="Submit files (multipart or JSON); the grading run is queued before this answers",
)
async def submit(
    *,
    _turn: IntakeDep,
    assignment_id: IdPath,
    platform: PlatformDep,
    actor: ActorDep,
    _limit: SubmitLimitDep,
    files: FilesDep,
    request: Request,
    user_id: OptionalIdQuery = None,
) -> SubmissionOut:
    # async, with its database work in one thread of the pool: a plain ``def`` route
    # also hands its answer's validation to a thread (a second hand-off per request)
    return await run_in_threadpool(
        _take_in, platform, actor, assignment_id, files, request, user_id
    )


def _take_in(  # noqa: PLR0917 - the route's arguments, passed on
    platform: Platform,
    actor: Actor,
    assignment_id: int,
    files: FileSet,
    request: Request,
    user_id: int | None,
) -> SubmissionOut:
    try:  # a required file missing: refused before anything is stored, and not charged
        admitted = submissions.admission(platform, actor, assignment_id, files, user_id=user_id)
    except InvalidRequestError:
        limiters(request).submissions.refund(rate_key(actor, client_of(request)))
        raise
    return submissions.submit_admitted(platform, actor, admitted, source="upload")


@router.get("/assignments/{assignment_id}/submissions", response_model=list[SubmissionOut])
def my_submissions(
    assignment_id: IdPath,
    platform: PlatformDep,
    actor: ActorDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[SubmissionOut]:
    where = SubmissionFilter(assignment_id=assignment_id, limit=limit, offset=offset)
    return results.list_submissions(platform, actor, where)


@router.get("/assignments/{assignment_id}/best", response_model=BestOut)
def my_best(assignment_id: IdPath, platform: PlatformDep, actor: ActorDep) -> BestOut:
    """Your submission that counts, under the assignment's policy."""
    return results.my_best(platform, actor, assignment_id)


@router.get("/submissions", response_model=list[SubmissionOut])
def list_mine(
    *,
    platform: PlatformDep,
    actor: ActorDep,
    assignment_id: OptionalIdQuery = None,
    status: RunStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[SubmissionOut]:
    """Your own submissions, newest first."""
    where = SubmissionFilter(assignment_id=assignment_id, status=status, limit=limit, offset=offset)
    return results.list_submissions(platform, actor, where)


@router.get("/submissions/{submission_id}", response_model=SubmissionOut)
def get_submission(submission_id: IdPath, platform: PlatformDep, actor: ActorDep) -> SubmissionOut:
    return results.get_submission(platform, actor, submission_id)


@router.get("/submissions/{submission_id}/report", response_model=ReportOut)
def get_report(
    submission_id: IdPath, platform: PlatformDep, actor: ActorDep, run_id: OptionalIdQuery = None
) -> ReportOut:
    """The latest run's report (or ``run_id``'s); students get hidden tests reduced."""
    return results.get_report(platform, actor, submission_id, run_id)


# --- admin zone ------------------------------------------------------------------------------


@admin.get("/submissions", response_model=list[SubmissionOut])
def staff_list(
    *,
    platform: PlatformDep,
    actor: StaffDep,
    assignment_id: OptionalIdQuery = None,
    course_id: OptionalIdQuery = None,
    user_id: OptionalIdQuery = None,
    status: RunStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[SubmissionOut]:
    """All submissions of an assignment or course you teach (filters combine)."""
    where = SubmissionFilter(
        assignment_id=assignment_id,
        course_id=course_id,
        user_id=user_id,
        status=status,
        limit=limit,
        offset=offset,
    )
    return results.list_submissions(platform, actor, where, staff=True)


@admin.post("/submissions/{submission_id}/regrade", status_code=202, response_model=SubmissionOut)
def regrade(submission_id: IdPath, platform: PlatformDep, actor: StaffDep) -> SubmissionOut:
    return results.regrade(platform, actor, submission_id)


@admin.post("/assignments/{assignment_id}/regrade", status_code=202, response_model=RegradeOut)
def regrade_all(assignment_id: IdPath, platform: PlatformDep, actor: StaffDep) -> RegradeOut:
    """Regrade every submission of the assignment, in the bulk lane."""
    return results.regrade_all(platform, actor, assignment_id)


@admin.get("/assignments/{assignment_id}/results", response_model=list[BestOut])
def best_per_student(
    assignment_id: IdPath, platform: PlatformDep, actor: StaffDep
) -> list[BestOut]:
    """Each student's counted submission under the assignment's best-submission policy."""
    return results.best_submissions(platform, actor, assignment_id)


@admin.get(
    "/assignments/{assignment_id}/grades.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def grades_csv(assignment_id: IdPath, platform: PlatformDep, actor: StaffDep) -> PlainTextResponse:
    text = exports.grades_csv(platform, actor, assignment_id)
    return PlainTextResponse(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="grades-{assignment_id}.csv"'},
    )


@admin.get("/assignments/{assignment_id}/grades.json", response_model=GradescopeExport)
def grades_gradescope(
    assignment_id: IdPath, platform: PlatformDep, actor: StaffDep
) -> GradescopeExport:
    """Gradescope-style export: each student's counted submission as ``results.json``."""
    return exports.grades_gradescope(platform, actor, assignment_id)
