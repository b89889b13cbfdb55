"""Assignments: read (students: published and released only); admin zone: upload a
package (validated, then checked against its reference solution before the answer),
new versions, dates, publishing (a version whose check did not pass only with
``force``) and policies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from pydantic import BaseModel, Field, ValidationError

from assay.errors import InvalidRequestError
from assay.grading.scoring import BestPolicy, LatePolicy
from assay.services.catalog import assignments, refcheck
from assay.services.catalog.assignments import AssignmentOut
from assay.services.catalog.refcheck import CheckedAssignmentOut, VersionOut
from assay.web.deps import ActorDep, IdPath, PlatformDep, StaffDep

router = APIRouter(tags=["assignments"])
admin = APIRouter(tags=["admin: assignments"])

PackageFile = Annotated[UploadFile, File(description="the package as .zip or .tar(.gz)")]


class AssignmentPatch(BaseModel):
    """Changes to an assignment; fields left out stay as they are."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    published: bool | None = None
    release_at: datetime | None = None
    due_at: datetime | None = None
    clear_release: bool = False
    clear_due: bool = False
    late_policy: LatePolicy | None = None
    best_policy: BestPolicy | None = None
    force: bool = Field(
        default=False,
        description="publish although the current version's reference check did not pass "
        "(recorded in the audit log)",
    )


def _read(upload: UploadFile) -> tuple[bytes, str]:
    return upload.file.read(), upload.filename or "package.tar.gz"


def _late_policy(text: str | None) -> LatePolicy | None:
    if not text:
        return None
    try:
        return LatePolicy.model_validate_json(text)
    except ValidationError as exc:
        raise InvalidRequestError(f"late_policy: {exc.errors()[0]['msg']}") from None


@router.get("/courses/{course_id}/assignments", response_model=list[AssignmentOut])
def list_assignments(
    course_id: IdPath, platform: PlatformDep, actor: ActorDep
) -> list[AssignmentOut]:
    return assignments.list_assignments(platform, actor, course_id)


@router.get("/assignments/{assignment_id}", response_model=AssignmentOut)
def get_assignment(assignment_id: IdPath, platform: PlatformDep, actor: ActorDep) -> AssignmentOut:
    """The assignment with its statement."""
    return assignments.get_assignment(platform, actor, assignment_id)


RUNNING: dict[int | str, dict[str, Any]] = {
    202: {
        "model": CheckedAssignmentOut,
        "description": "Stored; its reference check, run by a worker, had not ended in time "
        "(``reference.status`` running): poll the versions.",
    }
}


def _runs_on(request: Request, platform: PlatformDep) -> refcheck.RunsOn:
    """Where this server runs checks: it knows whether it has embedded workers."""
    return refcheck.runs_on(platform, getattr(request.app.state, "embedded_workers", None))


def _status(response: Response, checked: CheckedAssignmentOut) -> CheckedAssignmentOut:
    if checked.reference.status == "running":
        response.status_code = 202
    return checked


ForceForm = Annotated[
    bool,
    Form(
        description="publish (or, for a published assignment, put in place) a version "
        "whose reference check did not pass; recorded in the audit log"
    ),
]


@admin.post(
    "/courses/{course_id}/assignments",
    status_code=201,
    response_model=CheckedAssignmentOut,
    responses=RUNNING,
)
def create_assignment(
    *,
    request: Request,
    response: Response,
    course_id: IdPath,
    package: PackageFile,
    platform: PlatformDep,
    actor: StaffDep,
    slug: Annotated[str | None, Form(max_length=64)] = None,
    publish: Annotated[bool, Form()] = False,
    release_at: Annotated[datetime | None, Form()] = None,
    due_at: Annotated[datetime | None, Form()] = None,
    best_policy: Annotated[BestPolicy, Form()] = BestPolicy.MOST_PASSED,
    late_policy: Annotated[str | None, Form(description="LatePolicy as JSON")] = None,
    force: ForceForm = False,
) -> CheckedAssignmentOut:
    """Upload a package as a new assignment of the course (course staff). It is
    validated, then its reference check runs before the answer (``reference``);
    ``publish`` with a check that did not pass is a 409 (nothing created) unless ``force``.
    A check run by a worker is waited for up to ``reference_check_wait_s``: not done by
    then, the answer is 202 with the check running, and the assignment is not published."""
    data, filename = _read(package)
    checked = refcheck.create_checked(
        platform,
        actor,
        course_id,
        data,
        filename,
        slug=slug or None,
        release_at=release_at,
        due_at=due_at,
        late_policy=_late_policy(late_policy),
        best_policy=best_policy,
        publish=publish,
        force=force,
        on=_runs_on(request, platform),
    )
    return _status(response, checked)


@admin.post(
    "/assignments/{assignment_id}/versions",
    status_code=201,
    response_model=CheckedAssignmentOut,
    responses=RUNNING,
)
def upload_version(
    *,
    request: Request,
    response: Response,
    assignment_id: IdPath,
    package: PackageFile,
    platform: PlatformDep,
    actor: StaffDep,
    force: ForceForm = False,
) -> CheckedAssignmentOut:
    """A new version of the package; new submissions are graded against it. Its
    reference check runs before the answer; of a published assignment, a version whose
    check did not pass is a 409 (nothing stored) unless ``force``. A check run by a
    worker is waited for up to ``reference_check_wait_s``: not done by then, the answer
    is 202 and such a version becomes current when its check passes
    (``reference_version``; poll the versions)."""
    data, filename = _read(package)
    checked = refcheck.upload_checked(
        platform,
        actor,
        assignment_id,
        data,
        filename,
        force=force,
        on=_runs_on(request, platform),
    )
    return _status(response, checked)


@admin.get("/assignments/{assignment_id}/versions", response_model=list[VersionOut])
def list_versions(
    assignment_id: IdPath, platform: PlatformDep, actor: StaffDep
) -> list[VersionOut]:
    """Every package version, newest first, with its reference check (course staff)."""
    return refcheck.list_versions(platform, actor, assignment_id)


@admin.patch("/assignments/{assignment_id}", response_model=AssignmentOut)
def update_assignment(
    assignment_id: IdPath, body: AssignmentPatch, platform: PlatformDep, actor: StaffDep
) -> AssignmentOut:
    """Change dates, publish or hide, late and best-submission policies. Publishing
    needs the current version's reference check to have passed, or ``force``."""
    if body.published:
        refcheck.require_publishable(platform, actor, assignment_id, force=body.force)
    return assignments.update_assignment(
        platform,
        actor,
        assignment_id,
        **{name: getattr(body, name) for name in body.model_fields_set - {"force"}},
    )
