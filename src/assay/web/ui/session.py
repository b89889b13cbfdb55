"""Who is looking at a page: the session cookie, CSRF for forms, login redirects.

Pages use the same session cookie as the API (``assay_session``: HttpOnly,
SameSite=Lax, Secure when ``cookie_secure``). A page that changes something
(POST) must carry the session's CSRF token: forms in a hidden ``csrf_token``
field (``{{ csrf_field() }}``), htmx and scripts in the ``X-CSRF-Token`` header
(base.html sets it for every htmx request). The login form has no session yet:
its POST must come from a page of this site (``check_origin``).
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request

from assay.errors import AuthenticationError, PermissionDeniedError
from assay.services import Actor
from assay.services.catalog import courses
from assay.services.identity import accounts
from assay.web.deps import (
    CSRF_HEADER,
    SESSION_COOKIE,
    PlatformDep,
    client_of,
    limiters,
    rate_key,
)

DEFAULT_PORTS = {"http": 80, "https": 443}


class LoginRequiredError(AuthenticationError):
    """A page needs a logged-in user; the browser is sent to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__("log in to see this page")
        self.next_path = next_path


def login_url(next_path: str = "") -> str:
    return "/login" + (f"?next={quote(next_path, safe='/')}" if next_path else "")


def page_actor(request: Request, platform: PlatformDep) -> Actor | None:
    """The logged-in actor, or None; remembers the user and CSRF token for templates."""
    if getattr(request.state, "ui_resolved", False):
        found: Actor | None = request.state.ui_actor
        return found
    actor: Actor | None = None
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        try:
            actor, csrf = accounts.actor_from_session(platform, session_id, client_of(request))
        except AuthenticationError:
            actor = None
        else:
            request.state.csrf_token = csrf
            assert actor.user_id is not None  # noqa: S101 - sessions belong to users
            request.state.ui_user = accounts.get_user(platform, actor, actor.user_id)
            request.state.ui_is_staff = actor.is_admin or courses.is_staff_anywhere(platform, actor)
    limiters(request).requests.hit(rate_key(actor, client_of(request)))
    request.state.ui_actor = actor
    request.state.ui_resolved = True
    return actor


def require_actor(request: Request, actor: Annotated[Actor | None, Depends(page_actor)]) -> Actor:
    if actor is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequiredError(path)
    return actor


async def check_csrf(request: Request, actor: Annotated[Actor, Depends(require_actor)]) -> Actor:
    """A state-changing page request: the session's CSRF token must come with it."""
    expected = getattr(request.state, "csrf_token", "") or ""
    sent = request.headers.get(CSRF_HEADER, "")
    form = None
    if not sent:
        form = await request.form()  # cached: the route reads this same form
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else ""
    if not expected or not sent or not secrets.compare_digest(sent, expected):
        if form is not None:  # no route will: close its uploads' temporary files now
            await form.close()
        raise PermissionDeniedError("the form expired or came from elsewhere; reload the page")
    return actor


def check_origin(request: Request, platform: PlatformDep) -> None:
    """A form sent without a session (login) must come from a page of this site.

    Login CSRF: a page elsewhere could post the attacker's credentials to ``/login``
    and so log the visitor's browser in as the attacker. Browsers send ``Origin`` with
    every POST (``null`` for an opaque origin, which is refused); ``Referer`` is the
    fallback. A request with neither is no browser's (curl, a script), which no other
    site can make send anything, so it is let through. This site's origins: the one the
    request was sent to, and ``public_url``'s (behind a proxy that changes the scheme).
    """
    sent = request.headers.get("origin")
    if sent is None:
        referer = request.headers.get("referer")
        if referer is None:
            return
        sent = referer
    own = {origin_of(str(request.base_url)), origin_of(platform.settings.public_url)}
    if origin_of(sent) not in own - {None}:
        raise PermissionDeniedError(
            "this login form was sent from another site; "
            "log in on this site's own login page instead"
        )


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL (the default port left out); None if it has none."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in DEFAULT_PORTS or not host:
        return None
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port not in (None, DEFAULT_PORTS[scheme]) else "")


PageActorDep = Annotated[Actor | None, Depends(page_actor)]
SameOriginDep = Annotated[None, Depends(check_origin)]
UserDep = Annotated[Actor, Depends(require_actor)]
FormUserDep = Annotated[Actor, Depends(check_csrf)]
