"""What one worker's claim costs the database as the queue deepens, on real PostgreSQL.

A worker with 8 free slots calls ``JobQueue.claim_many(worker, 8)``. Measured here at
queue depths of ``--depths`` jobs (spread over ``--courses`` courses, a tenth of them
without a course, with ``--running`` jobs running), each the median and p99 of
``--rounds`` claims (the claimed jobs are put back between rounds, outside the timing,
so the depth stays put), against a baseline measured in the same run: the statement
the queue used before (every queued job joined to its course's running count and
sorted, once per job claimed, up to 8 times per transaction).

    .venv/bin/python bench/claim_cost.py                  # depths 100, 1000, 8000
    .venv/bin/python bench/claim_cost.py --depths 100,20000 --rounds 200

The database is made for the run on the server ``--postgres-url`` names (default:
``$ASSAY_BENCH_POSTGRES_URL``, else what ``scripts/postgres.sh`` prints) and dropped.
Figures: docs/performance.md ("Cluster scale").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import Update, and_, bindparam, func, or_, select, update

from assay.queue import JobQueue
from assay.storage.db import Database
from assay.storage.models import Job, JobKind, JobStatus, Lane, utcnow
from cluster_scale import admin_url, create_database, drop_database

SLOTS = 8


def sort_all_statement() -> Update:
    """The baseline: the claim statement before ``queue/claims.py`` (one job)."""
    busy = (
        select(Job.course_id, func.count(Job.id).label("n"))
        .where(Job.status == JobStatus.RUNNING)
        .group_by(Job.course_id)
        .subquery()
    )
    candidate = (
        select(Job.id)
        .outerjoin(
            busy,
            or_(
                busy.c.course_id == Job.course_id,
                and_(busy.c.course_id.is_(None), Job.course_id.is_(None)),
            ),
        )
        .where(Job.status == JobStatus.QUEUED, Job.lane == Lane.INTERACTIVE)
        .order_by(func.coalesce(busy.c.n, 0), Job.created_at, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=Job)
        .scalar_subquery()
    )
    return (
        update(Job)
        .where(Job.id == candidate, Job.status == JobStatus.QUEUED)
        .values(
            status=JobStatus.RUNNING,
            worker_id=bindparam("claimer"),
            attempts=Job.attempts + 1,
            started_at=bindparam("claimed_at"),
            lease_expires_at=bindparam("lease_until"),
        )
        .returning(Job.id)
    )


def fill(db: Database, depth: int, courses: int, running: int) -> None:
    """Replace the jobs with ``depth`` queued and ``running`` running ones."""
    start = utcnow() - timedelta(hours=1)
    rows = [
        {
            "kind": JobKind.GRADE,
            "lane": Lane.INTERACTIVE,
            "target_id": n,
            "course_id": None if n % 10 == 0 else 1 + n % courses,
            "status": JobStatus.RUNNING if n < running else JobStatus.QUEUED,
            "attempts": 0,
            "max_attempts": 3,
            "worker_id": "other" if n < running else None,
            "created_at": start + timedelta(milliseconds=n),
            "error": "",
        }
        for n in range(depth + running)
    ]
    with db.session() as session:
        session.execute(sa.delete(Job))
        session.execute(sa.insert(Job), rows)
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "VACUUM ANALYZE jobs"
        )


def put_back(db: Database) -> None:
    with db.session() as session:
        session.execute(
            update(Job)
            .where(Job.worker_id == "bench")
            .values(status=JobStatus.QUEUED, worker_id=None, attempts=0, lease_expires_at=None)
        )


def time_claims(db: Database, claim: Callable[[], int], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        got = claim()
        times.append(time.perf_counter() - began)
        assert got == SLOTS, f"claimed {got} of {SLOTS}"
        put_back(db)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", default="100,1000,8000")
    parser.add_argument("--courses", type=int, default=5)
    parser.add_argument("--running", type=int, default=400, help="jobs running (50 x 8 slots)")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--postgres-url", default="")
    args = parser.parse_args(argv)
    depths = [int(d) for d in args.depths.split(",")]
    admin = admin_url(args.postgres_url)
    name, url = create_database(admin)
    db = Database(url)
    try:
        db.migrate()
        queue = JobQueue(db)
        baseline = sort_all_statement()

        def claim_now() -> int:
            return len(queue.claim_many("bench", SLOTS))

        def claim_before() -> int:
            now = utcnow()
            params = {"claimer": "bench", "claimed_at": now, "lease_until": now + queue.lease}
            with db.session() as session:
                return sum(
                    session.execute(baseline, params).first() is not None for _ in range(SLOTS)
                )

        print(f"claim_many({SLOTS}) on PostgreSQL, {args.courses} courses, {args.running} running,"
              f" {args.rounds} rounds per figure (ms: median / p99)")  # fmt: skip
        print(f"{'queued':>8} {'sort-all (before)':>20} {'claims.py (now)':>20} {'ratio':>8}")
        for depth in depths:
            fill(db, depth, args.courses, args.running)
            figures = []
            for claim in (claim_before, claim_now):
                time_claims(db, claim, 5)  # warm the statement caches
                times = sorted(time_claims(db, claim, args.rounds))
                p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
                figures.append((statistics.median(times) * 1000, p99 * 1000))
            (before, before_p99), (now, now_p99) = figures
            print(f"{depth:>8} {before:>9.2f} / {before_p99:>7.2f} {now:>9.2f} / {now_p99:>7.2f}"
                  f" {before / now:>7.1f}x")  # fmt: skip
    finally:
        db.dispose()
        drop_database(admin, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
