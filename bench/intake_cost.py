"""What one accepted submission costs an API server: CPU ms per POST of a submission.

``--servers`` (1) ``assay serve --workers 0`` on a fresh PostgreSQL database (as the
cluster-scale bench runs its servers: same settings, same assignment, same JSON body),
no workers and no live-progress streams, so the servers' CPU is the intake's alone.
After ``--warmup`` submissions it sends ``--submissions`` more, each from a student
who has not submitted yet, with ``--concurrency`` requests in flight per server
(closed loop), and prints, per accepted submission:

- the API servers' CPU (``/proc/<pid>/stat``, all their threads), minus what the idle
  servers spend in the same time (measured for ``--idle-s`` before);
- the database's CPU for it (the backends serving this database, from /proc);
- the wall time and the rate the one server reached.

With ``--profile FILE`` the (first) server is sampled with py-spy (``py-spy record
--gil``: the thread holding the interpreter, i.e. CPU; py-spy must be installed, and
may need root or ptrace rights) and the functions with the most samples are printed
(self and inclusive); the raw stacks go to FILE.

``--src DIR`` (twice or more) is an A/B on one machine: the server runs from DIR/src
(a checkout or ``git archive`` of another commit; ``.``: this tree), the trees take
turns ``--rounds`` times each, and the medians are printed.

    export ASSAY_BENCH_POSTGRES_URL="$(bash scripts/postgres.sh)"
    .venv/bin/python bench/intake_cost.py                     # 400 submissions, 8 in flight
    .venv/bin/python bench/intake_cost.py --profile /tmp/intake.txt
    git worktree add /tmp/before HEAD~1 && .venv/bin/python bench/intake_cost.py \
        --src /tmp/before --src . --rounds 3

The figures are CPU time, so other load on the machine changes them less than it
changes wall times (but it does: caches, frequency). Compare runs on one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

from assay.config import Settings
from cluster_scale import (
    API,
    SECRET,
    SOURCES,
    Cluster,
    admin_url,
    create_database,
    drop_database,
)
from flood_http import CpuGroup, process_cpu_s, seed


def database_pids(engine: sa.Engine, database: str) -> list[int]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :db"
                " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            ),
            {"db": database},
        ).all()
    return [int(row[0]) for row in rows]


async def send(
    urls: list[str], assignment_id: int, tokens: list[str], concurrency: int
) -> tuple[int, Counter[str]]:
    """Each token submits once, ``concurrency`` at a time to each server (the tokens
    dealt out in turn); accepted count, problems."""
    problems: Counter[str] = Counter()
    accepted = 0
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2.0
    )

    async def server(url: str, queue: list[str]) -> None:
        async with httpx.AsyncClient(base_url=url + API, limits=limits, timeout=120) as client:

            async def sender() -> None:
                nonlocal accepted
                while queue:
                    token = queue.pop()
                    try:
                        response = await client.post(
                            f"/assignments/{assignment_id}/submissions",
                            json={"files": {"add.py": SOURCES["correct"]}},
                            headers={"Authorization": f"Bearer {token}"},
                        )
                    except httpx.TransportError as exc:
                        problems[repr(exc)[:100]] += 1
                        continue
                    if response.status_code == 201:
                        accepted += 1
                    else:
                        problems[f"{response.status_code} {response.text[:100]}"] += 1

            await asyncio.gather(*(sender() for _ in range(concurrency)))

    await asyncio.gather(*(server(url, tokens[n :: len(urls)]) for n, url in enumerate(urls)))
    return accepted, problems


def summarize_profile(raw: Path, top: int) -> None:
    """py-spy's raw output (``frame;frame;... count``): the functions with the most
    samples, by self time and inclusive."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        print("profile: no samples")
        return
    print(f"\nprofile: {total} samples of busy threads")
    print("  self time:")
    for frame, count in own.most_common(top):
        print(f"    {100 * count / total:5.1f}%  {frame}")
    print("  inclusive (src/assay and its libraries' entry points):")
    for frame, count in inclusive.most_common(top * 4)[: top * 2]:
        print(f"    {100 * count / total:5.1f}%  {frame}")


def _short(frame: str) -> str:
    """``function (path:line)`` -> ``function (package/module.py)``."""
    name, _, where = frame.partition(" (")
    path = where.split(":", 1)[0]
    for marker in ("site-packages/", "/src/", "/lib/python"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def cost_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the cost benches (this one and bench/stream_cost.py): idle time,
    database, profile, A/B of source trees."""
    parser.add_argument("--idle-s", type=float, default=5.0)
    parser.add_argument("--postgres-url", default="", help="a role that may create databases")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy's raw stacks here")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--src", action="append", default=[],
        help="run the server from this source tree's src/ (an A/B: give it twice or more, the"
        " working tree's is '.'); rounds alternate between them",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=1, help="measurements per source tree")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")


@dataclass
class CostDatabase:
    """A fresh PostgreSQL database for a cost bench, and a scratch directory."""

    admin: str
    name: str
    url: str
    root: Path
    engine: sa.Engine

    def settings(self) -> Settings:
        return Settings(database_url=self.url, state_dir=self.root / "seed", secret_key=SECRET)


@contextmanager
def cost_database(postgres_url: str, prefix: str) -> Iterator[CostDatabase]:
    admin = admin_url(postgres_url)
    name, url = create_database(admin)
    root = Path(tempfile.mkdtemp(prefix=prefix))
    engine = sa.create_engine(url, pool_size=1, max_overflow=1)
    try:
        yield CostDatabase(admin, name, url, root, engine)
    finally:
        engine.dispose()
        drop_database(admin, name)
        shutil.rmtree(root, ignore_errors=True)


def compare_sources(
    args: argparse.Namespace, database: CostDatabase, measure: Callable[[int, Cluster], Measured]
) -> dict[str, list[Measured]]:
    """``measure(number, cluster)`` ``--rounds`` times per ``--src`` tree (the trees
    taking turns), each on a new cluster of this database; then the medians (with two
    or more measurements) and the profile's summary are printed."""
    sources = [str(Path(src).resolve() / "src") if src != "." else "" for src in args.src]
    sources = sources or [""]
    for src in sources:
        if src and not (Path(src) / "assay" / "__init__.py").exists():
            raise SystemExit(f"--src: no assay package in {src}")
    if args.profile is not None:
        py_spy()  # missing: said before the first round
    results: dict[str, list[Measured]] = {src: [] for src in sources}
    for number in range(args.rounds * len(sources)):
        src = sources[number % len(sources)]
        cluster = Cluster(database.admin, database.name, database.url, database.root, src=src)
        try:
            measured = measure(number, cluster)
        finally:
            cluster.stop()
        results[src].append(measured)
        print(f"[{src or 'this tree'}] {measured.line()}")
    if len(sources) > 1 or args.rounds > 1:
        print("\nmedians:")
        for src, rows in results.items():
            api = statistics.median(m.api_ms for m in rows)
            db = statistics.median(m.db_ms for m in rows)
            rate = statistics.median(m.rate for m in rows)
            what = rows[0].what
            print(f"  {src or 'this tree'}: API server {api:.2f} ms, database {db:.2f} ms"
                  f" per {what}, {rate:.1f}/s ({len(rows)} runs)")  # fmt: skip
    if args.profile is not None and args.profile.exists():
        summarize_profile(args.profile, args.top)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight per server")
    parser.add_argument("--servers", type=int, default=1, help="API servers (one database)")
    parser.add_argument(
        "--submit-concurrency", type=int, default=0,
        help="the servers' ASSAY_SUBMIT_CONCURRENCY (0: their default)",
    )  # fmt: skip
    cost_arguments(parser)
    args = parser.parse_args(argv)
    with cost_database(args.postgres_url, "assay-intake-cost-") as database:
        began = time.monotonic()
        per_run = args.warmup + args.submissions
        _teacher, assignment_id, tokens = seed(
            database.settings(), per_run * args.rounds * max(1, len(args.src))
        )
        print(f"database {database.name}: {len(tokens)} students seeded"
              f" in {time.monotonic() - began:.0f} s")  # fmt: skip

        def one(number: int, cluster: Cluster) -> Measured:
            for _ in range(args.servers):
                cluster.start_server(args.submit_concurrency)
            urls = cluster.server_urls
            mine = tokens[number * per_run : (number + 1) * per_run]
            accepted, problems = asyncio.run(
                send(urls, assignment_id, mine[: args.warmup], args.concurrency)
            )
            if accepted != args.warmup:
                raise SystemExit(f"warm-up: {accepted} of {args.warmup} accepted: {dict(problems)}")
            rest = mine[args.warmup :]
            return measure_cpu(
                args, database, cluster,
                lambda: asyncio.run(send(urls, assignment_id, rest, args.concurrency)),
                what="submission",
            )  # fmt: skip

        results = compare_sources(args, database, one)
        return 0 if all(m.count == args.submissions for r in results.values() for m in r) else 1


@dataclass
class Measured:
    count: int  # requests done (accepted submissions, streams opened)
    took: float
    api_ms: float
    db_ms: float
    idle_share: float
    busy_share: float
    problems: Counter[str]
    what: str = "submission"

    @property
    def rate(self) -> float:
        return self.count / self.took

    def line(self) -> str:
        return (
            f"{self.count} {self.what}s in {self.took:.1f} s ({self.rate:.1f}/s); CPU per"
            f" {self.what}: API server {self.api_ms:.2f} ms, database {self.db_ms:.2f} ms"
            f" (server {100 * self.busy_share:.0f}% of a core while sending, idle"
            f" {100 * self.idle_share:.1f}% subtracted); problems:"
            f" {dict(self.problems) or 'none'}"
        )


def py_spy() -> str:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    return spy


def measure_cpu(
    args: argparse.Namespace,
    database: CostDatabase,
    cluster: Cluster,
    work: Callable[[], tuple[int, Counter[str]]],
    *,
    what: str,
) -> Measured:
    """The cluster's servers (started and warmed up): their idle CPU for ``--idle-s``,
    then their CPU and the database's while ``work()`` runs (it returns how many it
    did and its problems), per piece of work; py-spy samples the first server with
    ``--profile``."""
    pids = [server.pid for server in cluster.servers]

    def servers_cpu() -> float:
        return sum(process_cpu_s(pid) for pid in pids)

    idle_from, cpu_from = time.monotonic(), servers_cpu()
    time.sleep(args.idle_s)
    idle_rate = (servers_cpu() - cpu_from) / (time.monotonic() - idle_from)
    spying = None
    if args.profile is not None:
        argv_spy = [py_spy(), "record", "--pid", str(pids[0]), "--rate", str(args.rate)]
        argv_spy += ["--format", "raw", "--output", str(args.profile), "--nonblocking"]
        argv_spy += ["--gil"]  # the thread holding the interpreter: CPU, not waits
        spying = subprocess.Popen(argv_spy, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)
    db_cpu = CpuGroup()
    db_cpu.sample(database_pids(database.engine, database.name), born_now=False)
    cpu_before = servers_cpu()
    started = time.monotonic()
    done, problems = work()
    took = time.monotonic() - started
    cpu = servers_cpu() - cpu_before
    db_cpu.sample(database_pids(database.engine, database.name), born_now=True)
    if spying is not None:
        spying.send_signal(signal.SIGINT)
        _out, err = spying.communicate(timeout=60)
        if spying.returncode:
            print(f"py-spy failed ({spying.returncode}): {err.decode()[-500:]}")
    busy = max(cpu - idle_rate * took, 0.0)
    count = max(done, 1)
    return Measured(
        count=done,
        took=took,
        api_ms=1000 * busy / count,
        db_ms=1000 * db_cpu.total / count,
        idle_share=idle_rate,
        busy_share=cpu / took,
        problems=problems,
        what=what,
    )


if __name__ == "__main__":
    sys.exit(main())
