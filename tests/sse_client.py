"""A minimal server-sent-events reader over httpx, for tests of the live-progress API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class SseEvent:
    id: str | None
    event: str
    data: str

    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.data)
        return parsed


def read_events(response: httpx.Response) -> Iterator[SseEvent]:
    """The events of an open streaming response until the server ends it (comments skipped)."""
    event_id: str | None = None
    name = "message"
    data: list[str] = []
    for line in response.iter_lines():
        if not line:
            if data:
                yield SseEvent(event_id, name, "\n".join(data))
            event_id, name, data = None, "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "id":
            event_id = value
        elif field == "event":
            name = value
        elif field == "data":
            data.append(value)
    if data:
        yield SseEvent(event_id, name, "\n".join(data))


def follow(
    client: httpx.Client, path: str, *, last_event_id: str | None = None, timeout_s: float = 120
) -> list[dict[str, Any]]:
    """Every event of the stream at ``path`` until the server closes it, as JSON objects."""
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    timeout = httpx.Timeout(timeout_s, connect=10)
    with client.stream("GET", path, headers=headers, timeout=timeout) as response:
        response.raise_for_status()
        assert response.headers["content-type"].startswith("text/event-stream")
        events = []
        for event in read_events(response):
            body = event.json()
            assert event.id == str(body["seq"])
            events.append(body)
        return events
