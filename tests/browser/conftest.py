"""Browser tests: Playwright (Python) driving Debian's chromium against a live server.

``site`` is the API tests' seeded platform (course ``cs101`` with instructor
``teacher``, TA ``ta``, students ``alice`` and ``bob``, all with password
``api_helpers.PASSWORD``; a published ``python-io`` assignment) behind a real
uvicorn server, with a worker pool grading on the native sandbox. ``page`` is a
fresh browser context (no cookies) per test; ``login(page, site, "alice")``.
Screenshots go to ``artifacts/screenshots/`` (``ASSAY_SCREENSHOT_DIR``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from api_helpers import PASSWORD, Api, seeded_api
from assay.worker.pool import WorkerPool
from helpers import require_backend

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ASSAY_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("ASSAY_SCREENSHOT_DIR", ROOT / "artifacts" / "screenshots"))
VIEWPORT = {"width": 1280, "height": 860}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"browser tests need chromium at {CHROMIUM} (scripts/setup.sh --dev)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Api]:
    require_backend("native")
    with seeded_api("sqlite", tmp_path) as api:
        pool = WorkerPool(api.platform, slots=4).start()
        try:
            yield api
        finally:
            pool.stop(timeout=10)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # Reduced motion: charts and progress bars are drawn in their final state at once,
    # so what a test reads and what a screenshot shows do not depend on timing.
    context = browser.new_context(viewport=VIEWPORT, reduced_motion="reduce")  # type: ignore[arg-type]
    context.set_default_timeout(20_000)
    opened = context.new_page()
    yield opened
    context.close()


def login(page: Page, site: Api, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{site.url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
