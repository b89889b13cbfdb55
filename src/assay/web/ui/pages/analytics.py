"""Pages: an assignment's analytics for its course staff (Anubis 2.6.3).

One page, ``/staff/assignments/{id}/analytics``: submissions over time around the
due date, pass rate per test (worst first) and time to full marks, each drawn by
Chart.js from a JSON block (static/js/charts.js) and also given as a table.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from assay.services.reporting import analytics
from assay.services.reporting.analytics import Unit
from assay.web.deps import IdPath, PlatformDep
from assay.web.ui.render import render
from assay.web.ui.session import UserDep

router = APIRouter()

UNIT_CHOICES = ((Unit.AUTO, "Auto"), (Unit.HOUR, "Per hour"), (Unit.DAY, "Per day"))


@router.get("/staff/assignments/{assignment_id}/analytics")
def assignment_analytics(
    request: Request,
    assignment_id: IdPath,
    platform: PlatformDep,
    actor: UserDep,
    unit: Unit = Unit.AUTO,
) -> HTMLResponse:
    found = analytics.for_assignment(platform, actor, assignment_id, unit)
    return render(
        request,
        "analytics/assignment.html",
        title=f"Analytics · {found.title}",
        nav="staff",
        crumbs=[
            ("Staff", "/staff"),
            (found.course_code, f"/staff/courses/{found.course_id}"),
            (found.title, f"/staff/assignments/{found.assignment_id}"),
            ("Analytics", None),
        ],
        a=found,
        unit=unit,
        unit_choices=UNIT_CHOICES,
        chart_data=found.model_dump(mode="json"),
    )
