"""Logging in and out, and the front door."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from assay.errors import AuthenticationError, RateLimitedError
from assay.services.identity import accounts
from assay.web.deps import (
    SESSION_COOKIE,
    ClientLimitDep,
    PlatformDep,
    client_of,
    set_session_cookie,
)
from assay.web.ui.render import render
from assay.web.ui.session import FormUserDep, PageActorDep, SameOriginDep

router = APIRouter()
HOME = "/courses"


def safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no '//' or backslash tricks)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return HOME
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return HOME
    return target


@router.get("/")
def home(actor: PageActorDep) -> RedirectResponse:
    return RedirectResponse(HOME if actor is not None else "/login", status_code=303)


@router.get("/login")
def login_page(request: Request, actor: PageActorDep, next: str = "") -> Response:
    if actor is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "auth/login.html", title="Log in", next=safe_next(next), error="")


@router.post("/login")
def login_submit(
    request: Request,
    platform: PlatformDep,
    _: ClientLimitDep,
    _origin: SameOriginDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    target = safe_next(next)
    try:
        login = accounts.login(platform, username.strip(), password, client_of(request))
    except (AuthenticationError, RateLimitedError) as exc:
        return render(
            request,
            "auth/login.html",
            status_code=401 if isinstance(exc, AuthenticationError) else 429,
            title="Log in",
            next=target,
            error=exc.message,
            username=username,
        )
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, platform, login.session_id)
    return response


@router.post("/logout")
def logout(request: Request, platform: PlatformDep, _actor: FormUserDep) -> Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        accounts.logout(platform, session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
