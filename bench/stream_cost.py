"""What opening a live-progress stream costs an API server: CPU ms per SSE stream.

One ``assay serve --workers 0`` on a fresh PostgreSQL database (as
bench/intake_cost.py, whose helpers this uses): ``--submissions`` students submit once
each; no worker runs, so their runs stay queued and a stream on one stays open, as
the cluster-scale bench's viewers' streams do while a run waits. Then ``--streams``
streams are opened, ``--concurrency`` at a time, the way a viewer does it: ``GET
/api/v1/submissions/{id}/events`` with ``Accept: text/event-stream`` and the owner's
token (every ``--staff-every``-th one with the instructor's), the first event (the
run's ``queued``) read, the stream held ``--hold-s``, then the client disconnects.
After ``--warmup`` such streams it prints, per stream opened:

- the API server's CPU (``/proc``, all its threads), minus what the idle server spends
  in the same time (measured for ``--idle-s`` before);
- the database's CPU for it (the backends serving this database);
- the wall time and the rate reached.

``--profile FILE`` (py-spy, the thread holding the interpreter), ``--src DIR`` (twice
or more: an A/B of source trees, ``--rounds`` each, medians) as in intake_cost.py.

    export ASSAY_BENCH_POSTGRES_URL="$(bash scripts/postgres.sh)"
    .venv/bin/python bench/stream_cost.py                  # 1000 streams, 16 at a time
    .venv/bin/python bench/stream_cost.py --profile /tmp/streams.txt
    git worktree add /tmp/before HEAD~1 && .venv/bin/python bench/stream_cost.py \\
        --src /tmp/before --src . --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from dataclasses import dataclass

import httpx
import sqlalchemy as sa

from cluster_scale import API, Cluster
from flood_http import seed
from intake_cost import Measured, compare_sources, cost_arguments, cost_database, measure_cpu, send

EVENT_STREAM = "text/event-stream"


@dataclass(frozen=True)
class Viewer:
    submission_id: int
    token: str


def viewers_of(
    engine: sa.Engine, tokens: list[str], teacher: str, staff_every: int
) -> list[Viewer]:
    """One viewer per submission: its owner (``flood_http.seed`` names student n
    ``s{n:04d}``, token n is theirs), or the instructor for every ``staff_every``-th."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT s.id, u.username FROM submissions s JOIN users u ON u.id = s.user_id"
                " ORDER BY s.id"
            )
        ).all()
    viewers = []
    for number, (submission_id, username) in enumerate(rows):
        staff = staff_every > 0 and number % staff_every == staff_every - 1
        token = teacher if staff else tokens[int(str(username)[1:])]
        viewers.append(Viewer(int(submission_id), token))
    return viewers


async def open_streams(
    url: str, viewers: list[Viewer], count: int, concurrency: int, hold_s: float
) -> tuple[int, Counter[str]]:
    """``count`` streams on the viewers' submissions in turn, ``concurrency`` at once:
    each reads its first event, waits ``hold_s`` and disconnects. Streams opened (and
    their first event read), problems."""
    problems: Counter[str] = Counter()
    opened = 0
    queue = list(range(count))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url + API, limits=limits, timeout=60) as client:

        async def viewer() -> None:
            nonlocal opened
            while queue:
                watched = viewers[queue.pop() % len(viewers)]
                headers = {"Authorization": f"Bearer {watched.token}", "Accept": EVENT_STREAM}
                try:
                    async with client.stream(
                        "GET", f"/submissions/{watched.submission_id}/events", headers=headers
                    ) as response:
                        if response.status_code != 200:
                            problems[f"HTTP {response.status_code}"] += 1
                            continue
                        async for line in response.aiter_lines():
                            if line.startswith("data:"):
                                opened += 1
                                break
                        else:
                            problems["ended before its first event"] += 1
                        await asyncio.sleep(hold_s)
                except httpx.TransportError as exc:
                    problems[repr(exc)[:100]] += 1

        await asyncio.gather(*(viewer() for _ in range(concurrency)))
    return opened, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200, help="queued runs to watch")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16, help="streams opening at once")
    parser.add_argument("--hold-s", type=float, default=0.2, help="a stream's life after its event")
    parser.add_argument(
        "--staff-every", type=int, default=4,
        help="every n-th submission is watched by the instructor (0: owners only)",
    )  # fmt: skip
    cost_arguments(parser)
    args = parser.parse_args(argv)
    with cost_database(args.postgres_url, "assay-stream-cost-") as database:
        teacher, assignment_id, tokens = seed(database.settings(), args.submissions)
        cluster = Cluster(database.admin, database.name, database.url, database.root)
        try:
            cluster.start_server(0)
            accepted, problems = asyncio.run(
                send(cluster.server_urls, assignment_id, tokens, concurrency=8)
            )
        finally:
            cluster.stop()
        if accepted != args.submissions:
            raise SystemExit(f"{accepted} of {args.submissions} submissions: {dict(problems)}")
        viewers = viewers_of(database.engine, tokens, teacher, args.staff_every)
        print(f"database {database.name}: {len(viewers)} queued submissions to watch")

        def one(_number: int, cluster: Cluster) -> Measured:
            cluster.start_server(0)
            url = cluster.server_urls[0]
            opened, problems = asyncio.run(
                open_streams(url, viewers, args.warmup, args.concurrency, args.hold_s)
            )
            if opened != args.warmup:
                raise SystemExit(f"warm-up: {opened} of {args.warmup} opened: {dict(problems)}")
            return measure_cpu(
                args, database, cluster,
                lambda: asyncio.run(
                    open_streams(url, viewers, args.streams, args.concurrency, args.hold_s)
                ),
                what="stream",
            )  # fmt: skip

        results = compare_sources(args, database, one)
        return 0 if all(m.count == args.streams for r in results.values() for m in r) else 1


if __name__ == "__main__":
    sys.exit(main())
