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

Streams learn of new events (workers may be other processes) from PostgreSQL's
LISTEN/NOTIFY: one listening connection per server process wakes the streams
of a run as soon as its events commit, whichever process wrote them. On SQLite
(and on PostgreSQL while that connection is down) they poll: every
``events_poll_interval_s`` one query for all the open streams of the process
asks which of their runs have newer events. Either way only the streams with
news then read them (``RunWatch``). A waiting stream holds neither a database
session nor a threadpool thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, FastAPI, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse
from starlette.types import Receive, Scope, Send

from assay.errors import InvalidRequestError
from assay.services import Actor, Platform
from assay.services.intake import progress
from assay.storage.pgconn import libpq_url
from assay.web.deps import (
    MAX_ID,
    BearerDep,
    IdPath,
    PlatformDep,
    client_of,
    limiters,
    rate_key,
    require_actor,
    resolve_actor,
)
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
    _bearer: BearerDep,
    after: AfterQuery = None,
    last_event_id: LastEventId = None,
) -> Response | progress.EventPage:
    def page(actor: Actor, after_seq: int) -> progress.EventPage:
        return progress.event_page(platform, actor, run_id, after_seq)

    return await _answer(request, platform, page, after=after, last_event_id=last_event_id)


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
    _bearer: BearerDep,
    after: AfterQuery = None,
    last_event_id: LastEventId = None,
) -> Response | progress.EventPage:
    def page(actor: Actor, after_seq: int) -> progress.EventPage:  # its newest run: one read
        return progress.submission_event_page(platform, actor, submission_id, after_seq)

    return await _answer(request, platform, page, after=after, last_event_id=last_event_id)


async def _answer(
    request: Request,
    platform: Platform,
    first_page: Callable[[Actor, int], progress.EventPage],
    *,
    after: int | None,
    last_event_id: str | None,
) -> Response | progress.EventPage:
    """The JSON page, or a stream starting with ``first_page(actor, after_seq)`` (a read;
    the stream's later pages are of the run the first one is of).

    The caller is authenticated (``deps.resolve_actor``: 401, its rate limit: 429)
    before anything else, in the same thread as the first page is read: one hand-off
    to the threadpool per request, not one for the actor and one for the page."""
    stream = after is None and _wants_stream(request)
    watch = RunWatch.of(request, platform) if stream else None
    epoch = 0 if watch is None else watch.epoch  # before the first page is read

    def authenticated_page() -> tuple[Actor, int, progress.EventPage]:
        actor = require_actor(resolve_actor(request, platform))
        after_seq = _resume_point(last_event_id) if stream else (-1 if after is None else after)
        return actor, after_seq, first_page(actor, after_seq)

    # The first page is read before answering, so refusals are plain 404s, not broken streams.
    actor, after_seq, first = await run_in_threadpool(authenticated_page)
    if watch is None:
        return first
    if first.finished and not first.events:
        return Response(status_code=204)
    place = limiters(request).streams.acquire(
        rate_key(actor, client_of(request)), "open live-progress streams"
    )
    try:
        return HeldStream(
            place,
            _stream(watch, actor, first, after_seq, epoch),
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
    watch: RunWatch, actor: Actor, page: progress.EventPage, after_seq: int, epoch: int
) -> AsyncIterator[ServerSentEvent]:
    while True:
        for event in page.events:
            yield ServerSentEvent(data=event.model_dump_json(), id=str(event.seq))
            after_seq = event.seq
        if page.finished:
            return
        await watch.wait(page.run_id, after_seq, epoch)
        epoch = watch.epoch
        page = await run_in_threadpool(
            progress.event_page, watch.platform, actor, page.run_id, after_seq
        )


class RunWatch:
    """Wakes the waiting streams of this app when their runs have new events.

    A stream waits here until its run has an event newer than the last it sent
    (or the run is over, or the fallback time passed); only then does it read its
    events, access-checked. Two ways to learn of new events:

    - PostgreSQL (``notify``): ONE connection of this process listens on
      ``progress.NOTIFY_CHANNEL``; each notification ("<run>:<seq>", sent by the
      writer in the transaction of the events) wakes the waiters of that run at
      once. The listener starts with the first waiting stream and closes after
      ``IDLE_S`` without one. While it is not listening (connecting, or the
      connection dropped: it reconnects every ``RETRY_S``) the streams are polled
      instead, so nothing is missed; when it is (back) up it checks the waiting
      runs once, and a stream whose page was read before that (``epoch``) reads
      again. A listening stream also re-reads after ``max(FALLBACK_S,
      events_poll_interval_s)`` (a safety net; notifications are not lost while
      the connection is up).
    - polling (SQLite, or while not listening): every ``events_poll_interval_s``
      one query for all the waiting streams asks which runs have newer events.
      The poll runs only while some stream waits and nothing listens.
    """

    FALLBACK_S = 5.0
    IDLE_S = 30.0
    RETRY_S = 1.0
    CHECK_S = 10.0  # a query on the listening connection this often: a dead one shows
    HEARD_RUNS = 10_000  # newest seqs remembered for runs nobody waited on yet

    def __init__(self, platform: Platform, *, notify: bool | None = None) -> None:
        self.platform = platform
        self.notify = (not platform.db.is_sqlite) if notify is None else notify
        self.listening = False
        self.epoch = 0  # +1 each time the listener is (back) up
        self._waiters: dict[int, list[tuple[int, asyncio.Future[None]]]] = {}
        self._heard: OrderedDict[int, int] = OrderedDict()
        self._poller: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def of(cls, request: Request, platform: Platform) -> RunWatch:
        state = request.app.state
        watch: RunWatch | None = getattr(state, "run_watch", None)
        if watch is None:
            watch = state.run_watch = cls(platform)
        return watch

    async def wait(self, run_id: int, seen_seq: int, epoch: int | None = None) -> None:
        """Until run ``run_id`` has an event after ``seen_seq`` (or the fallback time).

        ``epoch``: ``self.epoch`` when the stream read its page; if the listener came
        up since, this returns at once (the page may predate it)."""
        self._bind_loop()
        if self.listening and epoch is not None and epoch != self.epoch:
            return
        if self._heard.get(run_id, -1) > seen_seq:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (seen_seq, future)
        self._waiters.setdefault(run_id, []).append(entry)
        self._start()
        timeout = self.FALLBACK_S
        if self.listening:
            timeout = max(timeout, self.platform.settings.events_poll_interval_s)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(future, timeout)
        finally:
            entries = self._waiters.get(run_id, [])
            if entry in entries:
                entries.remove(entry)
            if not entries:
                self._waiters.pop(run_id, None)

    async def close(self) -> None:
        """Stop listening and polling (the app is shutting down)."""
        for task in (self._listener, self._poller):
            if task is not None and not task.done() and self._loop is asyncio.get_running_loop():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._listener = self._poller = None
        self.listening = False

    def _bind_loop(self) -> None:
        """Tasks and futures belong to one event loop (a server has one; an app driven
        by several test clients sees several): start afresh on another."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._waiters.clear()
            self._poller = self._listener = None
            self.listening = False

    def _start(self) -> None:
        if self.notify and (self._listener is None or self._listener.done()):
            self._listener = asyncio.create_task(self._listen())
        if not self.listening and (self._poller is None or self._poller.done()):
            self._poller = asyncio.create_task(self._poll())

    def _wake(self, run_id: int, newest: int, over: bool) -> None:
        for seen, future in self._waiters.get(run_id, []):
            if (newest > seen or over) and not future.done():
                future.set_result(None)

    async def _check(self, run_ids: list[int]) -> bool:
        """One query for the runs' newest seqs; wakes the waiters with news."""
        try:
            states = await run_in_threadpool(progress.newest_seqs, self.platform, run_ids)
        except Exception:  # the database is away: streams fall back to their own reads
            log.warning("polling for progress events failed", exc_info=True)
            return False
        for run_id in run_ids:
            newest, over = states.get(run_id, (-1, True))
            self._wake(run_id, newest, over)
        return True

    async def _poll(self) -> None:
        interval = self.platform.settings.events_poll_interval_s
        while self._waiters and not self.listening:
            await asyncio.sleep(interval)
            if not self.listening:
                await self._check(list(self._waiters))

    # --- PostgreSQL LISTEN ---------------------------------------------------------

    def heard(self, payload: str) -> None:
        """One notification: "<run id>:<seq>" (anything else is ignored)."""
        run_text, _, seq_text = payload.partition(":")
        try:
            run_id, seq = int(run_text), int(seq_text)
        except ValueError:
            log.warning("ignoring a malformed progress notification %r", payload[:100])
            return
        if seq > self._heard.get(run_id, -1):
            self._heard[run_id] = seq
            self._heard.move_to_end(run_id)
            while len(self._heard) > self.HEARD_RUNS:
                self._heard.popitem(last=False)
        self._wake(run_id, seq, over=False)

    async def _listen(self) -> None:
        conninfo = libpq_url(self.platform.db.url)
        idle_since = time.monotonic()
        while True:
            if self._waiters:
                idle_since = time.monotonic()
            try:
                connection = await psycopg.AsyncConnection.connect(
                    conninfo, autocommit=True, connect_timeout=5
                )
            except psycopg.Error as exc:
                log.warning("live progress: cannot listen for notifications (polling): %s", exc)
            else:
                try:
                    async with connection:
                        await connection.execute(f"LISTEN {progress.NOTIFY_CHANNEL}")
                        await self._listening(connection)
                        return  # idle: closed
                except psycopg.Error as exc:
                    log.warning("live progress: the listening connection broke (polling): %s", exc)
                finally:
                    self._down()
            if not self._waiters and time.monotonic() - idle_since > self.IDLE_S:
                return
            await asyncio.sleep(self.RETRY_S)

    async def _listening(self, connection: psycopg.AsyncConnection[Any]) -> None:
        self.listening = True
        self.epoch += 1
        self._heard.clear()  # what was heard before a gap may be stale
        if not await self._check(list(self._waiters)):  # what happened before LISTEN
            raise psycopg.OperationalError("cannot check the waiting runs; listening again")
        idle_since = checked = time.monotonic()
        while True:
            async for note in connection.notifies(timeout=1.0):
                self.heard(note.payload)
            now = time.monotonic()
            if self._waiters:
                idle_since = now
            elif now - idle_since > self.IDLE_S:
                return
            if now - checked > self.CHECK_S:
                await connection.execute("SELECT 1")
                checked = now

    def _down(self) -> None:
        if self.listening:
            self.listening = False
            if self._waiters and (self._poller is None or self._poller.done()):
                self._poller = asyncio.create_task(self._poll())


async def shutdown(app: FastAPI) -> None:
    """Close the app's ``RunWatch`` (its listening connection), if it made one."""
    watch: RunWatch | None = getattr(app.state, "run_watch", None)
    if watch is not None:
        await watch.close()


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
