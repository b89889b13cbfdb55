"""Assignment analytics in the admin zone (course staff): the numbers behind the
analytics page, as JSON for dashboards and scripts."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from assay.services.reporting import analytics
from assay.services.reporting.analytics import AnalyticsOut, Unit
from assay.web.deps import IdPath, PlatformDep, StaffDep, staff_zone

router = APIRouter(prefix="/admin", tags=["admin: analytics"], dependencies=[Depends(staff_zone)])


@router.get("/assignments/{assignment_id}/analytics", response_model=AnalyticsOut)
def assignment_analytics(
    assignment_id: IdPath, platform: PlatformDep, actor: StaffDep, unit: Unit = Unit.AUTO
) -> AnalyticsOut:
    """Submissions over time around the due date (per ``hour`` or ``day``; ``auto``
    picks), pass rate per test (worst first), time from first submission to full marks,
    and headline numbers. Students only: staff submissions are left out."""
    return analytics.for_assignment(platform, actor, assignment_id, unit)
