"""The student pages in a real browser: a course, an assignment, submitting to it.

alice reads the statement, downloads the starter files, submits from the in-browser
editor and by dropping a file on the upload zone, and sees her history and score;
deadlines show what is left, the late window, or that the assignment is closed.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from api_helpers import EXAMPLES, Api, package_bytes
from assay.grading.scoring import LatePolicy
from assay.services import Actor
from assay.services.catalog import assignments
from assay.storage.models import utcnow
from browser.conftest import login, screenshot

pytestmark = [pytest.mark.native, pytest.mark.slow]

PACKAGE = EXAMPLES / "python-io"
SOLUTION = (PACKAGE / "solution" / "stats.py").read_text()
WRONG = (PACKAGE / "bad" / "wrong-answer" / "stats.py").read_text()
STARTER = (PACKAGE / "starter" / "stats.py").read_text()


def wait_graded(
    site: Api, who: str, submission_id: int, timeout_s: float = 60
) -> dict[str, object]:
    """The submission once its grading run has finished (read through the API)."""
    deadline = time.monotonic() + timeout_s
    with site.client(who) as client:
        while time.monotonic() < deadline:
            found: dict[str, object] = client.get(f"/submissions/{submission_id}").json()
            if found["status"] not in {"queued", "running"}:
                return found
            time.sleep(0.2)
    raise AssertionError(f"submission {submission_id} was not graded in {timeout_s} s")


def submitted_id(page: Page, site: Api) -> int:
    page.wait_for_url(f"{site.url}/submissions/*")
    return int(page.url.rsplit("/", 1)[-1])


def set_due(site: Api, *, days: float, late: LatePolicy | None = None) -> None:
    assignments.update_assignment(
        site.platform,
        Actor.system(),
        site.assignment_id,
        due_at=utcnow() + timedelta(days=days),
        late_policy=late,
    )


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"


def test_course_page_lists_assignments_with_the_students_standing(page: Page, site: Api) -> None:
    set_due(site, days=3)
    login(page, site, "alice")
    page.goto(f"{site.url}/courses")
    page.get_by_role("link", name="Programming 1").click()
    expect(page).to_have_url(f"{site.url}/courses/{site.course_id}")
    expect(page.get_by_role("heading", name="Programming 1", level=1)).to_be_visible()
    row = page.locator(".assignment-row", has_text="Exam statistics")
    expect(row).to_contain_text("Not submitted yet")
    expect(row.locator("[data-countdown]")).to_contain_text("2d 23h")
    expect(page.get_by_role("link", name="Staff dashboard")).to_have_count(0)
    row.get_by_role("link", name="Exam statistics").click()
    expect(page).to_have_url(f"{site.url}/assignments/{site.assignment_id}")


def test_staff_see_the_dashboard_link_and_outsiders_nothing(page: Page, site: Api) -> None:
    login(page, site, "ta")
    page.goto(f"{site.url}/courses/{site.course_id}")
    expect(page.get_by_role("link", name="Staff dashboard")).to_have_attribute(
        "href", f"/staff/courses/{site.course_id}"
    )
    page.goto(f"{site.url}/assignments/{site.assignment_id}")
    expect(page.get_by_role("link", name="Manage assignment")).to_be_visible()
    page.context.clear_cookies()
    login(page, site, "outsider")
    for path in (f"/courses/{site.course_id}", f"/assignments/{site.assignment_id}"):
        response = page.goto(site.url + path)
        assert response is not None and response.status == 404


def test_statement_starter_files_and_downloads(page: Page, site: Api) -> None:
    login(page, site, "alice")
    page.goto(f"{site.url}/assignments/{site.assignment_id}")
    statement = page.locator(".statement")
    expect(page.get_by_role("heading", level=1)).to_have_text("Exam statistics")  # only one h1
    expect(statement.get_by_role("heading", name="Input", level=3)).to_be_visible()
    expect(statement.locator("table")).to_contain_text("at least 50")  # Markdown table
    with page.expect_download() as one:
        page.get_by_role("link", name="stats.py").click()
    assert one.value.suggested_filename == "stats.py"
    assert one.value.path().read_text() == STARTER
    with page.expect_download() as everything:
        page.get_by_role("link", name="Download all (.zip)").click()
    archive = zipfile.ZipFile(io.BytesIO(everything.value.path().read_bytes()))
    assert archive.namelist() == ["stats.py"]
    # only the starter directory is served: no way to the hidden tests or the solution
    for sneaky in ("../assignment.toml", "..%2Fsolution%2Fstats.py", "tests/many.in"):
        response = page.request.get(f"{site.url}/assignments/{site.assignment_id}/starter/{sneaky}")
        assert response.status == 404, sneaky
        assert "PASS_MARK" not in response.text()


def test_submit_from_the_editor_then_history_and_score(page: Page, site: Api) -> None:
    set_due(site, days=2)
    login(page, site, "alice")
    page.goto(f"{site.url}/assignments/{site.assignment_id}")
    expect(page.get_by_role("tab", name="Editor")).to_have_attribute("aria-selected", "true")
    editor = page.locator(".CodeMirror")
    expect(editor).to_contain_text("TODO: read the scores")  # prefilled from the starter
    editor.evaluate("(node, text) => node.CodeMirror.setValue(text)", SOLUTION)
    page.get_by_role("button", name="Submit for grading").click()
    first = submitted_id(page, site)
    graded = wait_graded(site, "alice", first)
    assert (graded["status"], graded["score"]) == ("graded", 10.0)

    page.goto(f"{site.url}/assignments/{site.assignment_id}")
    history = page.locator(".history tbody tr")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("Full marks")
    expect(history.first).to_contain_text("10 / 10")
    expect(history.first.get_by_role("link", name="View")).to_have_attribute(
        "href", f"/submissions/{first}"
    )
    expect(page.locator(".summary")).to_contain_text("10 / 10")
    # the editor now starts from the last submission, with a way back to the starter
    expect(editor).to_contain_text("def parse_scores")
    page.get_by_role("link", name="Start again from the starter files").click()
    expect(page.locator(".CodeMirror")).to_contain_text("TODO: read the scores")

    for name, days in (("cpp-io", 9.0), ("c-make", -2.0)):  # one later, one closed
        assignments.create_assignment(
            site.platform,
            Actor.system(),
            site.course_id,
            package_bytes(name),
            slug=name,
            due_at=utcnow() + timedelta(days=days),
            publish=True,
        )
    page.goto(f"{site.url}/courses/{site.course_id}")
    rows = page.locator(".assignment-row")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Exam statistics")  # due soonest, first
    expect(rows.first).to_contain_text("10 / 10")
    expect(rows.first).to_contain_text("1 submission")
    expect(page.locator(".past .assignment-row")).to_contain_text("Closed")
    screenshot(page, "student-course")


def test_drop_a_file_on_the_upload_zone(page: Page, site: Api) -> None:
    set_due(site, days=2.3, late=LatePolicy(grace_minutes=15, penalty_per_day=0.1, max_late_days=2))
    login(page, site, "alice")
    page.goto(f"{site.url}/assignments/{site.assignment_id}")
    page.get_by_role("tab", name="Upload files").click()
    upload = page.get_by_role("button", name="Upload and submit")
    expect(upload).to_be_disabled()  # nothing chosen yet
    dropped = page.evaluate_handle(
        """(text) => {
            const data = new DataTransfer();
            data.items.add(new File([text], "stats.py", { type: "text/x-python" }));
            return data;
        }""",
        WRONG,
    )
    page.dispatch_event("[data-dropzone]", "drop", {"dataTransfer": dropped})
    expect(page.locator("[data-chosen] li")).to_contain_text("stats.py")
    upload.click()
    wrong = submitted_id(page, site)
    assert wait_graded(site, "alice", wrong)["score"] == 7.0

    # a zip of the files, chosen with the file picker
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("stats.py", SOLUTION)
    page.goto(f"{site.url}/assignments/{site.assignment_id}")
    page.get_by_role("tab", name="Upload files").click()
    page.locator("[data-file-input]").set_input_files(
        {"name": "mine.zip", "mimeType": "application/zip", "buffer": buffer.getvalue()}
    )
    page.get_by_role("button", name="Upload and submit").click()
    right = submitted_id(page, site)
    assert wait_graded(site, "alice", right)["score"] == 10.0

    page.goto(f"{site.url}/assignments/{site.assignment_id}")
    rows = page.locator(".history tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(f"{right}")  # newest first
    expect(rows.nth(0)).to_contain_text("counts")
    expect(rows.nth(1)).to_contain_text("7 / 10")
    screenshot(page, "student-assignment")


def test_a_refused_editor_submission_keeps_the_text(page: Page, site: Api) -> None:
    login(page, site, "alice")
    page.goto(f"{site.url}/assignments/{site.assignment_id}")
    page.locator(".CodeMirror").evaluate(
        "(node) => node.CodeMirror.setValue('print(\"draft\")\\n')"
    )
    # a tampered form: a path leaving the submission is refused by the service
    page.locator("input[name=path]").evaluate("(node) => { node.value = '../escape.py'; }")
    page.get_by_role("button", name="Submit for grading").click()
    expect(page.get_by_role("status")).to_contain_text("Not submitted")
    expect(page.locator(".CodeMirror")).to_contain_text('print("draft")')
    expect(page.locator(".history tbody tr")).to_have_count(0)


def test_late_window_then_closed(page: Page, site: Api) -> None:
    set_due(site, days=-0.5, late=LatePolicy(penalty_per_day=0.1, max_late_days=2))
    login(page, site, "alice")
    page.goto(f"{site.url}/assignments/{site.assignment_id}")
    expect(page.locator(".summary")).to_contain_text("Late period")
    expect(page.get_by_role("complementary")).to_contain_text(
        "each started day late costs 10% of the score"
    )
    page.locator(".CodeMirror").evaluate("(node, t) => node.CodeMirror.setValue(t)", SOLUTION)
    page.get_by_role("button", name="Submit for grading").click()
    late = submitted_id(page, site)
    assert wait_graded(site, "alice", late)["late_minutes"] != 0
    page.goto(f"{site.url}/assignments/{site.assignment_id}")
    expect(page.locator(".history tbody tr").first).to_contain_text("late")
    expect(page.locator(".summary")).to_contain_text("9 / 10")  # 10 % off for one day

    set_due(site, days=-3, late=LatePolicy(max_late_days=2))
    page.reload()
    expect(page.locator(".summary")).to_contain_text("Closed")
    expect(page.get_by_text("new submissions are not accepted")).to_be_visible()
    expect(page.get_by_role("button", name="Submit for grading")).to_have_count(0)


def test_phone_width_has_no_horizontal_scroll(page: Page, site: Api) -> None:
    set_due(site, days=1)
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, site, "alice")
    for path in (f"/courses/{site.course_id}", f"/assignments/{site.assignment_id}"):
        page.goto(site.url + path)
        expect(page.locator("h1")).to_be_visible()
        no_horizontal_scroll(page)
    screenshot(page, "student-assignment-phone")


def test_history_updates_itself_while_a_submission_is_graded(page: Page, site: Api) -> None:
    slow = (PACKAGE / "bad" / "timeout" / "stats.py").read_text()  # one test runs 3 s
    login(page, site, "alice")
    with site.client("alice") as alice:
        made = alice.post(
            f"/assignments/{site.assignment_id}/submissions", json={"files": {"stats.py": slow}}
        )
    assert made.status_code == 201, made.text
    page.goto(f"{site.url}/assignments/{site.assignment_id}")
    row = page.locator(".history tbody tr").first
    expect(row).to_contain_text(re.compile("Queued|Grading"))
    page.evaluate("window.stillTheSamePage = true")
    expect(row).to_contain_text("9 / 10", timeout=30_000)
    assert page.evaluate("window.stillTheSamePage") is True  # swapped in, not reloaded
    expect(page.locator("#history[hx-trigger]")).to_have_count(0)  # polling stopped
