"""Pages: the courses a user belongs to."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from assay.services import courses
from assay.web.deps import PlatformDep
from assay.web.ui.render import render
from assay.web.ui.session import UserDep

router = APIRouter()


@router.get("/courses")
def course_list(request: Request, platform: PlatformDep, actor: UserDep) -> HTMLResponse:
    found = courses.list_courses(platform, actor)
    return render(request, "courses/list.html", title="Courses", nav="courses", courses=found)
