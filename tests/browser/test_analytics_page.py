"""The analytics page in a real browser, with a class's worth of real gradings.

Eight students: seven submit the python-io solution or its bad variants at moments
spread over the three days before the due date (the service's clock is set for
each submission) and the worker pool grades every one on the native sandbox; one
student never submits. Staff see the headline numbers, three drawn charts and
their tables; students are refused; a phone has no horizontal scrolling.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from api_helpers import EXAMPLES, PASSWORD, Api
from assay.grading.scoring import LatePolicy
from assay.grading.submission import load_submission
from assay.services import Actor
from assay.services.catalog import assignments, courses
from assay.services.identity import accounts
from assay.services.intake import submissions
from assay.storage.models import Role
from browser.conftest import login, screenshot
from worker_helpers import run_statuses, wait_finished

pytestmark = [pytest.mark.native, pytest.mark.slow]

PYTHON_IO = EXAMPLES / "python-io"
VARIANTS = {
    "solution": PYTHON_IO / "solution",
    "wrong": PYTHON_IO / "bad" / "wrong-answer",  # 7 / 10: fails three tests
    "crash": PYTHON_IO / "bad" / "crash",  # 8 / 10
    "timeout": PYTHON_IO / "bad" / "timeout",  # 9 / 10: scores-from-a-file times out
}
# each student's submissions: (hours from the due date, variant); one round at a time,
# since a newer submission cancels the same student's run still waiting in the queue
PLAN: dict[str, list[tuple[float, str]]] = {
    "alice": [(-52, "crash"), (-30, "wrong"), (-6, "solution")],
    "bob": [(-26, "wrong"), (-3, "wrong"), (-1, "solution")],
    "carol": [(-9, "timeout"), (-2, "solution")],
    "dave": [(-4, "crash"), (-0.5, "wrong"), (2, "wrong")],  # the last one late
    "erin": [(-20, "solution")],
    "frank": [(-1.5, "crash"), (0.3, "timeout")],
    "grace": [(-0.8, "wrong")],
}
NEVER = "heidi"


@pytest.fixture
def graded(site: Api) -> Iterator[datetime]:
    """The plan submitted and graded; yields the due date (the next full hour)."""
    system = Actor.system()
    for name in [*PLAN, NEVER]:
        if name not in site.user_ids:
            site.user_ids[name] = accounts.create_user(site.platform, system, name, PASSWORD).id
            courses.enroll(site.platform, system, site.course_id, name, Role.STUDENT)
    due = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    assignments.update_assignment(
        site.platform,
        system,
        site.assignment_id,
        due_at=due,
        late_policy=LatePolicy(penalty_per_day=0.1, max_late_days=1),
    )
    files = {variant: load_submission(path) for variant, path in VARIANTS.items()}
    assignment = site.assignment_id
    with pytest.MonkeyPatch.context() as clock:
        for round_ in range(max(len(plan) for plan in PLAN.values())):
            run_ids = []
            for name, plan in PLAN.items():
                if round_ >= len(plan):
                    continue
                hours, variant = plan[round_]
                at = due + timedelta(hours=hours)
                clock.setattr(submissions, "utcnow", lambda at=at: at)
                student = Actor(user_id=site.user_ids[name], username=name)
                made = submissions.submit(site.platform, student, assignment, files[variant])
                run_ids.append(made.run_id)
            wait_finished(site.platform, run_ids, timeout_s=180)
            assert set(run_statuses(site.platform, run_ids).values()) == {"graded"}
    yield due


def open_analytics(page: Page, site: Api, query: str = "") -> None:
    page.goto(f"{site.url}/staff/assignments/{site.assignment_id}/analytics{query}")
    expect(page.locator("body")).to_have_attribute("data-charts-ready", "true")


def chart_points(page: Page, canvas_id: str) -> list[float]:
    """The numbers Chart.js drew on a canvas (summed over stacked datasets)."""
    values: list[float] = page.evaluate(
        """(id) => {
            const chart = Chart.getChart(document.getElementById(id));
            const sets = chart.data.datasets;
            return sets[0].data.map((_, i) => sets.reduce((sum, s) => sum + s.data[i], 0));
        }""",
        canvas_id,
    )
    return values


def test_staff_see_how_the_class_did(page: Page, site: Api, graded: datetime) -> None:
    console: list[ConsoleMessage] = []

    def keep(message: ConsoleMessage) -> None:
        console.append(message)

    page.on("console", keep)
    login(page, site, "teacher")
    open_analytics(page, site)
    expect(page.get_by_role("heading", name="Analytics", level=1)).to_be_visible()
    kpis = page.get_by_role("region", name="Headline numbers")
    expect(kpis).to_contain_text("7 / 8")  # students submitted / enrolled
    expect(kpis.locator(".kpi").nth(1)).to_contain_text("15")  # submissions
    expect(kpis).to_contain_text("57%")  # full marks: alice, bob, carol, erin of 7
    expect(kpis).to_contain_text("4 of 7 who submitted")

    # submissions over time: per hour (all within 72 h), 15 in all, the due line drawn
    timeline = chart_points(page, "chart-timeline")
    assert sum(timeline) == 15
    assert len(timeline) == 55  # hours -52 .. +2
    # which tests cause the most trouble: the three wrong-answer fails, for dave and grace
    callout = page.locator(".callout")
    expect(callout).to_contain_text("is passed by 5 of 7 students (71%)")
    rates = chart_points(page, "chart-tests")
    assert rates == sorted(rates)
    assert rates[0] == pytest.approx(71.4)
    assert rates[-1] == 100
    # time to full marks: erin first try, carol 7 h, bob 25 h, alice 46 h; three not yet
    assert chart_points(page, "chart-full") == [1, 0, 0, 1, 2, 0, 3]
    facts = page.locator(".facts")
    expect(facts).to_contain_text("16.0 h")  # median of 0, 7, 25 and 46 hours
    expect(facts).to_contain_text("4 of 7")

    screenshot(page, "staff-analytics")

    # each chart's numbers as a table, behind a keyboard-operable <details>
    tests = page.get_by_role("region", name="Which tests cause the most trouble")
    summary = tests.get_by_text("Show the numbers")
    summary.focus()
    page.keyboard.press("Enter")
    first = tests.get_by_role("row").nth(1)
    expect(first).to_contain_text("a-thousand-scores")
    expect(first).to_contain_text("5 / 7")
    expect(first).to_contain_text("hidden")

    # per day, from the switch: days -3 .. 0
    page.get_by_role("navigation", name="Time unit").get_by_role("link", name="Per day").click()
    expect(page.locator("body")).to_have_attribute("data-charts-ready", "true")
    assert len(chart_points(page, "chart-timeline")) == 4
    assert sum(chart_points(page, "chart-timeline")) == 15

    # a phone: everything stacks, nothing scrolls sideways
    page.set_viewport_size({"width": 390, "height": 844})
    open_analytics(page, site)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"
    screenshot(page, "staff-analytics-phone")
    errors = [message.text for message in console if message.type == "error"]
    assert errors == []  # no script errors, no CSP violations


def test_students_are_refused(page: Page, site: Api) -> None:
    login(page, site, "alice")
    response = page.goto(f"{site.url}/staff/assignments/{site.assignment_id}/analytics")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.locator("canvas")).to_have_count(0)


def test_before_any_submission_the_page_says_so(page: Page, site: Api) -> None:
    login(page, site, "ta")
    open_analytics(page, site)
    expect(page.get_by_role("region", name="Headline numbers")).to_contain_text("0 / 2")
    expect(page.get_by_text("No submissions yet.", exact=False)).to_have_count(2)
    expect(page.get_by_text("No graded submissions yet.")).to_be_visible()
    expect(page.locator("canvas")).to_have_count(0)
