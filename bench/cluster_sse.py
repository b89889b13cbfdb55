"""Live-progress viewers of the cluster-scale benchmark (bench/cluster_scale.py).

A process of its own (so its CPU is not the submitting client's): it reads lines
``<submission id> <bearer token>`` on stdin, one per submission accepted, and opens
SSE streams ``GET /api/v1/submissions/{id}/events`` on ``--url`` for it: as many as
bring the open streams up to ``--target`` (at most ``--per-submission``, at least one
while below the target), as a student's page and staff dashboards would. A stream
ends when its run ends (the server closes it after the terminal event).

Delivery latency of an event = the time this process received it minus its ``at``
(set in the transaction that records it, just before its commit), counted for the
events recorded after the stream was asked for (earlier ones are history), and marked
"pushed" for those recorded after its response began (the others came with the
stream's first page: their latency includes the stream's start on a busy server).
Both clocks are this machine's. On end of input it waits for its streams (at most
``--drain-s``) and writes JSON to ``--out``: latencies, open streams each second,
refusals and failures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx

API = "/api/v1"


def timestamp(iso: str) -> float:
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class _NothingYetError(Exception):
    """The request failed before its response began."""


class Viewers:
    def __init__(self, url: str, target: int, per_submission: int) -> None:
        self.url = url
        self.target = target
        self.per_submission = per_submission
        self.open = 0
        self.opened = 0
        # (received, latency, stage, pushed: recorded after the stream was open)
        self.latencies: list[tuple[float, float, str, bool]] = []
        self.open_by_second: list[tuple[float, int]] = []
        self.problems: Counter[str] = Counter()
        self.tasks: set[asyncio.Task[None]] = set()
        limits = httpx.Limits(
            max_connections=target + 64, max_keepalive_connections=64, keepalive_expiry=2.0
        )
        timeout = httpx.Timeout(connect=30.0, read=120.0, write=30.0, pool=60.0)
        self.client = httpx.AsyncClient(base_url=url + API, limits=limits, timeout=timeout)

    def add(self, submission_id: int, token: str) -> None:
        wanted = min(self.per_submission, self.target - self.open)
        for _ in range(max(1, wanted) if self.open < self.target else 0):
            task = asyncio.create_task(self.stream(submission_id, token))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            self.open += 1  # counted from the request, so a burst does not overshoot

    async def stream(self, submission_id: int, token: str) -> None:
        try:
            for attempt in range(2):
                try:
                    await self._stream(submission_id, token)
                except _NothingYetError as exc:
                    # a kept-alive connection the server closed as it was reused: once more
                    if attempt:
                        self.problems[str(exc.__cause__.__class__.__name__)] += 1
                    else:
                        self.problems["retried (broken kept-alive connection)"] += 1
                except httpx.HTTPError as exc:
                    self.problems[type(exc).__name__] += 1
                    return
                else:
                    return
        finally:
            self.open -= 1

    async def _stream(self, submission_id: int, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        received_any = False
        asked = time.time()
        try:
            async with self.client.stream(
                "GET", f"/submissions/{submission_id}/events", headers=headers
            ) as response:
                opened = time.time()
                received_any = True
                if response.status_code != 200:
                    self.problems[f"HTTP {response.status_code}"] += 1
                    return
                self.opened += 1
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    received = time.time()
                    event = json.loads(line[5:])
                    at = timestamp(str(event["at"]))
                    if at >= asked:
                        self.latencies.append(
                            (received, received - at, str(event["stage"]), at >= opened)
                        )
        except httpx.TransportError as exc:
            if not received_any:
                raise _NothingYetError from exc
            raise

    async def sample(self) -> None:
        while True:
            self.open_by_second.append((time.time(), self.open))
            await asyncio.sleep(1.0)


async def run(args: argparse.Namespace) -> dict[str, object]:
    viewers = Viewers(args.url, args.target, args.per_submission)
    sampler = asyncio.create_task(viewers.sample())
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        parts = line.decode().split()
        if len(parts) == 2:
            viewers.add(int(parts[0]), parts[1])
    if viewers.tasks:
        await asyncio.wait(set(viewers.tasks), timeout=args.drain_s)
    sampler.cancel()
    left = len(viewers.tasks)
    for task in list(viewers.tasks):
        task.cancel()
    await viewers.client.aclose()
    return {
        "url": args.url,
        "opened": viewers.opened,
        "left_open": left,
        "latencies": viewers.latencies,
        "open_by_second": viewers.open_by_second,
        "problems": dict(viewers.problems),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--target", type=int, default=500, help="streams to hold open")
    parser.add_argument("--per-submission", type=int, default=16)
    parser.add_argument("--drain-s", type=float, default=120.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args))
    args.out.write_text(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
