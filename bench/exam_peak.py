"""An exam peak on one machine: 500 submissions of a typical exercise within one minute.

``assay serve`` on embedded defaults (SQLite in a fresh state directory, the workers
in the server process, the native sandbox; ``--database postgresql`` puts the data
in a fresh database on the PostgreSQL server of ASSAY_TEST_POSTGRES_URL instead)
gets, over the HTTP API, one submission per student of ``bench/exam_assignment``
(four io tests, 1 s of CPU and 3 s of wall clock each), open loop at an even rate
over ``--window`` seconds (default 60), in shuffled order:

    correct  425  the solution                        -> 4 / 4
    wrong     65  crashes when there are no scores    -> 3 / 4 (one test crashed)
    loop      10  never ends when there are scores    -> 1 / 4 (three tests out of CPU time)

Before the peak, on the same server, ``--baseline`` (5) correct submissions are sent
one at a time, each after the previous one's report (after one more that warms the
server up: its first run unpacks the package and opens the environment): their
median feedback latency is the baseline the peak's latencies are divided by.

Printed: feedback latency (submission due, its time in the arrival -> report
recorded) p50 / p95 / p99 / max, overall and per kind; the ratio of the p99 to the
baseline; the verdicts; lost submissions; the CPU all runs used against the cores
and window; the load average (other work on the machine shows there). Goal: p99 <
30 s and 0 lost. Exits 1 if a submission is lost or refused or a verdict is wrong.
Reuses bench/flood.py's and bench/flood_http.py's machinery. See docs/performance.md.

    .venv/bin/python bench/exam_peak.py
    .venv/bin/python bench/exam_peak.py --database postgresql
    .venv/bin/python bench/exam_peak.py --submissions 100 --window 12   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assay.config import Settings
from cluster_scale import create_database, drop_database
from flood import (
    ROOT,
    Outcome,
    bench_parser,
    conclude,
    judge,
    percentile,
    wall_and_cpu,
)
from flood_http import (
    IdleTimeline,
    flood,
    free_port,
    idle_core_s,
    print_stages,
    process_cpu_s,
    seed,
    server_env,
    start_server,
    stop_server,
    wait_ready,
)

EXAM = ROOT / "bench" / "exam_assignment"
SOURCES = {
    "correct": EXAM / "solution",
    "wrong": EXAM / "variants" / "wrong",
    "loop": EXAM / "variants" / "loop",
}
SHARES = {"correct": 0.85, "wrong": 0.13, "loop": 0.02}
# kind -> (score, the status of each test in order)
EXPECTED = {
    "correct": (4.0, ["passed", "passed", "passed", "passed"]),
    "wrong": (3.0, ["passed", "passed", "crashed", "passed"]),
    "loop": (1.0, ["timeout", "timeout", "passed", "timeout"]),
}
CPU_LIMIT_MESSAGE = "CPU time limit exceeded"
GOAL_P99_S = 30.0


def files_of(kind: str) -> dict[str, str]:
    return {"scores.py": (SOURCES[kind] / "scores.py").read_text()}


def arrival(total: int, seed_value: int) -> list[str]:
    """``total`` kinds in the shares of SHARES (the rest correct), shuffled."""
    counts = {kind: round(total * share) for kind, share in SHARES.items() if kind != "correct"}
    counts["correct"] = total - sum(counts.values())
    kinds = [kind for kind, n in counts.items() for _ in range(n)]
    random.Random(seed_value).shuffle(kinds)  # noqa: S311 - an order, not a secret
    return kinds


def expected_problem(kind: str, report: dict[str, Any]) -> str:
    """Why ``report`` is not the verdict ``kind`` must get ("" when it is)."""
    if report.get("status") != "graded":
        return f"report status {report.get('status')!r}, error {report.get('error')!r}"
    score, statuses = EXPECTED[kind]
    tests = report.get("tests") or []
    got = [test.get("status") for test in tests]
    if got != statuses or report.get("score") != score:
        return f"tests {got}, score {report.get('score')} (want {statuses}, {score})"
    for test in tests:
        if test.get("status") == "timeout" and not str(test.get("message", "")).startswith(
            CPU_LIMIT_MESSAGE
        ):
            return f"timeout {test.get('message')!r} (want {CPU_LIMIT_MESSAGE})"
    return ""


@contextmanager
def database(kind: str) -> Iterator[str | None]:
    """None for SQLite (the state directory's); else the URL of a fresh PostgreSQL
    database on ASSAY_TEST_POSTGRES_URL's server, dropped afterwards."""
    if kind == "sqlite":
        yield None
        return
    admin_url = os.environ.get("ASSAY_TEST_POSTGRES_URL", "")
    if not admin_url:
        raise SystemExit("--database postgresql: set ASSAY_TEST_POSTGRES_URL (scripts/postgres.sh)")
    name, url = create_database(admin_url)
    try:
        yield url
    finally:
        drop_database(admin_url, name)


def send(
    url: str, assignment_id: int, teacher: str, kinds: list[str], tokens: list[str], *, rate: float
) -> tuple[list[Outcome], float]:
    files = {kind: files_of(kind) for kind in SOURCES}
    started = time.monotonic()
    outcomes = asyncio.run(
        flood(url, assignment_id, teacher, kinds, tokens, rate=rate, files=files)
    )
    for outcome in outcomes:
        outcome.submitted = outcome.extra.get("sent", started)  # its time in the arrival
    return outcomes, started


def run(args: argparse.Namespace) -> tuple[list[Outcome], list[Outcome], float]:
    """(baseline outcomes, peak outcomes, the peak's start)."""
    kinds = arrival(args.submissions, args.seed)
    state = Path(tempfile.mkdtemp(prefix="assay-exam-"))
    port = free_port()
    with database(args.database) as database_url:
        env = server_env(state, port)
        if database_url is not None:
            env["ASSAY_DATABASE_URL"] = database_url
        settings = Settings(
            state_dir=state, host="127.0.0.1", port=port, database_url=database_url or ""
        )
        teacher, assignment_id, tokens = seed(
            settings, args.baseline + 1 + len(kinds), EXAM, "exam-peak"
        )
        url = f"http://127.0.0.1:{port}"
        log = Path(tempfile.mkstemp(prefix="assay-exam-", suffix=".log")[1])
        server = start_server(env, args.workers, log)
        print(f"server: {url}, state {state}, database {args.database}, log {log}")
        try:
            wait_ready(url, server, log)
            baseline: list[Outcome] = []
            for n in range(args.baseline + 1):  # one at a time; the first warms up
                sent = send(url, assignment_id, teacher, ["correct"], [tokens[n]], rate=0)[0]
                baseline += sent if n else []
            print("baseline latencies:", " ".join(f"{o.latency_s or 0:.2f}" for o in baseline))
            rate = len(kinds) / args.window
            print(
                f"peak: {len(kinds)} submissions ({dict(Counter(kinds))}) at {rate:.2f} per "
                f"second over {args.window:g} s; load average before: "
                f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}"
            )
            server_before, idle_before = process_cpu_s(server.pid), idle_core_s()
            timeline = IdleTimeline()
            outcomes, started = send(
                url, assignment_id, teacher, kinds, tokens[args.baseline + 1 :], rate=rate
            )
            print(
                f"during the peak: CPU of the server process (its own threads, not the runs) "
                f"{process_cpu_s(server.pid) - server_before:.1f} s; the machine's cores idle "
                f"{idle_core_s() - idle_before:.1f} s; idle core-seconds per "
                f"{timeline.step_s:g} s: {timeline.stop()}"
            )
            if database_url is None:
                print_stages(state / "assay.db", outcomes, SOURCES)
            return baseline, outcomes, started
        finally:
            stop_server(server, 60)
            shutil.rmtree(state, ignore_errors=True)


def summarise(
    baseline: list[Outcome], outcomes: list[Outcome], started: float, window: float
) -> int:
    tally = judge(baseline + outcomes, expected_problem)
    cores = len(os.sched_getaffinity(0))
    wall, cpu = wall_and_cpu(outcomes, started)
    base = [o.latency_s for o in baseline if o.latency_s is not None]
    base_s = statistics.median(base) if base else float("nan")

    print(f"submissions: {len(outcomes)}  cores: {cores}")
    print(
        f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
        "(other work on this machine competes for the same cores)"
    )
    print(f"first due -> last report: {wall:.1f} s (arrival window {window:g} s)")
    print(
        f"CPU used by all runs: {cpu:.1f} s = {cpu / cores:.1f} s of all {cores} cores "
        f"({100 * cpu / cores / window:.0f}% of the window)"
    )
    print(f"baseline (one correct submission at a time, idle server): median {base_s:.2f} s")
    print("feedback latency: submission due -> report recorded")
    every = [o.latency_s for o in outcomes if o.latency_s is not None]
    p99 = float("inf")
    for label, values in [("all", every)] + [
        (kind, [o.latency_s for o in outcomes if o.kind == kind and o.latency_s is not None])
        for kind in SOURCES
    ]:
        if not values:
            continue
        p50, p95, q99 = (percentile(values, q) for q in (50, 95, 99))
        if label == "all":
            p99 = q99
        print(
            f"  {label:8s} n={len(values):3d}  p50 {p50:6.2f} s  p95 {p95:6.2f} s  "
            f"p99 {q99:6.2f} s  max {max(values):6.2f} s  (p99 / baseline {q99 / base_s:.1f})"
        )
    fifths = [outcomes[n * len(outcomes) // 5 : (n + 1) * len(outcomes) // 5] for n in range(5)]
    print(
        "p50 latency by fifth of the arrival (first to last due):",
        " ".join(
            f"{statistics.median(values):.1f}"
            for part in fifths
            if (values := [o.latency_s for o in part if o.latency_s is not None])
        ),
    )
    lost = tally.lost + tally.unsent
    return conclude(
        outcomes, tally, {f"p99 < {GOAL_P99_S:g} s": p99 < GOAL_P99_S, "0 lost": not lost}
    )


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, seed=17)
    parser.add_argument("--submissions", type=int, default=500)
    parser.add_argument("--window", type=float, default=60.0, help="arrival window, seconds")
    parser.add_argument("--baseline", type=int, default=5, help="unloaded submissions first")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)
    baseline, outcomes, started = run(args)
    return summarise(baseline, outcomes, started, args.window)


if __name__ == "__main__":
    threading.excepthook = lambda info: print(f"thread failed: {info.exc_value!r}", file=sys.stderr)
    sys.exit(main())
