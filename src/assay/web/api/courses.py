"""Courses: your courses and their members; admin zone: create, roster, enrollment."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from assay.services.catalog import courses
from assay.services.catalog.courses import CourseOut, MemberOut
from assay.storage.models import Role
from assay.web.deps import ActorDep, IdPath, PlatformDep, StaffDep

router = APIRouter(tags=["courses"])
admin = APIRouter(tags=["admin: courses"])


class CourseIn(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)


class EnrollIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    role: Role = Role.STUDENT


@router.get("/courses", response_model=list[CourseOut])
def list_courses(platform: PlatformDep, actor: ActorDep) -> list[CourseOut]:
    """The courses you are enrolled in (administrators: all), with your role."""
    return courses.list_courses(platform, actor)


@router.get("/courses/{course_id}", response_model=CourseOut)
def get_course(course_id: IdPath, platform: PlatformDep, actor: ActorDep) -> CourseOut:
    return courses.get_course(platform, actor, course_id)


@router.get("/courses/{course_id}/members", response_model=list[MemberOut])
def members(course_id: IdPath, platform: PlatformDep, actor: ActorDep) -> list[MemberOut]:
    """The course's members (students see the staff only)."""
    return courses.list_members(platform, actor, course_id)


@admin.post("/courses", status_code=201, response_model=CourseOut)
def create_course(body: CourseIn, platform: PlatformDep, actor: StaffDep) -> CourseOut:
    """Create a course (administrators)."""
    return courses.create_course(platform, actor, body.code, body.name)


@admin.get("/courses/{course_id}/roster", response_model=list[MemberOut])
def roster(course_id: IdPath, platform: PlatformDep, actor: StaffDep) -> list[MemberOut]:
    """Everyone in the course, students included (course staff)."""
    return courses.list_roster(platform, actor, course_id)


@admin.post("/courses/{course_id}/roster", response_model=MemberOut)
def enroll(course_id: IdPath, body: EnrollIn, platform: PlatformDep, actor: StaffDep) -> MemberOut:
    """Enroll a user, or change their role (instructors)."""
    return courses.enroll(platform, actor, course_id, body.username, body.role)


@admin.delete("/courses/{course_id}/roster/{user_id}", status_code=204)
def unenroll(
    course_id: IdPath, user_id: IdPath, platform: PlatformDep, actor: StaffDep
) -> Response:
    courses.unenroll(platform, actor, course_id, user_id)
    return Response(status_code=204)
