"""The API docs page (Swagger UI) works with no network, and offers bearer auth.

Every request the page makes to a host other than the server is refused, as on
a campus machine without internet: the page must still draw the operations.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Page, Route

from api_helpers import Api
from browser.conftest import screenshot


def test_api_docs_page_renders_offline_with_an_authorize_button(page: Page, site: Api) -> None:
    own = urlsplit(site.url).netloc
    refused: list[str] = []

    def only_the_server(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_server)
    page.goto(f"{site.url}/api/v1/docs")
    page.locator(".swagger-ui .info .title").filter(has_text="Assay").wait_for()
    page.locator(".opblock-summary-path", has_text="/api/v1/courses").first.wait_for()
    page.get_by_role("button", name="Authorize").click()
    page.get_by_text("(http, Bearer)").first.wait_for()  # the bearer scheme in the dialog
    screenshot(page, "api-docs-offline")
    assert refused == []
