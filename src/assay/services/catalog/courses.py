"""Courses and enrollment."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select

from assay.errors import ConflictError, InvalidRequestError, NotFoundError
from assay.services.actor import Actor
from assay.services.identity import audit
from assay.services.identity.access import (
    course_role,
    require_admin,
    require_instructor,
    require_member,
    require_staff,
)
from assay.services.platform import Platform
from assay.storage.models import Course, Enrollment, Role, User
from assay.storage.upsert import insert_new, upsert

COURSE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


class CourseOut(BaseModel):
    id: int
    code: str
    name: str
    created_at: datetime
    role: Role | None = None  # the caller's role


class MemberOut(BaseModel):
    user_id: int
    username: str
    display_name: str
    role: Role


def create_course(platform: Platform, actor: Actor, code: str, name: str) -> CourseOut:
    """Create a course (administrators only); the creator is not enrolled automatically."""
    require_admin(actor)
    if not COURSE_CODE.match(code):
        raise InvalidRequestError("a course code is 1-64 letters, digits, '.', '_' or '-'")
    if not name.strip():
        raise InvalidRequestError("a course needs a name")
    with platform.db.session() as session:
        # one statement, so that two admins creating the same code at once get a 409
        course_id = insert_new(
            session, Course, {"code": code, "name": name.strip()}, key=["code"], returning=Course.id
        )
        if course_id is None:
            raise ConflictError(f"course {code!r} already exists")
        course = session.get_one(Course, course_id)
        audit.record(session, actor, "course.create", f"course:{course.id}", code=code)
        return CourseOut(
            id=course.id, code=course.code, name=course.name, created_at=course.created_at
        )


def list_courses(platform: Platform, actor: Actor) -> list[CourseOut]:
    """The courses the actor is enrolled in (administrators: all)."""
    with platform.db.reading() as session:
        if actor.is_admin:
            rows = [
                (c, Role.INSTRUCTOR) for c in session.scalars(select(Course).order_by(Course.code))
            ]
        else:
            rows = [
                (c, Role(role))
                for c, role in session.execute(
                    select(Course, Enrollment.role)
                    .join(Enrollment, Enrollment.course_id == Course.id)
                    .where(Enrollment.user_id == actor.user_id)
                    .order_by(Course.code)
                )
            ]
        return [
            CourseOut(id=c.id, code=c.code, name=c.name, created_at=c.created_at, role=role)
            for c, role in rows
        ]


def get_course(platform: Platform, actor: Actor, course_id: int) -> CourseOut:
    with platform.db.reading() as session:
        role = require_member(session, actor, course_id)
        course = session.get(Course, course_id)
        assert course is not None  # noqa: S101 - require_member checked it
        return CourseOut(
            id=course.id,
            code=course.code,
            name=course.name,
            created_at=course.created_at,
            role=role,
        )


def find_course(platform: Platform, actor: Actor, code: str) -> CourseOut:
    with platform.db.reading() as session:
        course_id = session.scalar(select(Course.id).where(Course.code == code))
    if course_id is None:
        raise NotFoundError("no such course")
    return get_course(platform, actor, course_id)


def enroll(
    platform: Platform, actor: Actor, course_id: int, username: str, role: Role
) -> MemberOut:
    """Add a user to a course or change their role (instructors and admins)."""
    with platform.db.session() as session:
        require_instructor(session, actor, course_id)
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"no user {username!r}")
        upsert(
            session,
            Enrollment,
            {"course_id": course_id, "user_id": user.id, "role": role},
            key=["user_id", "course_id"],
            update=["role"],
        )
        audit.record(
            session, actor, "course.enroll", f"course:{course_id}", user=username, role=role
        )
        return MemberOut(
            user_id=user.id, username=user.username, display_name=user.display_name, role=role
        )


def unenroll(platform: Platform, actor: Actor, course_id: int, user_id: int) -> None:
    with platform.db.session() as session:
        require_instructor(session, actor, course_id)
        row = session.scalar(
            select(Enrollment).where(
                Enrollment.course_id == course_id, Enrollment.user_id == user_id
            )
        )
        if row is None:
            raise NotFoundError("that user is not in the course")
        session.delete(row)
        audit.record(session, actor, "course.unenroll", f"course:{course_id}", user_id=user_id)


def list_members(platform: Platform, actor: Actor, course_id: int) -> list[MemberOut]:
    with platform.db.reading() as session:
        role = require_member(session, actor, course_id)
        query = (
            select(User, Enrollment.role)
            .join(Enrollment, Enrollment.user_id == User.id)
            .where(Enrollment.course_id == course_id)
            .order_by(User.username)
        )
        if role is Role.STUDENT:  # students see the staff only
            query = query.where(Enrollment.role != Role.STUDENT)
        return [
            MemberOut(user_id=u.id, username=u.username, display_name=u.display_name, role=Role(r))
            for u, r in session.execute(query)
        ]


def list_roster(platform: Platform, actor: Actor, course_id: int) -> list[MemberOut]:
    """Every member, students included (course staff)."""
    with platform.db.reading() as session:
        require_staff(session, actor, course_id)
    return list_members(platform, actor, course_id)


__all__ = [
    "CourseOut",
    "MemberOut",
    "course_role",
    "create_course",
    "enroll",
    "find_course",
    "get_course",
    "list_courses",
    "list_members",
    "list_roster",
    "unenroll",
]


def is_staff_anywhere(platform: Platform, actor: Actor) -> bool:
    """Whether the actor is an administrator or staff of at least one course."""
    if actor.is_admin:
        return True
    with platform.db.reading() as session:
        return (
            session.scalar(
                select(Enrollment.id)
                .where(Enrollment.user_id == actor.user_id, Enrollment.role != Role.STUDENT)
                .limit(1)
            )
            is not None
        )
