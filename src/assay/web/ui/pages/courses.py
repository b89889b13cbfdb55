"""Pages: the courses a user belongs to, and one course's assignments."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from assay.services.catalog import courses
from assay.services.reporting import coursework
from assay.web.deps import IdPath, PlatformDep
from assay.web.ui.render import render
from assay.web.ui.session import UserDep

router = APIRouter()


@router.get("/courses")
def course_list(request: Request, platform: PlatformDep, actor: UserDep) -> HTMLResponse:
    found = courses.list_courses(platform, actor)
    return render(request, "courses/list.html", title="Courses", nav="courses", courses=found)


@router.get("/courses/{course_id}")
def course_page(
    request: Request, course_id: IdPath, platform: PlatformDep, actor: UserDep
) -> HTMLResponse:
    """The course's assignments, open ones first, with the user's own standing in each."""
    overview = coursework.course_overview(platform, actor, course_id)
    return render(
        request,
        "courses/course.html",
        title=overview.course.name,
        nav="courses",
        crumbs=[("Courses", "/courses"), (overview.course.name, None)],
        overview=overview,
        now=datetime.now(UTC),
    )
