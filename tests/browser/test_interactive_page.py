"""An interactive test on the submission page: the sample interaction and the program's
conversation with the judge shown as a dialogue (judge on the left, program on the right);
a hidden test shows neither."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Locator, Page, expect

from api_helpers import EXAMPLES, Api, package_bytes
from assay.services import Actor
from assay.services.catalog import assignments
from browser.conftest import login, screenshot

pytestmark = [pytest.mark.native, pytest.mark.slow]

PACKAGE = EXAMPLES / "python-interactive"


def submit_and_wait(site: Api, assignment_id: int, files: dict[str, str]) -> int:
    with site.client("alice") as client:
        response = client.post(f"/assignments/{assignment_id}/submissions", json={"files": files})
        assert response.status_code == 201, response.text
        submission_id: int = response.json()["id"]
        deadline = time.monotonic() + 90
        while client.get(f"/submissions/{submission_id}").json()["status"] in (
            "queued",
            "running",
        ):
            assert time.monotonic() < deadline, "not graded in 90 s"
            time.sleep(0.1)
    return submission_id


def item_of(page: Page, name: str) -> Locator:
    return page.locator("li.test", has=page.get_by_text(name, exact=True))


def rows(page: Page, test: str, title: str) -> list[tuple[str, str]]:
    block = item_of(page, test).locator(".io-block", has_text=title)
    cells = block.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))"
    )
    return [(r[0], r[1]) for r in cells]


def test_the_student_sees_the_sample_and_the_conversation_as_a_dialogue(
    page: Page, site: Api
) -> None:
    made = assignments.create_assignment(
        site.platform,
        Actor.system(),
        site.course_id,
        package_bytes("python-interactive"),
        publish=True,
    )
    crash = (PACKAGE / "bad" / "crash" / "guess.py").read_text()
    submission = submit_and_wait(site, made.id, {"guess.py": crash})

    login(page, site, "alice")
    page.goto(f"{site.url}/submissions/{submission}")
    sample = item_of(page, "sample")  # failed: open
    expect(sample.locator("h3", has_text="Sample interaction")).to_be_visible()
    assert rows(page, "sample", "Sample interaction")[:3] == [
        ("", "500"),
        ("lower", ""),
        ("", "250"),
    ]
    # the run's own conversation: it guessed 500, heard "lower", then crashed on int("lower")
    assert rows(page, "sample", "Conversation with the judge") == [("", "500"), ("lower", "")]
    expect(sample.locator(".test-message")).to_contain_text("ValueError")
    screenshot(page, "submission-interactive")

    hidden = item_of(page, "largest")
    expect(hidden.locator("table.dialogue")).to_have_count(0)  # a hidden test: nothing shown
