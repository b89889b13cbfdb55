"""Request limits: body size (413), per-user rate limits and open streams (429, Retry-After).

The body limit is ASGI middleware, so it covers every route: a declared
``Content-Length`` over ``settings.max_upload_bytes`` is refused before the body
is read, and a chunked body without one is counted as it arrives and refused
when it passes the limit. Rate limits are token buckets (see
``assay.web.ratelimit``), charged by ``deps.optional_actor`` (every request
that authenticates, keyed by user, or by client address when anonymous) and by
the submission routes (``SubmitLimitDep``): in the database on PostgreSQL, so
they hold across every API server of it; in this process on SQLite (one
server). Open live-progress streams are counted per user and per process
(``Limiters.streams``, taken in ``api.events``).
"""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assay.services import Platform
from assay.web.ratelimit import (
    ConcurrencyLimiter,
    DatabaseRateLimiter,
    RateLimiter,
    SharedIntake,
)


class Limiters:
    def __init__(self, platform: Platform) -> None:
        settings = platform.settings
        self.requests: RateLimiter | DatabaseRateLimiter
        self.submissions: RateLimiter | DatabaseRateLimiter
        if platform.db.is_sqlite:
            self.requests = RateLimiter(settings.rate_limit_per_minute)
            self.submissions = RateLimiter(settings.submit_rate_limit_per_minute)
        else:
            self.requests = DatabaseRateLimiter(
                platform.db, "requests", settings.rate_limit_per_minute
            )
            self.submissions = DatabaseRateLimiter(
                platform.db, "submissions", settings.submit_rate_limit_per_minute
            )
        self.streams = ConcurrencyLimiter(
            settings.events_max_streams_per_user, settings.events_max_streams
        )


class BodyTooLargeError(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodySizeLimit:
    """Refuse request bodies over ``limit`` bytes with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLargeError(self.limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLargeError:
            if started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "detail": f"the request body is larger than {self.limit} bytes",
                "error": "PayloadTooLargeError",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLargeError)  # noqa: S101 - registered for it only
    return JSONResponse(
        {"detail": exc.detail, "error": "PayloadTooLargeError"},
        status_code=413,
        headers={"Connection": "close"},
    )


def shared_intake(platform: Platform) -> SharedIntake | None:
    """The intake gate's places in the database (PostgreSQL: several servers may take
    submissions in), or None (SQLite: one server; its gate is in memory)."""
    if platform.db.is_sqlite:
        return None
    return SharedIntake(platform.db, platform.settings.submit_concurrency)


def install(app: FastAPI, platform: Platform) -> None:
    app.state.limiters = Limiters(platform)
    app.add_exception_handler(BodyTooLargeError, _too_large)
    app.add_middleware(BodySizeLimit, limit=platform.settings.max_upload_bytes)
