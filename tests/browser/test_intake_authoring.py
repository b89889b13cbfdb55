"""Intake and authoring defects a new user met (issue 16, item 7), in a real browser:
the upload form names the required files, a zip of one folder is unwrapped, a file
named like a required one but for its case is refused before queueing (and not
charged to the rate limit), a broken package keeps staff on the form, the late
penalty is shown on the submission page, dates are entered and shown in the
browser's time zone, a failing reference check needs a confirmation to publish,
and a regrade of identical code asks first.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from api_helpers import EXAMPLES, Api, tar_of
from assay.files.fileset import FileSet
from assay.grading.scoring import LatePolicy
from assay.services import Actor
from assay.services.catalog import assignments, packages, refcheck
from assay.services.identity import audit
from assay.services.intake import submissions
from assay.storage.models import utcnow
from browser.conftest import login

pytestmark = [pytest.mark.native, pytest.mark.slow]

PACKAGE = EXAMPLES / "python-io"
SOLUTION = (PACKAGE / "solution" / "stats.py").read_bytes()


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def upload(page: Page, site: Api, tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    page.goto(f"{site.url}/assignments/{site.assignment_id}")
    page.get_by_role("tab", name="Upload files").click()
    page.locator("input[type=file][name=files]").set_input_files(str(path))
    page.get_by_role("button", name="Upload and submit").click()


def test_the_upload_form_names_the_required_files(page: Page, site: Api) -> None:
    login(page, site, "alice")
    page.goto(f"{site.url}/assignments/{site.assignment_id}")
    required = page.locator("#submit [data-required-files]")
    expect(required).to_contain_text("stats.py")


def test_a_zip_of_one_folder_is_unwrapped(page: Page, site: Api, tmp_path: Path) -> None:
    login(page, site, "alice")
    upload(page, site, tmp_path, "work.zip", zip_of({"my-work/stats.py": SOLUTION}))
    page.wait_for_url(f"{site.url}/submissions/*")
    expect(page.locator(".report-summary, .summary").first).to_contain_text("10 / 10")


def test_a_name_differing_in_case_is_refused_before_queueing(
    page: Page, site: Api, tmp_path: Path
) -> None:
    login(page, site, "alice")
    upload(page, site, tmp_path, "Stats.py", SOLUTION)
    alert = page.get_by_role("status")
    expect(alert).to_contain_text("Not submitted")
    expect(alert).to_contain_text("Stats.py")
    expect(alert).to_contain_text("stats.py")
    expect(page.locator(".history tbody tr")).to_have_count(0)
    upload(page, site, tmp_path, "other.py", SOLUTION)
    expect(page.get_by_role("status")).to_contain_text("the required file 'stats.py' is missing")
    expect(page.locator(".history tbody tr")).to_have_count(0)


def test_a_bad_package_keeps_staff_on_the_form_with_the_errors(
    page: Page, site: Api, tmp_path: Path
) -> None:
    bad = tmp_path / "broken.tar.gz"
    bad.write_bytes(tar_of({"assignment.toml": b'[assignment]\nname = "x"\nnonsense = 1\n'}))
    login(page, site, "teacher")
    page.goto(f"{site.url}/staff/courses/{site.course_id}")
    page.get_by_label("Package (.zip or .tar.gz with assignment.toml)").set_input_files(str(bad))
    page.get_by_role("button", name="Upload package").click()
    alert = page.get_by_role("status")
    expect(alert).to_contain_text("Not uploaded")
    expect(alert).to_contain_text("invalid package")
    expect(page.get_by_role("heading", name="New assignment")).to_be_visible()
    expect(page.get_by_role("button", name="Upload package")).to_be_visible()

    page.goto(f"{site.url}/staff/assignments/{site.assignment_id}")
    not_archive = tmp_path / "notes.txt"
    not_archive.write_text("not a package\n")
    page.get_by_label("Package (.zip or .tar.gz)").set_input_files(str(not_archive))
    page.get_by_role("button", name="Upload and check").click()
    alert = page.get_by_role("status")
    expect(alert).to_contain_text("Not uploaded")
    expect(alert).to_contain_text(".zip or .tar(.gz)")
    expect(page.get_by_role("button", name="Upload and check")).to_be_visible()


def test_the_submission_page_shows_raw_score_late_penalty_and_final(page: Page, site: Api) -> None:
    system = Actor.system()
    assignments.update_assignment(
        site.platform,
        system,
        site.assignment_id,
        due_at=utcnow() - timedelta(hours=30),  # two started days late
        late_policy=LatePolicy(penalty_per_day=0.1, max_late_days=3),
    )
    alice = Actor(user_id=site.user_ids["alice"], username="alice")
    files = FileSet.from_mapping({"stats.py": SOLUTION})
    made = submissions.submit(site.platform, alice, site.assignment_id, files)
    login(page, site, "alice")
    page.goto(f"{site.url}/submissions/{made.id}")
    late = page.locator("[data-late-penalty]")
    expect(late).to_contain_text("10 / 10", timeout=60_000)  # the raw score
    expect(late).to_contain_text("late penalty \u221220%")  # a minus sign
    expect(late).to_contain_text("counted 8 / 10")


def test_staff_enter_and_read_dates_in_their_own_time_zone(browser: Browser, site: Api) -> None:
    context = browser.new_context(timezone_id="America/New_York")
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        teacher = Actor(user_id=site.user_ids["teacher"], username="teacher")
        # a stored winter date (UTC-5 in New York) is offered in local time
        assignments.update_assignment(
            site.platform, teacher, site.assignment_id, due_at=datetime(2031, 1, 15, 12, tzinfo=UTC)
        )
        login(page, site, "teacher")
        page.goto(f"{site.url}/staff/assignments/{site.assignment_id}")
        due = page.get_by_label("Due", exact=True)
        expect(due).to_have_value("2031-01-15T07:00")
        expect(page.locator("#settings-h ~ form legend").first).to_contain_text("America/New_York")

        # a summer date typed in local time (UTC-4) is stored as that moment
        due.fill("2031-05-04T23:59")
        page.get_by_role("button", name="Save settings").click()
        expect(page.get_by_role("status").first).to_contain_text("Settings saved")
        saved = assignments.get_assignment(site.platform, teacher, site.assignment_id)
        assert saved.due_at == datetime(2031, 5, 5, 3, 59, tzinfo=UTC)
        expect(page.get_by_label("Due", exact=True)).to_have_value("2031-05-04T23:59")
    finally:
        context.close()


def test_a_student_regrade_of_the_same_code_asks_first(page: Page, site: Api) -> None:
    alice = Actor(user_id=site.user_ids["alice"], username="alice")
    files = FileSet.from_mapping({"stats.py": SOLUTION})
    made = submissions.submit(site.platform, alice, site.assignment_id, files)
    login(page, site, "alice")
    page.goto(f"{site.url}/submissions/{made.id}")
    expect(page.locator("[data-score]")).to_have_attribute("data-score", "10/10", timeout=60_000)
    page.get_by_role("button", name="Request regrade").click()
    ask = page.get_by_role("region", name="Grade the same code again?")
    expect(ask).to_contain_text("your code is the same")
    expect(ask).to_contain_text("tests have not changed")
    expect(page.locator(".runs li")).to_have_count(0)  # one run: nothing queued yet
    ask.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("region", name="Grade the same code again?")).to_have_count(0)
    expect(page.locator(".runs li")).to_have_count(0)

    page.get_by_role("button", name="Request regrade").click()
    page.get_by_role("button", name="Yes, grade it again").click()
    expect(page.get_by_text("Queued for grading again")).to_be_visible()
    expect(page.locator(".runs li")).to_have_count(2)


def test_publishing_a_version_that_failed_its_check_asks_and_is_audited(
    page: Page, site: Api, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(PACKAGE, broken)
    toml = broken / "assignment.toml"
    text = toml.read_text().replace('name = "python-io"', 'name = "broken-io"')
    toml.write_text(text[: text.index("# -- known-bad")])
    shutil.copy(broken / "bad" / "wrong-answer" / "stats.py", broken / "solution" / "stats.py")
    system = Actor.system()
    created = assignments.create_assignment(
        site.platform, system, site.course_id, packages.pack_directory(broken)
    )
    assert refcheck.check_reference(site.platform, system, created.id).status == "failed"

    login(page, site, "teacher")
    page.goto(f"{site.url}/staff/assignments/{created.id}")
    expect(page.locator("[data-publish-warning]")).to_contain_text("failed")
    publish = page.get_by_role("button", name="Publish anyway")
    messages: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        messages.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    publish.click()
    expect(publish).to_be_visible()
    assert messages and "failed" in messages[0]
    assert not assignments.get_assignment(site.platform, system, created.id).published

    page.once("dialog", lambda dialog: dialog.accept())
    publish.click()
    expect(page.get_by_role("status").first).to_contain_text("Published")
    assert assignments.get_assignment(site.platform, system, created.id).published
    [entry] = audit.list_entries(site.platform, system, action="assignment.publish_forced")
    assert entry.target == f"assignment:{created.id}"


def test_a_failing_version_replaces_a_published_one_only_when_ticked(
    page: Page, site: Api, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(PACKAGE, broken)
    toml = broken / "assignment.toml"
    toml.write_text(toml.read_text()[: toml.read_text().index("# -- known-bad")])
    shutil.copy(broken / "bad" / "wrong-answer" / "stats.py", broken / "solution" / "stats.py")
    archive = tmp_path / "python-io-v2.tar.gz"
    archive.write_bytes(packages.pack_directory(broken))

    login(page, site, "teacher")
    page.goto(f"{site.url}/staff/assignments/{site.assignment_id}")  # published
    page.get_by_label("Package (.zip or .tar.gz)").set_input_files(str(archive))
    page.get_by_role("button", name="Upload and check").click()
    alert = page.get_by_role("status").first
    expect(alert).to_contain_text("Not uploaded")
    expect(alert).to_contain_text("the reference solution got 7 / 10")
    system = Actor.system()
    assert assignments.get_assignment(site.platform, system, site.assignment_id).version == 1

    page.get_by_label("Package (.zip or .tar.gz)").set_input_files(str(archive))
    page.get_by_label("Put it in place even if its reference check fails").check()
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_role("status").first).to_contain_text("although its check failed")
    expect(page.locator("#check")).to_contain_text("Check failed")
    assert assignments.get_assignment(site.platform, system, site.assignment_id).version == 2
