"""Request dependencies: the platform and the authenticated actor.

Authentication: ``Authorization: Bearer <token>`` (API tokens; no CSRF needed,
browsers never send it by themselves) or the ``assay_session`` cookie (the UI).
A cookie-authenticated request that changes something (POST, PUT, PATCH, DELETE)
must echo the session's CSRF token in the ``X-CSRF-Token`` header or a
``csrf_token`` form field.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request

from assay.errors import AuthenticationError, PermissionDeniedError
from assay.services import Actor, Platform, accounts

SESSION_COOKIE = "assay_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


def optional_actor(request: Request, platform: PlatformDep) -> Actor | None:
    cached: Actor | None = getattr(request.state, "actor", None)
    if cached is not None:
        return cached
    client = client_of(request)
    header = request.headers.get("authorization", "")
    actor: Actor | None = None
    if header:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise AuthenticationError("use 'Authorization: Bearer <API token>'")
        actor = accounts.actor_from_token(platform, credentials.strip(), client)
    else:
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            actor, csrf = accounts.actor_from_session(platform, session_id, client)
            request.state.csrf_token = csrf
            if request.method not in SAFE_METHODS:
                sent = request.headers.get(CSRF_HEADER, "")
                if not sent or not secrets.compare_digest(sent, csrf):
                    raise PermissionDeniedError("missing or wrong CSRF token")
    request.state.actor = actor
    return actor


def current_actor(actor: Annotated[Actor | None, Depends(optional_actor)]) -> Actor:
    if actor is None:
        raise AuthenticationError("log in or send an API token")
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]
OptionalActorDep = Annotated[Actor | None, Depends(optional_actor)]
