"""The admin zone (Anubis 2.2.1): every staff-only endpoint lives under ``/api/v1/admin``.

The whole zone is closed to callers who are neither administrators nor staff of
some course (403); each endpoint then checks the caller's role in the course it
touches (outsiders of that course get 404).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from assay.services.identity import accounts, audit
from assay.services.identity.accounts import UserOut
from assay.services.identity.audit import AuditOut
from assay.web.api import assignments, courses, submissions
from assay.web.deps import PlatformDep, StaffDep, staff_zone

users = APIRouter(tags=["admin: users and audit"])


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    display_name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=320)
    is_admin: bool = False


Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10**9)]


@users.post("/users", status_code=201, response_model=UserOut)
def create_user(body: UserIn, platform: PlatformDep, actor: StaffDep) -> UserOut:
    """Create a local account (administrators); no password = single sign-on only."""
    return accounts.create_user(
        platform,
        actor,
        body.username,
        body.password,
        display_name=body.display_name,
        email=body.email,
        is_admin=body.is_admin,
    )


@users.get("/users", response_model=list[UserOut])
def list_users(
    platform: PlatformDep, actor: StaffDep, limit: Limit = 100, offset: Offset = 0
) -> list[UserOut]:
    """All accounts (administrators)."""
    return accounts.list_users(platform, actor, limit=limit, offset=offset)


@users.get("/audit", response_model=list[AuditOut])
def audit_log(
    *,
    platform: PlatformDep,
    actor: StaffDep,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[AuditOut]:
    """Who changed what, newest first (administrators)."""
    return audit.list_entries(
        platform, actor, action=action, target=target, limit=limit, offset=offset
    )


router = APIRouter(prefix="/admin", dependencies=[Depends(staff_zone)])
for part in (users, courses.admin, assignments.admin, submissions.admin):
    router.include_router(part)
