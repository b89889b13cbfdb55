"""Pages for course staff: their courses, a course dashboard, managing an assignment
(package versions and their reference check, publishing, dates and policies), the
autograde results table (search and sort with htmx), regrades, and the queue.

Every route calls the services, which check that the actor is staff of the course.
After a change the browser is redirected (POST, redirect, GET) with ``?done=<key>``;
the message shown is looked up in ``NOTICES``, never taken from the URL.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from assay.errors import AssayError, ConflictError, InvalidRequestError, PayloadTooLargeError
from assay.grading.scoring import BestPolicy, LatePolicy
from assay.services import Actor, Platform
from assay.services.catalog import assignments, courses, refcheck
from assay.services.reporting import gradebook, results
from assay.web.deps import IdPath, PlatformDep
from assay.web.ui.render import render
from assay.web.ui.session import FormUserDep, UserDep

router = APIRouter()

NOTICES = {
    "created": ("ok", "Assignment created. Its package is being checked against the solution."),
    "uploaded": ("ok", "New version uploaded. It is being checked against the solution."),
    "checked": ("ok", "New version uploaded; it passed its check against the solution."),
    "forced": (
        "warn",
        "New version uploaded although its check failed: students are graded against it.",
    ),
    "checking": ("info", "Checking the package against its reference solution."),
    "pending": (
        "info",
        "New version uploaded. The workers are checking it against the solution; it "
        "becomes the current version when it passes.",
    ),
    "published": ("ok", "Published: students can see the assignment (from its release date)."),
    "unpublished": ("warn", "Hidden from students."),
    "saved": ("ok", "Settings saved."),
    "regraded": ("ok", "Regrade queued. Rows update as the runs finish."),
    "regraded-one": ("ok", "Regrade of that submission queued."),
}
BEST_POLICIES = {
    BestPolicy.MOST_PASSED: "Most tests passed (then the newest)",
    BestPolicy.HIGHEST: "Highest score after late penalty",
    BestPolicy.LATEST: "Newest submission",
}
PACKAGE_REFUSALS = (InvalidRequestError, ConflictError, PayloadTooLargeError)
"""What a bad package upload raises: shown on the form, not on an error page."""
PackageUpload = Annotated[UploadFile, File(description="the package as .zip or .tar(.gz)")]


def _notice(done: str) -> list[tuple[str, str]]:
    return [NOTICES[done]] if done in NOTICES else []


def _back(path: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={done}", status_code=303)


def _runs_on(request: Request, platform: Platform) -> refcheck.RunsOn:
    """Where this server runs reference checks (it knows if it has embedded workers)."""
    return refcheck.runs_on(platform, getattr(request.app.state, "embedded_workers", None))


def _is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


@router.get("/staff")
def staff_home(request: Request, platform: PlatformDep, actor: UserDep) -> HTMLResponse:
    found = gradebook.staff_courses(platform, actor)
    return render(request, "staff/index.html", title="Teaching", nav="staff", courses=found)


@router.get("/staff/courses/{course_id}")
def course_page(
    request: Request, course_id: IdPath, platform: PlatformDep, actor: UserDep, done: str = ""
) -> HTMLResponse:
    return _course(request, platform, actor, course_id, flash=_notice(done))


def _course(
    request: Request,
    platform: Platform,
    actor: Actor,
    course_id: int,
    *,
    flash: list[tuple[str, str]],
    status_code: int = 200,
) -> HTMLResponse:
    board = gradebook.course_dashboard(platform, actor, course_id)
    return render(
        request,
        "staff/course.html",
        status_code=status_code,
        title=board.course.name,
        nav="staff",
        crumbs=[("Teaching", "/staff"), (board.course.code, None)],
        flash=flash,
        board=board,
        now=datetime.now(UTC),
    )


def _not_uploaded(exc: AssayError) -> tuple[list[tuple[str, str]], int]:
    """A refused package as the form's flash (the page again, not an error page)."""
    why = exc.message.removeprefix("not uploaded: ")
    return [("error", f"Not uploaded: {why}")], (409 if isinstance(exc, ConflictError) else 400)


@router.post("/staff/courses/{course_id}/assignments")
def create_assignment(
    request: Request,
    course_id: IdPath,
    platform: PlatformDep,
    actor: FormUserDep,
    package: PackageUpload,
) -> Response:
    data = package.file.read()
    try:
        created = assignments.create_assignment(
            platform, actor, course_id, data, package.filename or "package.tar.gz"
        )
    except PACKAGE_REFUSALS as exc:
        flash, status = _not_uploaded(exc)
        return _course(request, platform, actor, course_id, flash=flash, status_code=status)
    refcheck.start_reference_check(platform, actor, created.id, on=_runs_on(request, platform))
    return _back(f"/staff/assignments/{created.id}", "created")


@router.get("/staff/assignments/{assignment_id}")
def assignment_page(
    request: Request, assignment_id: IdPath, platform: PlatformDep, actor: UserDep, done: str = ""
) -> HTMLResponse:
    return _assignment(request, platform, actor, assignment_id, flash=_notice(done))


def _assignment(
    request: Request,
    platform: Platform,
    actor: Actor,
    assignment_id: int,
    *,
    flash: list[tuple[str, str]],
    status_code: int = 200,
) -> HTMLResponse:
    assignment = assignments.get_assignment(platform, actor, assignment_id)
    versions = refcheck.list_versions(platform, actor, assignment_id)
    return render(
        request,
        "staff/assignment.html",
        status_code=status_code,
        title=assignment.title,
        nav="staff",
        crumbs=_crumbs(platform, actor, assignment.course_id, assignment.title),
        flash=flash,
        assignment=assignment,
        versions=versions,
        current=next((v for v in versions if v.current), None),
        policies=BEST_POLICIES,
        now=datetime.now(UTC),
    )


@router.get("/staff/assignments/{assignment_id}/check")
def check_fragment(
    request: Request, assignment_id: IdPath, platform: PlatformDep, actor: UserDep
) -> HTMLResponse:
    """The current version's check alone (htmx polls it while the check runs)."""
    assignment = assignments.get_assignment(platform, actor, assignment_id)
    versions = refcheck.list_versions(platform, actor, assignment_id)
    return render(
        request,
        "staff/_check.html",
        assignment=assignment,
        current=next((v for v in versions if v.current), None),
        oob=True,  # also refresh the badge in the versions table
    )


@router.post("/staff/assignments/{assignment_id}/check")
def run_check(
    request: Request, assignment_id: IdPath, platform: PlatformDep, actor: FormUserDep
) -> RedirectResponse:
    refcheck.start_reference_check(platform, actor, assignment_id, on=_runs_on(request, platform))
    return _back(f"/staff/assignments/{assignment_id}", "checking")


@router.post("/staff/assignments/{assignment_id}/versions")
def upload_version(
    *,
    request: Request,
    assignment_id: IdPath,
    platform: PlatformDep,
    actor: FormUserDep,
    package: PackageUpload,
    force: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """A new version. Of a published assignment (students are graded against it at
    once) it is checked first and refused if the check does not pass, unless the
    form's "even if its check fails" box is ticked (``force=yes``, audited); of a
    hidden one it is stored at once and checked in the background."""
    data = package.file.read()
    filename = package.filename or "package.tar.gz"
    on = _runs_on(request, platform)
    try:
        if assignments.get_assignment(platform, actor, assignment_id).published:
            checked = refcheck.upload_checked(
                platform, actor, assignment_id, data, filename, force=force == "yes", on=on
            )
            status = checked.reference.status
            pending = status == "running" and checked.version != checked.reference_version
            done = "checked" if status == "passed" else "pending" if pending else "forced"
            return _back(f"/staff/assignments/{assignment_id}", done)
        assignments.upload_version(platform, actor, assignment_id, data, filename)
    except PACKAGE_REFUSALS as exc:
        flash, status_code = _not_uploaded(exc)
        return _assignment(
            request, platform, actor, assignment_id, flash=flash, status_code=status_code
        )
    refcheck.start_reference_check(platform, actor, assignment_id, on=on)
    return _back(f"/staff/assignments/{assignment_id}", "uploaded")


@router.post("/staff/assignments/{assignment_id}/publish")
def publish(
    *,
    request: Request,
    assignment_id: IdPath,
    platform: PlatformDep,
    actor: FormUserDep,
    published: Annotated[bool, Form()],
    force: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Publish or hide; publishing a version whose reference check did not pass takes
    the "Publish anyway" button (``force=yes``, confirmed in the browser, audited)."""
    if published:
        try:
            refcheck.require_publishable(platform, actor, assignment_id, force=force == "yes")
        except ConflictError as exc:
            return _assignment(
                request,
                platform,
                actor,
                assignment_id,
                flash=[("error", exc.message)],
                status_code=409,
            )
    assignments.update_assignment(platform, actor, assignment_id, published=published)
    return _back(f"/staff/assignments/{assignment_id}", "published" if published else "unpublished")


@router.post("/staff/assignments/{assignment_id}/settings")
def save_settings(
    *,
    assignment_id: IdPath,
    platform: PlatformDep,
    actor: FormUserDep,
    title: Annotated[str, Form(max_length=200)],
    release_at: Annotated[str, Form(max_length=40)] = "",
    due_at: Annotated[str, Form(max_length=40)] = "",
    grace_minutes: Annotated[int, Form(ge=0, le=100_000)] = 0,
    penalty_percent: Annotated[float, Form(ge=0, le=100)] = 0.0,
    max_late_days: Annotated[str, Form(max_length=6)] = "",
    best_policy: Annotated[BestPolicy, Form()] = BestPolicy.MOST_PASSED,
    tz: Annotated[str, Form(max_length=64)] = "UTC",
) -> RedirectResponse:
    zone = _zone(tz)
    release, due = _utc(release_at, "release", zone), _utc(due_at, "due", zone)
    assignments.update_assignment(
        platform,
        actor,
        assignment_id,
        title=title,
        release_at=release,
        due_at=due,
        clear_release=release is None,
        clear_due=due is None,
        late_policy=LatePolicy(
            grace_minutes=grace_minutes,
            penalty_per_day=round(penalty_percent / 100, 4),
            max_late_days=_days(max_late_days),
        ),
        best_policy=best_policy,
    )
    return _back(f"/staff/assignments/{assignment_id}", "saved")


def _zone(name: str) -> tzinfo:
    """The time zone the form's dates were typed in: the browser's (staff.js sends its
    IANA name), UTC without JavaScript."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequestError(f"unknown time zone {name[:64]!r}") from None


def _utc(text: str, what: str, zone: tzinfo) -> datetime | None:
    """A ``datetime-local`` field, typed in ``zone`` (the form names it); blank means none."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequestError(f"the {what} date is not a date and time") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def _days(text: str) -> int | None:
    if not text.strip():
        return None
    if not text.strip().isdigit():
        raise InvalidRequestError("late days are a whole number (blank: no limit)")
    return int(text)


@router.get("/staff/assignments/{assignment_id}/results")
def results_page(
    *,
    request: Request,
    assignment_id: IdPath,
    platform: PlatformDep,
    actor: UserDep,
    q: Annotated[str, Query(max_length=100)] = "",
    sort: Annotated[str, Query(max_length=20)] = "name",
    desc: bool = False,
    done: str = "",
) -> HTMLResponse:
    table = gradebook.results_table(
        platform, actor, assignment_id, query=q, sort=sort, descending=desc
    )
    if _is_htmx(request):  # the live search: the rows only
        return render(request, "staff/_results_rows.html", table=table)
    return render(
        request,
        "staff/results.html",
        title=f"Results: {table.assignment.title}",
        nav="staff",
        crumbs=_crumbs(
            platform,
            actor,
            table.assignment.course_id,
            table.assignment.title,
            results_of=assignment_id,
        ),
        flash=_notice(done),
        table=table,
    )


@router.post("/staff/assignments/{assignment_id}/regrade")
def regrade_all(
    assignment_id: IdPath, platform: PlatformDep, actor: FormUserDep
) -> RedirectResponse:
    results.regrade_all(platform, actor, assignment_id)
    return _back(f"/staff/assignments/{assignment_id}/results", "regraded")


@router.post("/staff/submissions/{submission_id}/regrade")
def regrade_one(
    submission_id: IdPath, platform: PlatformDep, actor: FormUserDep
) -> RedirectResponse:
    done = results.regrade(platform, actor, submission_id)
    return _back(f"/staff/assignments/{done.assignment_id}/results", "regraded-one")


@router.get("/staff/queue")
def queue_page(request: Request, platform: PlatformDep, actor: UserDep) -> HTMLResponse:
    status = gradebook.queue_status(platform, actor)
    name = "staff/_queue.html" if _is_htmx(request) else "staff/queue.html"
    return render(
        request,
        name,
        title="Queue and workers",
        nav="staff",
        crumbs=[("Teaching", "/staff"), ("Queue and workers", None)],
        status=status,
        now=datetime.now(UTC),
    )


def _crumbs(
    platform: Platform, actor: Actor, course_id: int, title: str, *, results_of: int | None = None
) -> list[tuple[str, str | None]]:
    course = courses.get_course(platform, actor, course_id)
    trail: list[tuple[str, str | None]] = [
        ("Teaching", "/staff"),
        (course.code, f"/staff/courses/{course_id}"),
    ]
    if results_of is not None:
        return [*trail, (title, f"/staff/assignments/{results_of}"), ("Results", None)]
    return [*trail, (title, None)]
