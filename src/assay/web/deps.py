"""Request dependencies: the platform and the authenticated actor.

Authentication: ``Authorization: Bearer <token>`` (API tokens; no CSRF needed,
browsers never send it by themselves) or the ``assay_session`` cookie (the UI).
A cookie-authenticated request that changes something (POST, PUT, PATCH, DELETE)
must echo the session's CSRF token in the ``X-CSRF-Token`` header.

Every request that passes through ``optional_actor`` takes a token from the
caller's rate-limit bucket (the user, or the client address when anonymous);
submissions also take one from the submission bucket (``SubmitLimitDep``).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from assay.errors import AuthenticationError, PermissionDeniedError
from assay.services import Actor, Platform
from assay.services.catalog import courses
from assay.services.identity import accounts
from assay.web.limits import Limiters
from assay.web.ratelimit import SharedIntake

SESSION_COOKIE = "assay_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_ID = 2**31 - 1  # database ids are 32-bit on PostgreSQL

# Declares the bearer scheme in the OpenAPI schema (and Swagger UI's "Authorize"); the
# header itself is read by ``_authenticate``, which gives the API's own error messages.
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token: `assay token create`, or POST /api/v1/auth/tokens.",
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
OptionalIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


# Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency
# in a thread of the pool, a hand-off that costs more CPU than these do.
async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def set_session_cookie(response: Response, platform: Platform, session_id: str) -> None:
    """The login session's cookie: HttpOnly, SameSite=Lax, Secure when configured."""
    settings = platform.settings
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=settings.session_max_age_s,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


def limiters(request: Request) -> Limiters:
    found: Limiters = request.app.state.limiters
    return found


def rate_key(actor: Actor | None, client: str) -> str:
    return f"user:{actor.user_id}" if actor is not None else f"client:{client}"


def optional_actor(request: Request, platform: PlatformDep, _bearer: BearerDep) -> Actor | None:
    return resolve_actor(request, platform)


def resolve_actor(request: Request, platform: Platform) -> Actor | None:
    """The request's actor (None: anonymous), authenticated once per request, and the
    caller's rate-limit bucket charged (RateLimitedError when empty).

    Blocking (database reads and, on PostgreSQL, the bucket's write): as a dependency
    (``OptionalActorDep``, ``ActorDep``) FastAPI runs it in a thread of the pool; a
    route whose own work is blocking may call it first in that work's thread instead
    (one hand-off, not two: ``api.events``), with ``BearerDep`` among its parameters
    so the schema still declares the scheme."""
    if getattr(request.state, "actor_resolved", False):
        cached: Actor | None = request.state.actor
        return cached
    client = client_of(request)
    try:
        actor = _authenticate(request, platform, client)
    except AuthenticationError:
        limiters(request).requests.hit(rate_key(None, client))
        raise
    limiters(request).requests.hit(rate_key(actor, client))
    request.state.actor = actor
    request.state.actor_resolved = True
    return actor


def _authenticate(request: Request, platform: Platform, client: str) -> Actor | None:
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
    return actor


def require_actor(actor: Actor | None) -> Actor:
    if actor is None:
        raise AuthenticationError("log in or send an API token")
    return actor


async def current_actor(actor: Annotated[Actor | None, Depends(optional_actor)]) -> Actor:
    return require_actor(actor)


ActorDep = Annotated[Actor, Depends(current_actor)]
OptionalActorDep = Annotated[Actor | None, Depends(optional_actor)]


def submit_limit(request: Request, actor: ActorDep) -> None:
    """Charge the submission bucket of the caller."""
    limiters(request).submissions.hit(rate_key(actor, client_of(request)), "submissions")


SubmitLimitDep = Annotated[None, Depends(submit_limit)]


class IntakeGate:
    """At most ``submit_concurrency`` submissions are taken in at once.

    Under a burst (an exam deadline), hundreds of submission requests would each hold
    a thread that competes for the interpreter with the workers' set-up and
    supervision of the runs they queued: every submission and every run then
    progresses slowly. Waiting here costs no thread; in a process the turn comes in
    arrival order. With ``shared`` (PostgreSQL: several API servers) a turn also
    holds one of ``size`` leased places in the database, so the limit holds for all
    the servers together (``ratelimit.SharedIntake``); of a process's waiters only
    the first in line asks the database for a place (the others wait their turn
    here, in order), so a full shared gate costs each server one retrying request,
    not one per waiter.
    """

    def __init__(self, size: int, shared: SharedIntake | None = None) -> None:
        self.size = size
        self.shared = shared
        self._gates: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore, asyncio.Lock] | None
        self._gates = None

    def _of_loop(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Semaphore, asyncio.Lock]:
        """The gate of the running event loop (asyncio's semaphores and locks belong to
        one loop; a server has one, an app driven by several test clients may see
        several)."""
        loop = asyncio.get_running_loop()
        if self._gates is None or self._gates[0] is not loop:
            self._gates = (loop, asyncio.Semaphore(self.size), asyncio.Lock())
        return self._gates

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold a place of this process's gate, and of the shared one if any."""
        _loop, semaphore, first_in_line = self._of_loop()
        async with semaphore:
            if self.shared is None:
                yield
                return
            async with first_in_line:  # one waiter of this process asks at a time
                place = await self.shared.take()
            try:
                yield
            finally:
                # given back even when the request is cancelled (the client went away)
                await asyncio.shield(self.shared.give_back(place))


def intake_gate(request: Request) -> IntakeGate:
    gate: IntakeGate = request.app.state.intake
    return gate


async def intake_turn(request: Request) -> AsyncIterator[None]:
    """Hold one of the intake gate's places while the submission is taken in."""
    async with intake_gate(request).turn():
        yield


IntakeDep = Annotated[None, Depends(intake_turn)]


def client_limit(request: Request) -> None:
    """Charge the client address's bucket (routes that do not authenticate: login)."""
    limiters(request).requests.hit(rate_key(None, client_of(request)))


ClientLimitDep = Annotated[None, Depends(client_limit)]


def staff_zone(actor: ActorDep, platform: PlatformDep) -> Actor:
    """The admin zone (Anubis 2.2.1): administrators and course staff only.

    Each route still checks the actor's role in the course it touches; this gate
    keeps students out of the whole zone at once.
    """
    if not actor.is_admin and not courses.is_staff_anywhere(platform, actor):
        raise PermissionDeniedError("the admin zone is for course staff and administrators")
    return actor


StaffDep = Annotated[Actor, Depends(staff_zone)]
