"""Every page, checked the way a careful reviewer would: in a real browser.

For each page of the UI (students' and staff's, plus the login and error pages):

- axe-core finds no WCAG 2.1 A/AA or best-practice violation, in the light
  theme on a desktop and in the dark theme on a phone (contrast differs);
- on a phone (390x844) nothing scrolls sideways;
- the page carries the strict Content-Security-Policy and, with that policy
  enforced, nothing is refused and no script fails;
- every file the page loads comes from Assay itself, static files by a
  content-hashed URL that may be cached for a year.

axe-core is vendored for the tests only (tests/browser/vendor, from
web-assets' devDependencies); Playwright injects it into contexts opened with
``bypass_csp=True`` (the pages themselves would refuse it, as they should).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    expect,
)

from api_helpers import EXAMPLES, PASSWORD, Api
from assay.web.ui.assets import IMMUTABLE
from assay.web.ui.security import CSP
from browser.conftest import VIEWPORT, login, screenshot

pytestmark = [pytest.mark.native, pytest.mark.slow]

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags},
                                         resultTypes: ["violations"]});
  return result.violations.map(v => v.id + " (" + v.impact + "): " + v.help + " -- " +
    v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | "));
}"""
RECORD_CSP = """window.__csp = [];
document.addEventListener("securitypolicyviolation",
  e => window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline")));"""


@dataclass(frozen=True)
class Visit:
    """One page to check: who looks at it, where, and the status it must answer."""

    who: str | None
    path: str
    status: int = 200

    @property
    def name(self) -> str:
        return f"{self.who or 'anonymous'} {self.path}"


def visits(site: Api, submission_id: int) -> list[Visit]:
    course, assignment = site.course_id, site.assignment_id
    return [
        Visit(None, "/login"),
        Visit("alice", "/courses"),
        Visit("alice", f"/courses/{course}"),
        Visit("alice", f"/assignments/{assignment}"),
        Visit("alice", f"/submissions/{submission_id}"),
        Visit("alice", "/submissions/999999", status=404),
        Visit("teacher", f"/submissions/{submission_id}"),
        Visit("teacher", "/staff"),
        Visit("teacher", f"/staff/courses/{course}"),
        Visit("teacher", f"/staff/assignments/{assignment}"),
        Visit("teacher", f"/staff/assignments/{assignment}/results"),
        Visit("teacher", f"/staff/assignments/{assignment}/analytics"),
        Visit("teacher", "/staff/queue"),
    ]


def graded_submission(site: Api) -> int:
    """Alice's wrong answer, graded: the submission pages then show a diff."""
    source = (EXAMPLES / "python-io" / "bad" / "wrong-answer" / "stats.py").read_bytes()
    with site.client("alice") as alice:
        response = alice.post(
            f"/assignments/{site.assignment_id}/submissions",
            files=[("files", ("stats.py", source))],
        )
        assert response.status_code == 201, response.text
        submission_id: int = response.json()["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if alice.get(f"/submissions/{submission_id}").json()["status"] == "graded":
                return submission_id
            time.sleep(0.2)
    raise AssertionError(f"submission {submission_id} was not graded")


@contextmanager
def contexts(
    browser: Browser, site: Api, prepare: Callable[[Page], None] | None = None, **options: Any
) -> Iterator[Callable[[Visit], tuple[Page, Response]]]:
    """Open visits with one browser context per user (prepared, then logged in once)."""
    pages: dict[str | None, Page] = {}
    opened: list[BrowserContext] = []

    def open_visit(visit: Visit) -> tuple[Page, Response]:
        if visit.who not in pages:
            context = browser.new_context(**options)
            context.set_default_timeout(20_000)
            opened.append(context)
            page = context.new_page()
            if prepare is not None:
                prepare(page)
            if visit.who is not None:
                login(page, site, visit.who)
            pages[visit.who] = page
        page = pages[visit.who]
        response = page.goto(site.url + visit.path, wait_until="load")
        assert response is not None
        page.wait_for_timeout(250)  # htmx fragments and deferred scripts settle
        return page, response

    try:
        yield open_visit
    finally:
        for context in opened:
            context.close()


@pytest.fixture
def submission_id(site: Api) -> int:
    return graded_submission(site)


def test_every_page_passes_axe_in_light_and_dark(
    browser: Browser, site: Api, submission_id: int
) -> None:
    problems: list[str] = []
    for scheme, viewport in (("light", VIEWPORT), ("dark", PHONE)):
        options: dict[str, Any] = {"bypass_csp": True, "color_scheme": scheme, "viewport": viewport}
        with contexts(browser, site, **options) as open_visit:
            for visit in visits(site, submission_id):
                page, response = open_visit(visit)
                if response.status != visit.status:
                    problems.append(f"{visit.name}: HTTP {response.status}")
                    continue
                page.add_script_tag(path=str(AXE))
                found: list[str] = page.evaluate(RUN_AXE, AXE_TAGS)
                problems += [f"{visit.name} [{scheme}]: {v}" for v in found]
    assert not problems, "\n".join(problems)


def test_every_page_fits_a_phone_under_the_csp_with_hashed_cached_static_files(
    browser: Browser, site: Api, submission_id: int
) -> None:
    problems: list[str] = []

    def prepare(page: Page) -> None:
        watch(page, site, problems)
        page.add_init_script(RECORD_CSP)

    options: dict[str, Any] = {"viewport": PHONE, "is_mobile": True, "has_touch": True}
    with contexts(browser, site, prepare, **options) as open_visit:
        for visit in visits(site, submission_id):
            problems_before = len(problems)
            page_name = visit.name
            page, response = open_visit(visit)
            if response.status != visit.status:
                problems.append(f"{page_name}: HTTP {response.status}")
                continue
            if response.headers.get("content-security-policy") != CSP:
                problems.append(f"{page_name}: no strict CSP header")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if overflow > 0:
                wide = page.evaluate(WIDEST)
                problems.append(f"{page_name}: scrolls sideways by {overflow}px ({wide})")
            blocked: list[str] = page.evaluate("window.__csp || []")
            problems += [f"{page_name}: CSP refused {b}" for b in blocked]
            if len(problems) > problems_before:
                screenshot(page, "phone-problem-" + visit.path.strip("/").replace("/", "-"))
    assert not problems, "\n".join(problems)


WIDEST = r"""() => {
  // the innermost elements reaching past the right edge: the ones to fix
  const limit = document.documentElement.clientWidth + 1;
  const over = el => el.getBoundingClientRect().right > limit;
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    if (!over(el) || [...el.children].some(over)) continue;
    const cls = String(el.className || "").trim().split(/\s+/).join(".");
    out.push(el.tagName.toLowerCase() + (cls ? "." + cls : ""));
    if (out.length >= 4) break;
  }
  return out.join(", ");
}"""


def watch(page: Page, site: Api, problems: list[str]) -> None:
    """Record what the page loads and any script failure, as problems."""

    def on_request(request: Request) -> None:
        if not request.url.startswith(site.url):
            problems.append(f"{page.url}: loads from elsewhere: {request.url}")

    def on_response(response: Response) -> None:
        path = response.url.removeprefix(site.url)
        if not path.startswith("/static/"):
            return
        if "?v=" not in path:
            problems.append(f"{page.url}: static file without a content hash: {path}")
        elif response.headers.get("cache-control") != IMMUTABLE:
            problems.append(f"{page.url}: {path} is not cached as immutable")

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            problems.append(f"{page.url}: console: {message.text[:200]}")

    page.on("request", on_request)
    page.on("response", on_response)
    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: script error: {error}"))


def test_static_files_are_cached_only_by_their_current_hash(site: Api) -> None:
    login_page = httpx.get(f"{site.url}/login")
    hashed = [
        part.split('"')[0]
        for part in login_page.text.split('src="')[1:] + login_page.text.split('href="')[1:]
        if part.startswith("/static/")
    ]
    assert hashed, "the login page links no static file"
    for url in hashed:
        assert "?v=" in url
        response = httpx.get(site.url + url.replace("&amp;", "&"))
        assert response.status_code == 200
        assert response.headers["cache-control"] == IMMUTABLE
        stale = httpx.get(site.url + url.split("?v=")[0] + "?v=000000000000")
        assert stale.headers["cache-control"] == "no-cache"
        assert "etag" in stale.headers
    assert httpx.get(f"{site.url}/static/css/app.css").headers["cache-control"] == "no-cache"
    assert httpx.get(f"{site.url}/login").headers["cache-control"] == "no-store"


def test_logging_in_and_skipping_to_content_with_the_keyboard(page: Page, site: Api) -> None:
    page.goto(f"{site.url}/login")
    expect(page.get_by_label("Username")).to_be_focused()
    screenshot(page, "login")
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/courses")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    page.keyboard.press("Tab")
    ring = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert ring != "none", "the focused element shows no focus ring"
