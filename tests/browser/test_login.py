"""Logging in and out in a real browser; the page headers that keep output inert."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from api_helpers import Api
from assay.web.ui.security import CSP
from browser.conftest import login

pytestmark = [pytest.mark.native, pytest.mark.slow]


def test_login_wrong_password_then_right(page: Page, site: Api) -> None:
    page.goto(f"{site.url}/courses")
    expect(page).to_have_url(f"{site.url}/login?next=/courses")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong username or password")
    login(page, site, "alice")
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["assay_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{site.url}/login")


def test_pages_carry_a_strict_content_security_policy(site: Api) -> None:
    response = httpx.get(f"{site.url}/login")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CSP
    assert "'unsafe-inline'" not in CSP
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_login_refuses_to_send_the_browser_elsewhere(page: Page, site: Api) -> None:
    page.goto(f"{site.url}/login?next=//evil.example/")
    login(page, site, "alice")
    assert page.url.startswith(site.url + "/")
    assert "evil.example" not in page.url
