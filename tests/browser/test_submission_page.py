"""The submission page in a real browser: live progress, score, diffs, staff detail, escaping.

The acceptance flow: alice submits a wrong solution, watches it being graded
(the stage text changes while the run goes on, then the results swap in without
a reload), sees her score and the diff; then she submits the right one and gets
full marks. Both are uploaded on the assignment page. Each sleeps a little per
run, so grading takes a few seconds and the page really is watched meanwhile.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Dialog, FilePayload, Page, expect

from api_helpers import EXAMPLES, Api, package_bytes
from assay.services import Actor
from assay.services.catalog import assignments
from browser.conftest import login, screenshot

pytestmark = [pytest.mark.native, pytest.mark.slow]

PYTHON_IO = EXAMPLES / "python-io"
HIDDEN_STDIN = "50 0 100 50 49 51"  # pass-mark-boundaries: a hidden test's input

# Records every text the live stage line shows (installed before any page script runs).
WATCH_STAGES = """
window.__stages = [];
document.addEventListener("DOMContentLoaded", () => {
  const seen = () => {
    const el = document.querySelector("[data-live-stage]");
    const text = el && el.textContent.trim();
    if (text && window.__stages[window.__stages.length - 1] !== text) window.__stages.push(text);
  };
  seen();
  const options = {subtree: true, childList: true, characterData: true};
  new MutationObserver(seen).observe(document.body, options);
});
"""


def slow(source: str, seconds: float = 0.6) -> str:
    """``source`` that first sleeps (wall time, not CPU): grading takes a few seconds."""
    return f"import time\ntime.sleep({seconds})\n" + source


def submit_via_api(site: Api, who: str, files: dict[str, str]) -> int:
    with site.client(who) as client:
        response = client.post(
            f"/assignments/{site.assignment_id}/submissions", json={"files": files}
        )
    assert response.status_code == 201, response.text
    submission_id: int = response.json()["id"]
    return submission_id


def wait_graded(site: Api, who: str, submission_id: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    with site.client(who) as client:
        while time.monotonic() < deadline:
            status = client.get(f"/submissions/{submission_id}").json()["status"]
            if status not in ("queued", "running"):
                return
            time.sleep(0.1)
    raise AssertionError(f"submission {submission_id} was not graded in {timeout_s} s")


def upload_and_watch(page: Page, site: Api, source: str) -> int:
    """Submit stats.py on the assignment page, then watch the live page until the results."""
    page.goto(f"{site.url}/assignments/{site.assignment_id}")
    page.get_by_role("tab", name="Upload files").click()
    page.locator("[data-file-input]").set_input_files(
        files=[FilePayload(name="stats.py", mimeType="text/x-python", buffer=source.encode())]
    )
    page.get_by_role("button", name="Upload and submit").click()
    page.wait_for_url(re.compile(r"/submissions/\d+$"))
    stage = page.locator("[data-live-stage]")
    expect(stage).to_have_text(re.compile(r"Running test \d+ of 10"), timeout=30_000)
    page.evaluate("window.__sameDocument = true")
    expect(page.locator("[data-score]")).to_be_visible(timeout=60_000)
    stages: list[str] = page.evaluate("window.__stages")
    assert len(stages) >= 2, stages
    assert any(s.startswith("Running test") for s in stages), stages
    assert page.evaluate("window.__sameDocument") is True, "the results came without a reload"
    expect(stage).to_have_count(0)
    return int(page.url.rsplit("/", 1)[1])


def test_student_submits_wrong_then_right_and_watches_it_live(page: Page, site: Api) -> None:
    page.add_init_script(WATCH_STAGES)
    login(page, site, "alice")
    wrong = (PYTHON_IO / "bad" / "wrong-answer" / "stats.py").read_text()
    first = upload_and_watch(page, site, slow(wrong))

    expect(page.locator("[data-score]")).to_have_attribute("data-score", "7/10")
    expect(page.get_by_text("7 of 10 tests passed")).to_be_visible()
    failed = page.locator(".test", has_text="sample-2")
    expect(failed.locator("summary")).to_contain_text("Failed")
    # input, then expected vs actual as a line diff with the changed digit marked
    expect(failed.locator("pre.io").first).to_have_text("50\n49\n100\n")
    expect(failed.locator("tr.d-expected")).to_have_text(re.compile(r"passed 2"))
    expect(failed.locator("tr.d-actual")).to_have_text(re.compile(r"passed 1"))
    expect(failed.locator("tr.d-actual mark")).to_have_text("1")
    # hidden tests: pass/fail only, their input never reaches the student
    hidden = page.locator(".test", has_text="pass-mark-boundaries")
    expect(hidden.locator("summary")).to_contain_text("hidden")
    expect(hidden).to_contain_text("only its result counts")
    assert HIDDEN_STDIN not in page.content()
    # the submitted file is shown with line numbers
    expect(page.locator("#f1-L5")).to_have_text(re.compile(r"^5\s*import sys$"))
    screenshot(page, "student-submission")

    right = (PYTHON_IO / "solution" / "stats.py").read_text()
    second = upload_and_watch(page, site, slow(right))
    assert second > first
    expect(page.locator("[data-score]")).to_have_attribute("data-score", "10/10")
    expect(page.get_by_text("Full marks")).to_be_visible()
    expect(page.locator(".test-failed")).to_have_count(0)


def test_program_output_is_shown_as_text_never_run(page: Page, site: Api) -> None:
    payload = '<script>alert(1)</script><img src=x onerror="alert(2)"><b id="injected">bold</b>'
    program = f"import sys\nprint({payload!r})\nprint({payload!r}, file=sys.stderr)\n"
    submission_id = submit_via_api(site, "alice", {"stats.py": program})
    wait_graded(site, "alice", submission_id)
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    login(page, site, "alice")
    page.goto(f"{site.url}/submissions/{submission_id}")
    test = page.locator(".test", has_text="sample-1")
    expect(test.locator("tr.d-actual").first).to_contain_text(payload)  # literally, as text
    expect(test.locator("pre.io").last).to_contain_text(payload)  # the error output
    expect(page.locator("#f1-L2")).to_contain_text(payload)  # the source listing
    assert page.locator("#injected").count() == 0
    assert page.locator("main img, main script").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []


def test_staff_see_full_detail_and_regrade(page: Page, site: Api) -> None:
    wrong = (PYTHON_IO / "bad" / "wrong-answer" / "stats.py").read_text()
    submission_id = submit_via_api(site, "alice", {"stats.py": wrong})
    wait_graded(site, "alice", submission_id)
    login(page, site, "teacher")
    page.goto(f"{site.url}/submissions/{submission_id}")
    expect(page.get_by_text("staff view")).to_be_visible()
    expect(page.locator(".facts-list")).to_contain_text("alice")
    hidden = page.locator(".test", has_text="pass-mark-boundaries")
    expect(hidden.locator("pre.io").first).to_have_text("50 0 100 50 49 51\n")  # staff see it
    expect(hidden.locator("tr.d-expected")).to_have_text(re.compile(r"passed 4"))
    expect(hidden.locator("tr.d-actual")).to_have_text(re.compile(r"passed 2"))
    expect(page.get_by_role("link", name="All results")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Regrade").click()
    expect(page.get_by_text("Queued for grading again")).to_be_visible()
    expect(page.locator("[data-score]")).to_have_attribute("data-score", "7/10", timeout=60_000)
    expect(page.locator(".runs li")).to_have_count(2)


def test_student_requests_a_regrade_and_others_cannot_see_it(page: Page, site: Api) -> None:
    right = (PYTHON_IO / "solution" / "stats.py").read_text()
    submission_id = submit_via_api(site, "alice", {"stats.py": right})
    wait_graded(site, "alice", submission_id)
    login(page, site, "bob")
    response = page.goto(f"{site.url}/submissions/{submission_id}")
    assert response is not None and response.status == 404
    page.context.clear_cookies()
    login(page, site, "alice")
    page.goto(f"{site.url}/submissions/{submission_id}")
    page.get_by_role("button", name="Request regrade").click()
    page.get_by_role("button", name="Yes, grade it again").click()  # the same code: asked first
    expect(page.locator("[data-score]")).to_have_attribute("data-score", "10/10", timeout=60_000)
    expect(page.locator(".runs li")).to_have_count(2)
    expect(page.locator(".runs li").first).to_contain_text("regrade")


def c_assignment(site: Api) -> int:
    made = assignments.create_assignment(
        site.platform, Actor.system(), site.course_id, package_bytes("c-make"), publish=True
    )
    return made.id


def submit_c(site: Api, assignment_id: int, files: dict[str, str]) -> int:
    with site.client("alice") as client:
        response = client.post(f"/assignments/{assignment_id}/submissions", json={"files": files})
    assert response.status_code == 201, response.text
    submission_id: int = response.json()["id"]
    wait_graded(site, "alice", submission_id, timeout_s=120)
    return submission_id


def test_compiler_diagnostics_link_to_lines_and_valgrind_findings_show(
    page: Page, site: Api
) -> None:
    c_make = EXAMPLES / "c-make"
    assignment_id = c_assignment(site)
    main_c = (c_make / "solution" / "main.c").read_text()
    lines = (c_make / "solution" / "list.c").read_text().splitlines()
    lines[18] = "    return calloc(1, sizeof(struct list))"  # line 19: the ';' is gone
    broken = submit_c(site, assignment_id, {"list.c": "\n".join(lines) + "\n", "main.c": main_c})
    leak = {name: (c_make / "bad" / "leak" / name).read_text() for name in ("list.c", "main.c")}
    leaking = submit_c(site, assignment_id, leak)

    login(page, site, "alice")
    page.goto(f"{site.url}/submissions/{broken}")
    expect(page.locator("#build-title")).to_be_visible()
    link = page.locator(".diagnostics a.loc", has_text=re.compile(r"^list\.c:(19|20)")).first
    expect(link).to_be_visible()
    target = link.get_attribute("href")
    assert target is not None and re.fullmatch(r"#f\d+-L(19|20)", target), target
    link.click()
    expect(page).to_have_url(re.compile(re.escape(target) + "$"))
    row = page.locator(target)
    expect(row).to_be_visible()
    expect(row).to_have_class(re.compile("mark-error"))
    screenshot(page, "submission-build-errors")

    page.goto(f"{site.url}/submissions/{leaking}")
    memory = page.locator(".test", has=page.locator("h3", has_text="Memory check"))
    expect(memory.locator(".findings li").first).to_contain_text("Leak")


def test_phone_width_has_no_horizontal_scroll(page: Page, site: Api) -> None:
    wrong = (PYTHON_IO / "bad" / "wrong-answer" / "stats.py").read_text()
    submission_id = submit_via_api(site, "alice", {"stats.py": wrong + "# " + "x" * 300 + "\n"})
    wait_graded(site, "alice", submission_id)
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, site, "alice")
    page.goto(f"{site.url}/submissions/{submission_id}")
    expect(page.locator("[data-score]")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    screenshot(page, "submission-phone")
