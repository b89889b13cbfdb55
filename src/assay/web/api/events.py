"""Live progress of grading runs: server-sent events, or JSON for pollers.

``GET /runs/{id}/events`` (and ``/submissions/{id}/events``, the newest run of a
submission) streams every stage as an SSE event whose ``id`` is the event's
``seq``; a client that reconnects with ``Last-Event-ID`` continues after it. The
stream ends after a terminal stage (done, error, cancelled); a reconnect after
that gets ``204 No Content``, which tells ``EventSource`` to stop. With
``?after=N`` (or ``Accept: application/json``) the answer is one JSON page of
the events after ``seq`` N instead.

A user holds at most ``events_max_streams_per_user`` open streams in a process,
and a process at most ``events_max_streams`` in all; one more is refused with
429 and ``Retry-After`` before it starts (JSON pages are not counted). A stream
gives its place back when it ends, however it ends (``HeldStream``).

Streams learn of new events by polling the database (workers may be other
processes): every ``events_poll_interval_s`` one query for all the open streams
of the process asks which of their runs have newer events; only those streams
then read them. A waiting stream holds neither a database session nor a
threadpool thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse
from starlette.types import Receive, Scope, Send

from assay.errors import InvalidRequestError
from assay.services import Actor, Platform
from assay.services.intake import progress
from assay.web.deps import MAX_ID, ActorDep, IdPath, PlatformDep, client_of, limiters, rate_key
from assay.web.ratelimit import Place

log = logging.getLogger(__name__)
router = APIRouter(tags=["live progress"])

EVENT_STREAM = "text/event-stream"
RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "An SSE stream (text/event-stream), or with ?after=N a JSON page.",
        "content": {EVENT_STREAM: {}, "application/json": {}},
    },
    204: {"description": "The run is over and the client has seen every event."},
}

AfterQuery = Annotated[
    int | None, Query(ge=-1, le=MAX_ID, description="Answer JSON: the events with seq > after.")
]
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID")]


@router.get(
    "/runs/{run_id}/events",
    response_model=progress.EventPage,
    responses=RESPONSES,
    summary="Stages of a grading run (SSE stream or JSON page)",
)
async def run_events(
    *,
    run_id: IdPath,
    request: Request,
    platform: PlatformDep,
    actor: ActorDep,
    after: AfterQuery = None,
    last_event_id: LastEventId = None,
) -> Response | progress.EventPage:
    return await _answer(request, platform, actor, run_id, after=after, last_event_id=last_event_id)


@router.get(
    "/submissions/{submission_id}/events",
    response_model=progress.EventPage,
    responses=RESPONSES,
    summary="Stages of a submission's newest grading run (SSE stream or JSON page)",
)
async def submission_events(
    *,
    submission_id: IdPath,
    request: Request,
    platform: PlatformDep,
    actor: ActorDep,
    after: AfterQuery = None,
    last_event_id: LastEventId = None,
) -> Response | progress.EventPage:
    run_id = await run_in_threadpool(progress.latest_run_id, platform, actor, submission_id)
    return await _answer(request, platform, actor, run_id, after=after, last_event_id=last_event_id)


async def _answer(
    request: Request,
    platform: Platform,
    actor: Actor,
    run_id: int,
    *,
    after: int | None,
    last_event_id: str | None,
) -> Response | progress.EventPage:
    if after is not None or not _wants_stream(request):
        after_seq = -1 if after is None else after
        return await run_in_threadpool(progress.event_page, platform, actor, run_id, after_seq)
    after_seq = _resume_point(last_event_id)
    # The first page is read before answering, so refusals are plain 404s, not broken streams.
    first = await run_in_threadpool(progress.event_page, platform, actor, run_id, after_seq)
    if first.finished and not first.events:
        return Response(status_code=204)
    place = limiters(request).streams.acquire(
        rate_key(actor, client_of(request)), "open live-progress streams"
    )
    try:
        return HeldStream(
            place,
            _stream(RunWatch.of(request, platform), actor, first, after_seq),
            ping=platform.settings.events_ping_s,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    except BaseException:
        place.release()
        raise


class HeldStream(EventSourceResponse):
    """An SSE response holding a place under the stream limits until it ends: the run
    is over, the client went away, or the server stops."""

    def __init__(self, place: Place, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.place = place

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.place.release()


async def _stream(
    watch: RunWatch, actor: Actor, page: progress.EventPage, after_seq: int
) -> AsyncIterator[ServerSentEvent]:
    while True:
        for event in page.events:
            yield ServerSentEvent(data=event.model_dump_json(), id=str(event.seq))
            after_seq = event.seq
        if page.finished:
            return
        await watch.wait(page.run_id, after_seq)
        page = await run_in_threadpool(
            progress.event_page, watch.platform, actor, page.run_id, after_seq
        )


class RunWatch:
    """One database poll per interval for all the open streams of this app.

    A stream waits here until its run has an event newer than the last it sent
    (or the run is over, or ``FALLBACK_S`` passed); only then does it read its
    events. The poll runs only while some stream waits.
    """

    FALLBACK_S = 5.0

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._waiters: dict[int, list[tuple[int, asyncio.Future[None]]]] = {}
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, request: Request, platform: Platform) -> RunWatch:
        state = request.app.state
        watch: RunWatch | None = getattr(state, "run_watch", None)
        if watch is None:
            watch = state.run_watch = cls(platform)
        return watch

    async def wait(self, run_id: int, seen_seq: int) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (seen_seq, future)
        self._waiters.setdefault(run_id, []).append(entry)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll())
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(future, self.FALLBACK_S)
        finally:
            entries = self._waiters.get(run_id, [])
            if entry in entries:
                entries.remove(entry)
            if not entries:
                self._waiters.pop(run_id, None)

    async def _poll(self) -> None:
        interval = self.platform.settings.events_poll_interval_s
        while self._waiters:
            await asyncio.sleep(interval)
            run_ids = list(self._waiters)
            try:
                states = await run_in_threadpool(progress.newest_seqs, self.platform, run_ids)
            except Exception:  # the database is away: streams fall back to their own reads
                log.warning("polling for progress events failed", exc_info=True)
                continue
            for run_id in run_ids:
                newest, over = states.get(run_id, (-1, True))
                for seen, future in self._waiters.get(run_id, []):
                    if (newest > seen or over) and not future.done():
                        future.set_result(None)


def _wants_stream(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return EVENT_STREAM in accept or "application/json" not in accept


def _resume_point(last_event_id: str | None) -> int:
    if not last_event_id:
        return -1
    try:
        seq = int(last_event_id)
    except ValueError as exc:
        raise InvalidRequestError("Last-Event-ID must be an event's seq (an integer)") from exc
    if not -1 <= seq <= MAX_ID:
        raise InvalidRequestError(f"Last-Event-ID must be between -1 and {MAX_ID}")
    return seq
