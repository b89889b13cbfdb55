"""Assignments: read (students: published and released only); admin zone: upload a
package (validated), new versions, dates, publishing and policies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, Field, ValidationError

from assay.errors import InvalidRequestError
from assay.grading.scoring import BestPolicy, LatePolicy
from assay.services.catalog import assignments
from assay.services.catalog.assignments import AssignmentOut
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


@admin.post("/courses/{course_id}/assignments", status_code=201, response_model=AssignmentOut)
def create_assignment(
    *,
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
) -> AssignmentOut:
    """Upload a package (validated) as a new assignment of the course (course staff)."""
    data, filename = _read(package)
    return assignments.create_assignment(
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
    )


@admin.post("/assignments/{assignment_id}/versions", status_code=201, response_model=AssignmentOut)
def upload_version(
    assignment_id: IdPath, package: PackageFile, platform: PlatformDep, actor: StaffDep
) -> AssignmentOut:
    """A new version of the package; new submissions are graded against it."""
    data, filename = _read(package)
    return assignments.upload_version(platform, actor, assignment_id, data, filename)


@admin.patch("/assignments/{assignment_id}", response_model=AssignmentOut)
def update_assignment(
    assignment_id: IdPath, body: AssignmentPatch, platform: PlatformDep, actor: StaffDep
) -> AssignmentOut:
    """Change dates, publish or hide, late and best-submission policies."""
    return assignments.update_assignment(
        platform,
        actor,
        assignment_id,
        **{name: getattr(body, name) for name in body.model_fields_set},
    )
