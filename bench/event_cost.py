"""What recording one stage of a grading run costs a worker, on real PostgreSQL.

A worker records every stage of every run it grades (started, setup, building, each
test) as a run event, each in its own transaction, so live progress shows it at once.
Measured here: the worker process's CPU and the wall time per stage event
(``EventProgress.stage`` of a run running on this worker, ``--runs`` runs, ``--events``
stages each, in ``--rounds`` alternating rounds), against a baseline measured in the
same run: the way stages were recorded before (a locking read that the run still runs
on the worker, then ``record_events``' own lock, a read of the newest seq, an ORM
insert and a NOTIFY: five statements, each built per event).

    .venv/bin/python bench/event_cost.py
    .venv/bin/python bench/event_cost.py --runs 100 --events 10 --rounds 5

The database is made for the run on the server ``--postgres-url`` names (default:
``$ASSAY_BENCH_POSTGRES_URL``, else what ``scripts/postgres.sh`` prints) and dropped.
Figures: docs/performance.md ("Recording a run's stages").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select, update

from assay.config import Settings
from assay.grading.stages import Stage
from assay.grading.submission import load_submission
from assay.services import Actor, Platform
from assay.services.catalog import assignments, courses
from assay.services.catalog.packages import pack_directory
from assay.services.identity import accounts
from assay.services.intake import progress, submissions
from assay.services.intake.runs import EventProgress
from assay.storage.models import GradingRun, Role, RunStatus
from cluster_scale import ROOT, SECRET, admin_url, create_database, drop_database

WORKER = "bench-worker"
PACKAGE = ROOT / "examples" / "assignments" / "python-io"
Record = Callable[[Platform, int, Stage, str, int, int], None]


def seed(platform: Platform, runs: int) -> list[int]:
    """A course, an assignment and ``runs`` submissions whose runs run on WORKER."""
    admin = Actor.system()
    course = courses.create_course(platform, admin, "BENCH", "Event cost")
    assignment = assignments.create_assignment(
        platform, admin, course.id, pack_directory(PACKAGE), publish=True
    )
    files = load_submission(PACKAGE / "solution")
    run_ids = []
    for number in range(runs):
        user = accounts.create_user(platform, admin, f"s{number}", None)
        courses.enroll(platform, admin, course.id, f"s{number}", Role.STUDENT)
        student = Actor(user_id=user.id, username=f"s{number}")
        run_ids.append(submissions.submit(platform, student, assignment.id, files).run_id)
    with platform.db.session() as session:
        session.execute(
            update(GradingRun)
            .where(GradingRun.id.in_(run_ids))
            .values(status=RunStatus.RUNNING, worker_id=WORKER)
        )
    return run_ids


def record_now(  # noqa: PLR0917 - one stage, as the grading engine reports it
    platform: Platform, run_id: int, stage: Stage, detail: str, current: int, total: int
) -> None:
    EventProgress(platform, run_id, WORKER).stage(stage, detail, current, total)


def record_before(  # noqa: PLR0917 - one stage, as the grading engine reports it
    platform: Platform, run_id: int, stage: Stage, detail: str, current: int, total: int
) -> None:
    """The baseline: a locking read that the run runs here, then ``record_events``."""
    with platform.db.session() as session:
        running = session.scalar(
            select(GradingRun.id)
            .where(
                GradingRun.id == run_id,
                GradingRun.worker_id == WORKER,
                GradingRun.status == RunStatus.RUNNING,
            )
            .with_for_update()
        )
        if running is not None:
            progress.record_events(
                session, [progress.NewEvent(run_id, stage, detail, current, total)]
            )


def measure(
    platform: Platform, record: Record, run_ids: list[int], events: int
) -> tuple[float, float]:
    """CPU ms and wall ms of this process per event."""
    cpu, wall = time.process_time(), time.perf_counter()
    for run_id in run_ids:
        for number in range(events):
            record(platform, run_id, Stage.TESTING, f"test {number}", number + 1, events)
    count = len(run_ids) * events
    return (
        1000 * (time.process_time() - cpu) / count,
        1000 * (time.perf_counter() - wall) / count,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--events", type=int, default=8, help="stages per run and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres-url", default="", help="a role that may create databases")
    args = parser.parse_args(argv)
    if min(args.runs, args.events, args.rounds) < 1:
        parser.error("--runs, --events and --rounds must be at least 1")
    admin = admin_url(args.postgres_url)
    name, url = create_database(admin)
    try:
        with tempfile.TemporaryDirectory(prefix="assay-event-cost-") as state:
            settings = Settings(database_url=url, state_dir=Path(state), secret_key=SECRET)
            platform = Platform.open(settings, migrate=True)
            try:
                run_ids = seed(platform, args.runs)
                ways: dict[str, Record] = {"before": record_before, "now": record_now}
                for record in ways.values():  # warm: statement caches, pool
                    measure(platform, record, run_ids[:3], 2)
                results: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
                for _ in range(args.rounds):
                    for way, record in ways.items():
                        results[way].append(measure(platform, record, run_ids, args.events))
            finally:
                platform.close()
    finally:
        drop_database(admin, name)
    count = args.runs * args.events
    print(f"{count} stage events per round, {args.rounds} rounds; per event (median of rounds):")
    medians = {}
    for way, rounds in results.items():
        cpu = statistics.median(r[0] for r in rounds)
        wall = statistics.median(r[1] for r in rounds)
        medians[way] = (cpu, wall)
        print(f"  {way:>6}: {cpu:.3f} ms CPU  {wall:.3f} ms wall")
    (cpu_before, wall_before), (cpu_now, wall_now) = medians["before"], medians["now"]
    cpu_ratio, wall_ratio = cpu_before / cpu_now, wall_before / wall_now
    print(f"  ratio (before / now): CPU {cpu_ratio:.2f}x  wall {wall_ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
