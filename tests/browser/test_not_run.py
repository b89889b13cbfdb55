"""A build failure on the submission page: shown once, the tests "Not run" (issue 16 item 7)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from api_helpers import EXAMPLES, Api
from browser.conftest import login, screenshot
from browser.test_submission_page import c_assignment, submit_c

pytestmark = [pytest.mark.native, pytest.mark.slow]


def test_a_build_failure_is_shown_once_and_every_test_as_not_run(page: Page, site: Api) -> None:
    c_make = EXAMPLES / "c-make"
    assignment_id = c_assignment(site)
    main_c = (c_make / "solution" / "main.c").read_text()
    broken = submit_c(site, assignment_id, {"list.c": "int broken(\n", "main.c": main_c})

    login(page, site, "alice")
    page.goto(f"{site.url}/submissions/{broken}")
    expect(page.locator("#build-title")).to_be_visible()
    tests = page.locator("li.test")
    count = tests.count()
    assert count >= 5
    expect(page.locator("li.test-skipped")).to_have_count(count)
    expect(page.locator("li.test .badge", has_text="Not run")).to_have_count(count)
    expect(page.locator("li.test .badge", has_text="Failed")).to_have_count(0)
    expect(page.locator(".summary .facts")).to_contain_text(
        f"0 of {count} tests passed ({count} not run)"
    )
    # the build command is in the build log only, not repeated in every test
    body = page.locator("main").inner_text()
    assert body.count("make --no-print-directory") <= 1, body
    tests.first.locator("summary").click()
    expect(tests.first.locator(".test-message")).to_have_text(
        "Not run: the build failed (see Build above)."
    )
    screenshot(page, "submission-build-failed-not-run")
