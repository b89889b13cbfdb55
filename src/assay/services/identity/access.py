"""Who may do what in a course: the one place roles are checked."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.errors import InvalidRequestError, NotFoundError, PermissionDeniedError
from assay.services.actor import Actor
from assay.storage.models import Course, Enrollment, Role

STAFF = frozenset({Role.TA, Role.INSTRUCTOR})


def course_role(session: Session, actor: Actor, course_id: int) -> Role | None:
    """The actor's role in the course; admins and the system act as instructors."""
    if actor.is_admin:
        return Role.INSTRUCTOR
    return None if actor.user_id is None else member_role(session, course_id, actor.user_id)


def member_role(session: Session, course_id: int, user_id: int) -> Role | None:
    """The user's enrollment in the course (None: not a member, or no such user)."""
    role = session.scalar(
        select(Enrollment.role).where(
            Enrollment.course_id == course_id, Enrollment.user_id == user_id
        )
    )
    return Role(role) if role else None


def require_member(session: Session, actor: Actor, course_id: int) -> Role:
    """Any role in the course; outsiders get NotFound so course ids do not leak."""
    if session.get(Course, course_id) is None:
        raise NotFoundError("no such course")
    role = course_role(session, actor, course_id)
    if role is None:
        raise NotFoundError("no such course")
    return role


def submission_owner(
    session: Session, actor: Actor, role: Role | None, course_id: int, user_id: int | None
) -> int:
    """Whose submission ``actor`` (whose ``role`` in the course is given) makes there.

    Their own (``user_id`` None or theirs), or, for the course's staff (administrators
    and the system act as its instructors), a member's of that course. A student naming
    anyone else is refused (PermissionDenied) whoever that is; staff naming someone who
    is not a member get NotFound, the same answer as for an id no user has, so the
    existence of users outside the course does not leak.
    """
    if user_id is None or user_id == actor.user_id:
        if actor.user_id is None:
            raise InvalidRequestError("say whose submission this is (user_id)")
        return actor.user_id
    if role not in STAFF:
        raise PermissionDeniedError("only the course's staff may submit for someone else")
    if member_role(session, course_id, user_id) is None:
        raise NotFoundError("no such member of this course")
    return user_id


def require_staff(session: Session, actor: Actor, course_id: int) -> Role:
    role = require_member(session, actor, course_id)
    if role not in STAFF:
        raise PermissionDeniedError("only course staff may do that")
    return role


def require_instructor(session: Session, actor: Actor, course_id: int) -> Role:
    role = require_member(session, actor, course_id)
    if role is not Role.INSTRUCTOR:
        raise PermissionDeniedError("only the course's instructors may do that")
    return role


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDeniedError("only administrators may do that")


def is_staff(session: Session, actor: Actor, course_id: int) -> bool:
    return course_role(session, actor, course_id) in STAFF
