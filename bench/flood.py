"""WebLab's flood: 400 submissions in a burst, 100 each of four kinds.

The kinds (``bench/flood_assignment``: one io test, 1 s of CPU, 3 s of wall
clock) and the verdict each must get:

    noop      does nothing           -> test failed, score 0 (no output)
    correct   the solution           -> full marks
    loop      ``while True: pass``   -> timeout, CPU time limit exceeded
    forkbomb  forks until it cannot  -> timeout, CPU time limit exceeded

``--mode http`` (the default) starts ``assay serve`` on a fresh state directory
(SQLite, workers in the server process, native sandbox) on a loopback port,
creates an instructor, a course, the assignment and one student per
submission (a resubmission would cancel the same student's queued one), sends
the submissions over the HTTP API in shuffled order and follows the reports.
They arrive open-loop at ``--rate`` per second (default 10: all 400 within
40 s, a deadline rush far steeper than a real exam's), each due at its time
whatever the server does, its latency counted from then; ``--rate 0`` sends
all 400 in one instant. ``--mode direct`` grades the same submissions with
``assay.grading.grade`` on a thread pool, all at once (no server, no
database): the scheduler alone.

Printed: the total wall time (first submission due to last report), the
latency (submission due -> report recorded) p50/p99 of each kind, the verdict
counts, lost submissions, and the ratio of the wall time to the machine's
CPU-bound lower bound: the CPU time used by all runs (from the reports) divided
by the cores. Goals: ratio <= 1.25, no-op and correct p99 < 5 s. For a burst
in one instant it also prints the least light p99 any scheduler could reach
(every run first needs the CPU a light one needs before it can be told apart
from one: on 2 cores that floor is above 5 s). Exits 1 if a verdict is wrong
or a submission lost. See docs/performance.md.

    .venv/bin/python bench/flood.py                  # over HTTP, 400 at 10 per second
    .venv/bin/python bench/flood.py --rate 0         # all 400 in one instant
    .venv/bin/python bench/flood.py --mode direct --workers 400
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = ROOT / "bench" / "flood_assignment"
KINDS = {
    "noop": ASSIGNMENT / "variants" / "noop",
    "correct": ASSIGNMENT / "solution",
    "loop": ASSIGNMENT / "variants" / "loop",
    "forkbomb": ASSIGNMENT / "variants" / "forkbomb",
}
LIGHT = ("noop", "correct")
CPU_LIMIT_MESSAGE = "CPU time limit exceeded"


@dataclass
class Outcome:
    """One submission of the flood, as far as it got."""

    kind: str
    submitted: float = 0.0  # monotonic, when the submission was accepted
    done: float | None = None  # monotonic, when its report was recorded
    report: dict[str, Any] | None = None
    problem: str = ""  # why the verdict is wrong (empty: right)
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def latency_s(self) -> float | None:
        return None if self.done is None else self.done - self.submitted


def expected_problem(kind: str, report: dict[str, Any]) -> str:
    """Why ``report`` is not the verdict ``kind`` must get ("" when it is)."""
    if report.get("status") != "graded":
        return f"report status {report.get('status')!r}, error {report.get('error')!r}"
    tests = report.get("tests") or []
    if len(tests) != 1:
        return f"{len(tests)} tests in the report"
    test = tests[0]
    status, message, score = test.get("status"), test.get("message", ""), report.get("score")
    if kind == "correct":
        ok = status == "passed" and score == report.get("max_score")
    elif kind == "noop":
        ok = status == "failed" and score == 0
    else:
        ok = status == "timeout" and str(message).startswith(CPU_LIMIT_MESSAGE) and score == 0
    return "" if ok else f"test {status!r} ({message!r}), score {score}"


def cpu_of(report: dict[str, Any]) -> float:
    """CPU seconds the runs of a report used (build and tests)."""
    total = float(((report.get("build") or {}).get("timing") or {}).get("cpu_s", 0.0))
    for test in report.get("tests") or []:
        total += float((test.get("timing") or {}).get("cpu_s", 0.0))
    return total


def flood_order(per_kind: int, order: str, seed: int) -> list[str]:
    kinds = [kind for _ in range(per_kind) for kind in KINDS]  # interleaved
    if order == "shuffled":
        random.Random(seed).shuffle(kinds)  # noqa: S311 - an order, not a secret
    elif order == "heavy-first":
        kinds.sort(key=lambda k: k in LIGHT)
    return kinds


def percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def bench_parser(doc: str, *, seed: int) -> argparse.ArgumentParser:
    """A grading bench's parser (bench/exam_peak.py's too): the first line of ``doc``,
    the options every one has."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--workers", type=int, default=0, help="worker slots (0: default)")
    parser.add_argument("--seed", type=int, default=seed)
    return parser


@dataclass
class Tally:
    """The submissions that went wrong, once judged."""

    lost: list[Outcome]  # accepted, no report
    unsent: list[Outcome]  # the submission request itself failed or was refused
    wrong: list[Outcome]  # a report with the wrong verdict

    @property
    def failed(self) -> bool:
        return bool(self.lost or self.unsent or self.wrong)


def judge(
    outcomes: list[Outcome], expected: Callable[[str, dict[str, Any]], str] = expected_problem
) -> Tally:
    """Set each outcome's problem: ``expected(kind, report)`` for a report, "lost: no
    report" for none unless its submission failed (a problem "submit ...")."""
    for outcome in outcomes:
        if outcome.report is not None:
            outcome.problem = expected(outcome.kind, outcome.report)
        elif not outcome.problem:
            outcome.problem = "lost: no report"
    unsent = [o for o in outcomes if o.report is None and o.problem.startswith("submit")]
    lost = [o for o in outcomes if o.report is None and not o.problem.startswith("submit")]
    wrong = [o for o in outcomes if o.problem and o.report is not None]
    return Tally(lost, unsent, wrong)


def wall_and_cpu(outcomes: list[Outcome], started: float) -> tuple[float, float]:
    """Seconds from ``started`` to the last report (or now), and the CPU seconds all
    runs used (from the reports)."""
    finished = [o.done for o in outcomes if o.done is not None]
    wall = (max(finished) if finished else time.monotonic()) - started
    return wall, sum(cpu_of(o.report) for o in outcomes if o.report is not None)


def conclude(outcomes: list[Outcome], tally: Tally, goals: dict[str, bool]) -> int:
    """Print the verdict counts per kind, the lost and refused submissions, a few
    examples and whether each goal was met; the exit code (1: a submission was lost,
    refused or given a wrong verdict)."""
    verdicts: Counter[str] = Counter()
    for outcome in outcomes:
        verdicts[f"{outcome.kind}: {'right' if not outcome.problem else 'WRONG'}"] += 1
    print("verdicts:", ", ".join(f"{key} {n}" for key, n in sorted(verdicts.items())))
    print(f"lost: {len(tally.lost)}")
    if tally.unsent:
        print(f"not accepted (the submission request failed): {len(tally.unsent)}")
        for outcome in tally.unsent[:5]:
            print(f"  {outcome.kind}: {outcome.problem}")
    for outcome in tally.wrong[:10]:
        print(f"  wrong {outcome.kind}: {outcome.problem}")
    print("goals:", ", ".join(f"{goal} {'met' if ok else 'MISSED'}" for goal, ok in goals.items()))
    return 1 if tally.failed else 0


# ----------------------------------------------------------------------------- direct
def run_direct(kinds: list[str], workers: int) -> tuple[list[Outcome], float]:
    """Grade in this process on ``workers`` threads, all submitted at once."""
    from assay.grading.engine import grade  # noqa: PLC0415 - only this mode needs it
    from assay.grading.loader import load_package  # noqa: PLC0415
    from assay.grading.submission import load_submission  # noqa: PLC0415
    from assay.sandbox.backends import get_backend  # noqa: PLC0415

    package = load_package(ASSIGNMENT)
    submissions = {kind: load_submission(path) for kind, path in KINDS.items()}
    grade(package, submissions["correct"], backend=get_backend("native"))  # warm up the backend
    outcomes = [Outcome(kind) for kind in kinds]

    def one(outcome: Outcome) -> None:
        report = grade(package, submissions[outcome.kind], backend=get_backend("native"))
        outcome.done = time.monotonic()
        outcome.report = report.model_dump(mode="json")

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for outcome in outcomes:
            outcome.submitted = started
        list(pool.map(one, outcomes))
    return outcomes, started


# ----------------------------------------------------------------------------- figures
def burst_floor_s(outcomes: list[Outcome], cores: int) -> float | None:
    """The least p99 latency of the light kinds when every submission arrives at once,
    for any scheduler that cannot see the future (ignoring all platform overhead).

    A loop looks like a light program until it has used more CPU than a light one
    needs, so before the p99 light run can end, nearly every run must have had up to
    that much CPU (the p99 of the light runs' CPU): their sum over the cores."""
    light = [cpu_of(o.report) for o in outcomes if o.kind in LIGHT and o.report is not None]
    if not light:
        return None
    need = percentile(light, 99)
    return sum(min(cpu_of(o.report), need) for o in outcomes if o.report is not None) / cores


def summarise(
    outcomes: list[Outcome], started: float, cores: int, goal_ratio: float, *, burst: bool
) -> int:
    tally = judge(outcomes)
    wall, cpu = wall_and_cpu(outcomes, started)
    bound = cpu / cores
    ratio = wall / bound if bound else float("inf")

    print(f"submissions: {len(outcomes)}  cores: {cores}  load now: {os.getloadavg()[0]:.2f}")
    print(f"total wall time: {wall:.1f} s")
    print(f"CPU used by all runs: {cpu:.1f} s -> lower bound {bound:.1f} s on {cores} cores")
    print(f"ratio wall / lower bound: {ratio:.2f} (goal <= {goal_ratio})")
    print(
        "latency: submission due (its time in the arrival) -> report recorded (http: "
        "the server's own times; direct mode: all due at the start)"
    )
    p99_ok = True
    for kind in KINDS:
        latencies = [o.latency_s for o in outcomes if o.kind == kind and o.latency_s is not None]
        if not latencies:
            continue
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        goal = " (goal p99 < 5 s)" if kind in LIGHT else ""
        if kind in LIGHT and p99 >= 5.0:
            p99_ok = False
        print(
            f"latency {kind:9s}: p50 {p50:6.2f} s  p99 {p99:6.2f} s  max {max(latencies):6.2f} s"
            f"{goal}"
        )
        server = [
            o.extra["server_latency"]
            for o in outcomes
            if o.kind == kind and "server_latency" in o.extra
        ]
        if server:
            print(
                f"  server-side (accepted -> report recorded): p50 "
                f"{percentile(server, 50):6.2f} s  p99 {percentile(server, 99):6.2f} s"
            )
    floor = burst_floor_s(outcomes, cores) if burst else None
    if floor is not None:
        print(
            f"  (all sent at once: no scheduler can bring the light p99 below about "
            f"{floor:.1f} s on {cores} cores, each run first needing the CPU a light one "
            f"needs; see docs/performance.md)"
        )
    return conclude(outcomes, tally, {"ratio": ratio <= goal_ratio, "light p99": p99_ok})


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, seed=4)
    parser.add_argument("--mode", choices=("http", "direct"), default="http")
    parser.add_argument("--per-kind", type=int, default=100)
    parser.add_argument(
        "--order", choices=("shuffled", "interleaved", "heavy-first"), default="shuffled"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=10.0,
        help="http: submissions per second, open loop (0: all in one instant)",
    )
    parser.add_argument("--goal-ratio", type=float, default=1.25)
    args = parser.parse_args(argv)

    kinds = flood_order(args.per_kind, args.order, args.seed)
    cores = len(os.sched_getaffinity(0))
    run: Callable[[], tuple[list[Outcome], float]]
    if args.mode == "direct":
        workers = args.workers or len(kinds)
        print(f"mode: direct, {workers} grading threads, order {args.order}")
        run = lambda: run_direct(kinds, workers)  # noqa: E731
    else:
        from flood_http import run_http  # noqa: PLC0415 - bench/ is on sys.path when run

        arrival = f"{args.rate:g} per second" if args.rate > 0 else "all at once"
        print(f"mode: http, order {args.order}, submissions sent {arrival}")
        run = lambda: run_http(kinds, args.workers, args.rate)  # noqa: E731
    outcomes, started = run()
    burst = args.mode == "direct" or args.rate <= 0
    return summarise(outcomes, started, cores, args.goal_ratio, burst=burst)


if __name__ == "__main__":
    threading.excepthook = lambda info: print(f"thread failed: {info.exc_value!r}", file=sys.stderr)
    sys.exit(main())
