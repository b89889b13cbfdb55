"""Staff pages in a real browser: the results table with a tamper flag, live search,
grade exports, regrade all; managing an assignment (upload, reference check,
publish, dates); the course dashboard and the queue."""

from __future__ import annotations

import csv
import io
import json
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Download, Page, expect

from api_helpers import EXAMPLES, PASSWORD, Api, package_bytes
from assay.grading.submission import load_submission
from assay.services import Actor
from assay.services.catalog import assignments, courses, packages
from assay.services.identity import accounts
from assay.services.intake import submissions
from assay.services.reporting import results
from assay.storage.models import Role, RunStatus
from browser.conftest import login, screenshot

pytestmark = [pytest.mark.native, pytest.mark.slow]

# username, display name, python-unittest variant (None: never submits)
CLASS = (
    ("alice", "", "bad/tamper-eq"),
    ("bob", "", "solution"),
    ("carol", "Carol Chen", "bad/wrong-answer"),
    ("dmitri", "Dmitri Volkov", "bad/crash"),
    ("erin", "Erin Okafor", None),
)


def wait_graded(site: Api, submission_ids: list[int], timeout_s: float = 120) -> None:
    system = Actor.system()
    deadline = time.monotonic() + timeout_s
    waiting = set(submission_ids)
    while waiting and time.monotonic() < deadline:
        for sid in list(waiting):
            if results.get_submission(site.platform, system, sid).status == RunStatus.GRADED:
                waiting.discard(sid)
        time.sleep(0.3)
    assert not waiting, f"not graded in time: {sorted(waiting)}"


def seed_unittest_class(site: Api) -> int:
    """A python-unittest assignment with five students: one tampers, one never submits."""
    system = Actor.system()
    created = assignments.create_assignment(
        site.platform,
        system,
        site.course_id,
        package_bytes("python-unittest"),
        "python-unittest.tar.gz",
        publish=True,
    )
    submitted = []
    for username, display, variant in CLASS:
        if username not in site.user_ids:
            user = accounts.create_user(
                site.platform, system, username, PASSWORD, display_name=display
            )
            site.user_ids[username] = user.id
            courses.enroll(site.platform, system, site.course_id, username, Role.STUDENT)
        if variant is None:
            continue
        files = load_submission(EXAMPLES / "python-unittest" / variant)
        student = Actor(user_id=site.user_ids[username], username=username)
        submitted.append(submissions.submit(site.platform, student, created.id, files).id)
    wait_graded(site, submitted)
    return created.id


def test_results_tamper_flag_search_exports_and_regrade_all(page: Page, site: Api) -> None:
    assignment_id = seed_unittest_class(site)
    login(page, site, "ta")
    page.get_by_role("link", name="Staff").click()
    page.get_by_role("link", name="Programming 1").click()
    expect(page.get_by_role("heading", name="Programming 1")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Keeping stock")
    expect(row).to_contain_text("4 / 5")  # students who submitted, of five
    expect(row.get_by_role("link", name="Analytics")).to_have_attribute(
        "href", f"/staff/assignments/{assignment_id}/analytics"
    )
    row.get_by_role("link", name="Results").click()
    expect(page).to_have_url(f"{site.url}/staff/assignments/{assignment_id}/results")

    alice = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="alice"))
    expect(alice.locator(".tamper-flag")).to_have_text("TAMPER")
    bob = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="bob"))
    expect(bob).to_contain_text("16 / 16")
    expect(bob.locator(".tamper-flag")).to_have_count(0)
    erin = page.get_by_role("row").filter(has_text="Erin Okafor")
    expect(erin).to_contain_text("no submission")
    expect(page.get_by_role("status")).to_contain_text("5 of 5 students")
    screenshot(page, "staff-results")

    # live search (htmx): no page load, only matching rows
    page.evaluate("window.__same_page = true")
    page.get_by_label("Search students by name").fill("chen")
    expect(page.get_by_role("status")).to_contain_text("1 of 5 students matching")
    expect(page.get_by_role("rowheader")).to_have_count(1)
    expect(page.get_by_role("rowheader")).to_contain_text("Carol Chen")
    assert page.evaluate("window.__same_page") is True
    page.get_by_label("Search students by name").fill("")
    expect(page.get_by_role("rowheader")).to_have_count(5)

    # sort by score: highest first, then (clicked again) lowest first
    page.get_by_role("link", name="Score").click()
    expect(page.get_by_role("columnheader", name="Score")).to_have_attribute(
        "aria-sort", "descending"
    )
    expect(page.get_by_role("rowheader").first).to_contain_text("bob")
    page.get_by_role("link", name="Score").click()
    expect(page.get_by_role("columnheader", name="Score")).to_have_attribute(
        "aria-sort", "ascending"
    )
    expect(page.get_by_role("rowheader").first).to_contain_text("alice")

    # exports: both files download with the counted grades
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Export CSV").click()
    rows = {r["username"]: r for r in csv.DictReader(io.StringIO(_text(csv_download.value)))}
    assert rows["alice"]["tampered"] == "true"
    assert rows["bob"]["counted_score"] == "16.0" and rows["bob"]["tampered"] == "false"
    assert rows["erin"]["submission_id"] == ""
    with page.expect_download() as json_download:
        page.get_by_role("link", name="Export Gradescope JSON").click()
    exported = json.loads(_text(json_download.value))
    scores = {s["username"]: s["counted_score"] for s in exported["students"]}
    assert scores["bob"] == 16.0 and scores["erin"] is None
    assert exported["assignment"] == "python-unittest"

    # regrade all, after confirming
    before = results.list_submissions(
        site.platform,
        Actor.system(),
        results.SubmissionFilter(assignment_id=assignment_id),
        staff=True,
    )
    dialogs: list[str] = []

    def confirm(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", confirm)
    page.get_by_role("button", name="Regrade all").click()
    expect(page.get_by_role("status").first).to_contain_text("Regrade queued")
    assert dialogs and "Regrade every submission" in dialogs[0]
    after = results.list_submissions(
        site.platform,
        Actor.system(),
        results.SubmissionFilter(assignment_id=assignment_id),
        staff=True,
    )
    assert {s.run_id for s in after}.isdisjoint({s.run_id for s in before})
    wait_graded(site, [s.id for s in after])
    page.reload()
    expect(alice.locator(".tamper-flag")).to_have_text("TAMPER")


def _text(download: Download) -> str:
    return Path(download.path()).read_text()


def test_manage_assignment_upload_check_publish_and_dates(
    page: Page, site: Api, tmp_path: Path
) -> None:
    login(page, site, "teacher")
    page.goto(f"{site.url}/staff/assignments/{site.assignment_id}")
    expect(page.get_by_role("heading", name="Exam statistics")).to_be_visible()

    # a package whose "reference solution" is wrong: the check says so
    broken = tmp_path / "broken"
    shutil.copytree(EXAMPLES / "python-io", broken)
    shutil.copy(broken / "bad" / "wrong-answer" / "stats.py", broken / "solution" / "stats.py")
    archive = tmp_path / "python-io-v2.tar.gz"
    archive.write_bytes(packages.pack_directory(broken))
    page.get_by_label("Package (.zip or .tar.gz)").set_input_files(str(archive))
    # the assignment is published: a version failing its check is put in place only when asked
    page.get_by_label("Put it in place even if its reference check fails").check()
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_role("status").first).to_contain_text("New version uploaded")
    check = page.locator("#check")
    expect(check).to_contain_text("Check failed", timeout=90_000)
    expect(check).to_contain_text("the reference solution got 7 / 10")

    # the right package again: passed, solution and every known-bad as expected
    good = tmp_path / "python-io-v3.tar.gz"
    good.write_bytes(package_bytes())
    page.get_by_label("Package (.zip or .tar.gz)").set_input_files(str(good))
    page.get_by_role("button", name="Upload and check").click()
    expect(check).to_contain_text("Check passed", timeout=90_000)
    expect(check.get_by_role("row")).to_have_count(5)  # header, solution, three known-bad
    expect(page.get_by_role("row").filter(has_text="v3")).to_contain_text("current")
    expect(page.locator("#current-check-badge")).to_have_text("passed")  # updated with the check
    screenshot(page, "staff-assignment")

    # unpublish (confirmed), then publish again
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Unpublish").click()
    expect(page.get_by_role("status").first).to_contain_text("Hidden from students")
    teacher = Actor(user_id=site.user_ids["teacher"], username="teacher")
    assert assignments.get_assignment(site.platform, teacher, site.assignment_id).published is False
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status").first).to_contain_text("Published")

    # dates, late policy, best-submission policy
    page.get_by_label("Due", exact=True).fill("2031-05-04T23:59")
    page.get_by_label("Grace period (minutes)").fill("15")
    page.get_by_label("Penalty per started day late (%)").fill("10")
    page.get_by_label("Accept until (days after due)").fill("3")
    page.get_by_label("Submission that counts").select_option("highest")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status").first).to_contain_text("Settings saved")
    saved = assignments.get_assignment(site.platform, teacher, site.assignment_id)
    assert saved.published is True
    assert saved.due_at is not None and saved.due_at.isoformat() == "2031-05-04T23:59:00+00:00"
    assert (saved.late_policy.grace_minutes, saved.late_policy.max_late_days) == (15, 3)
    assert saved.late_policy.penalty_per_day == pytest.approx(0.1)
    assert saved.best_policy == "highest"
    expect(page.get_by_label("Due", exact=True)).to_have_value("2031-05-04T23:59")


def test_queue_page_and_who_may_see_staff_pages(page: Page, site: Api) -> None:
    login(page, site, "ta")
    page.goto(f"{site.url}/staff/queue")
    expect(page.get_by_role("heading", name="Queue and workers")).to_be_visible()
    expect(page.locator(".worker").first).to_contain_text("alive")
    expect(page.locator(".worker").first).to_contain_text("/ 4 slots busy")
    expect(page.get_by_role("cell", name="Nothing waiting or running")).to_be_visible()

    page.context.clear_cookies()
    login(page, site, "alice")
    response = page.goto(f"{site.url}/staff/courses/{site.course_id}")
    assert response is not None and response.status == 403
    response = page.goto(f"{site.url}/staff/assignments/{site.assignment_id}/results")
    assert response is not None and response.status == 403
    response = page.goto(f"{site.url}/staff/queue")
    assert response is not None and response.status == 404
    expect(page.get_by_role("link", name="Staff")).to_have_count(0)
