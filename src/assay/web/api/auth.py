"""Authentication: password login (session cookie + CSRF token), API tokens, OIDC."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from assay.services.identity import accounts, oidc
from assay.services.identity.accounts import NewToken, TokenOut, UserOut
from assay.web.deps import (
    SESSION_COOKIE,
    ActorDep,
    ClientLimitDep,
    IdPath,
    PlatformDep,
    client_of,
    set_session_cookie,
)

router = APIRouter(prefix="/auth", tags=["auth"])
OIDC_COOKIE = "assay_oidc"
OIDC_CALLBACK = "/api/v1/auth/oidc/callback"


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginOut(BaseModel):
    csrf_token: str  # send it back in X-CSRF-Token with every POST/PATCH/DELETE
    user: UserOut


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    ttl_days: int | None = Field(default=None, ge=1, le=3650)


@router.post("/login", response_model=LoginOut)
def login(
    body: LoginIn, request: Request, response: Response, platform: PlatformDep, _: ClientLimitDep
) -> LoginOut:
    """Log in with a password; sets the ``assay_session`` cookie (HttpOnly, SameSite=Lax)."""
    new = accounts.login(platform, body.username, body.password, client_of(request))
    set_session_cookie(response, platform, new.session_id)
    return LoginOut(csrf_token=new.csrf_token, user=new.user)


@router.post("/logout", status_code=204)
def logout(request: Request, platform: PlatformDep, _: ClientLimitDep) -> Response:
    """End the browser session (needs the CSRF header when a session cookie is sent)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        accounts.logout_checked(platform, session_id, request.headers.get("x-csrf-token", ""))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=UserOut)
def me(platform: PlatformDep, actor: ActorDep) -> UserOut:
    assert actor.user_id is not None  # noqa: S101 - web actors are users
    return accounts.get_user(platform, actor, actor.user_id)


@router.post("/tokens", status_code=201, response_model=NewToken)
def create_token(body: TokenIn, platform: PlatformDep, actor: ActorDep) -> NewToken:
    """A bearer token for scripts and the CLI; the secret is shown only in this answer."""
    return accounts.create_token(platform, actor, body.name, ttl_days=body.ttl_days)


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(platform: PlatformDep, actor: ActorDep) -> list[TokenOut]:
    return accounts.list_tokens(platform, actor)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: IdPath, platform: PlatformDep, actor: ActorDep) -> Response:
    accounts.revoke_token(platform, actor, token_id)
    return Response(status_code=204)


def _callback_url(request: Request) -> str:
    public = request.app.state.platform.settings.public_url.rstrip("/")
    base = public or str(request.base_url).rstrip("/")
    return base + OIDC_CALLBACK


@router.get(
    "/oidc/login",
    status_code=302,
    response_class=RedirectResponse,
    responses={404: {"description": "single sign-on is not configured"}},
)
def oidc_login(request: Request, platform: PlatformDep, _: ClientLimitDep) -> RedirectResponse:
    """Start single sign-on: redirects to the OpenID Connect provider."""
    start = oidc.begin(platform, _callback_url(request))
    response = RedirectResponse(start.url, status_code=302)
    response.set_cookie(
        OIDC_COOKIE,
        start.state_cookie,
        max_age=oidc.STATE_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=platform.settings.cookie_secure,
        path=OIDC_CALLBACK,
    )
    return response


@router.get(
    "/oidc/callback",
    status_code=303,
    response_class=RedirectResponse,
    responses={404: {"description": "single sign-on is not configured"}},
)
def oidc_callback(
    request: Request,
    platform: PlatformDep,
    _: ClientLimitDep,
    code: Annotated[str, Query(max_length=4096)] = "",
    state: Annotated[str, Query(max_length=512)] = "",
) -> RedirectResponse:
    """The provider sends the browser back here; logs in and redirects to ``/``."""
    new = oidc.finish(
        platform,
        code=code,
        state=state,
        state_cookie=request.cookies.get(OIDC_COOKIE, ""),
        redirect_uri=_callback_url(request),
        client=client_of(request),
    )
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, platform, new.session_id)
    response.delete_cookie(OIDC_COOKIE, path=OIDC_CALLBACK)
    return response
