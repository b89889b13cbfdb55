"""Students of the cluster-scale benchmark (bench/cluster_scale.py): one sender process.

The bench plans the whole arrival and gives each of its ``--senders`` processes a
share of it, so the HTTP client's CPU is spread over several processes and is not
what limits how fast the API servers can take submissions in. A sender:

1. reads its plan (JSON, ``--plan``): the servers' URLs, the assignment, the
   requests it may keep open per server, and its submissions, each with its due time
   (seconds from the start), server (an index into the URLs), bearer token and
   source;
2. prints ``{"ready": <its submissions>}`` and waits for a line ``start <unix time>
   <give-up unix time>`` on stdin;
3. sends each submission at its due time (open loop: whatever the servers do; at
   most ``in_flight`` requests open per server, a submission waiting for one is late,
   and one still waiting at the give-up time is not sent), and prints one JSON line per
   submission as it ends: ``{"n": ..., "accepted": unix time, "id": submission id}`` or
   ``{"n": ..., "problem": "..."}``; then exits.

Its figures are the bench's (intake lag, accepted per minute): it only sends.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

API = "/api/v1"


def report(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


async def send_all(plan: dict[str, Any], started: float, give_up: float) -> None:
    urls: list[str] = plan["urls"]
    in_flight = int(plan["in_flight"])
    clients = [
        httpx.AsyncClient(
            base_url=url + API,
            # idle connections closed before the server's keep-alive (5 s) closes them: a
            # POST on a connection the server is closing would fail, and is not repeated
            limits=httpx.Limits(
                max_connections=in_flight, max_keepalive_connections=in_flight, keepalive_expiry=2.0
            ),
            timeout=120,
        )
        for url in urls
    ]
    gates = [asyncio.Semaphore(in_flight) for _ in urls]
    path = f"/assignments/{plan['assignment_id']}/submissions"

    async def submit(item: dict[str, Any]) -> None:
        due = started + float(item["due"])
        if due > time.time():
            await asyncio.sleep(due - time.time())
        server = int(item["server"])
        async with gates[server]:
            if time.time() > give_up:
                report({"n": item["n"], "problem": "not sent: the servers fell behind"
                        " beyond --give-up-factor"})  # fmt: skip
                return
            try:
                response = await clients[server].post(
                    path,
                    json={"files": {"add.py": item["source"]}},
                    headers={"Authorization": f"Bearer {item['token']}"},
                )
            except httpx.TransportError as exc:
                report({"n": item["n"], "problem": f"submit failed: {exc!r}"})
                return
        if response.status_code != 201:
            report({"n": item["n"], "problem": f"submit refused: {response.status_code}"
                    f" {response.text[:200]}"})  # fmt: skip
            return
        report({"n": item["n"], "accepted": time.time(), "id": int(response.json()["id"])})

    try:
        await asyncio.gather(*(submit(item) for item in plan["submissions"]))
    finally:
        for client in clients:
            await client.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", type=Path, required=True, help="this sender's share (JSON)")
    args = parser.parse_args(argv)
    plan = json.loads(args.plan.read_text())
    report({"ready": len(plan["submissions"])})
    words = sys.stdin.readline().split()
    if len(words) != 3 or words[0] != "start":
        return 2
    asyncio.run(send_all(plan, float(words[1]), float(words[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
