"""Health and readiness: what a load balancer and an operator ask of a server.

Liveness needs nothing from here (the process answers). Readiness means this
server can do its job now: the database answers, its schema is the one this code
expects, a tiny write transaction commits within ``WRITE_PROBE_TIMEOUT_S`` (not
busy beyond that, not full, not read-only), a small file can be written in the
state directory, and, when work is expected to be done (an embedded worker pool, or
``ready_min_workers`` set for a distributed deployment), enough workers are alive.

Why workers are not required by default in distributed mode: submissions are
queued durably, so a web server without live workers still serves students
(results, uploads that wait); taking every web server out of the balancer because
the workers are down would turn a delay into an outage. Alert on
``assay_workers_alive`` instead, or set ``ready_min_workers`` if you prefer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from assay.config import Settings
from assay.errors import StorageError, StorageUnavailableError
from assay.services.platform import Platform
from assay.storage.db import SchemaState
from assay.storage.models import Worker, WorkerState, utcnow
from assay.storage.statedir import probe_writable

WRITE_PROBE_TIMEOUT_S = 2.0  # longest a readiness check waits for the write lock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSummary:
    alive: int
    lost: int  # still marked running, but silent for longer than the lease
    slots: int
    busy: int


def worker_summary(
    session: Session, settings: Settings, now: datetime | None = None
) -> WorkerSummary:
    """Workers by their heartbeats: alive if heard of within the lease."""
    cutoff = (now or utcnow()) - timedelta(seconds=settings.worker_lease_s)
    alive, slots, busy = session.execute(
        select(
            func.count(Worker.id), func.coalesce(func.sum(Worker.slots), 0),
            func.coalesce(func.sum(Worker.busy), 0),
        ).where(Worker.state == WorkerState.RUNNING, Worker.heartbeat_at >= cutoff)
    ).one()  # fmt: skip
    lost = session.scalar(
        select(func.count(Worker.id)).where(
            Worker.state == WorkerState.RUNNING, Worker.heartbeat_at < cutoff
        )
    )
    return WorkerSummary(alive=int(alive), lost=int(lost or 0), slots=int(slots), busy=int(busy))


class Check(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, Check]

    @property
    def reasons(self) -> list[str]:
        return [f"{name}: {check.detail}" for name, check in self.checks.items() if not check.ok]


SCHEMA_CHECKS = {
    SchemaState.CURRENT: Check(ok=True, detail="at the newest migration"),
    # a rolling upgrade: a newer release migrated it (migrations only add)
    SchemaState.AHEAD: Check(ok=True, detail="at a newer migration than this server knows"),
    SchemaState.BEHIND: Check(
        ok=False, detail="not at the newest migration: run `assay db migrate` or `assay serve`"
    ),
}


def readiness(platform: Platform, *, min_workers: int = 0) -> Readiness:
    """Check the database, its schema and (``min_workers`` > 0) the live workers."""
    checks: dict[str, Check] = {}
    try:
        with platform.db.reading() as session:
            session.execute(text("SELECT 1"))
            checks["database"] = Check(ok=True, detail=platform.db.engine.dialect.name)
            summary = worker_summary(session, platform.settings)
    except (OSError, StorageError) as exc:
        # anyone may ask /readyz: the driver's text (host, user, paths) goes to the log only
        log.warning("readiness: the database is unreachable", exc_info=exc)
        detail = exc.message if isinstance(exc, StorageUnavailableError) else _cause_name(exc)
        checks["database"] = Check(ok=False, detail=f"unreachable: {detail} (see the server log)")
        return Readiness(ready=False, checks=checks)
    try:
        state = platform.db.schema_state()
    except StorageError as exc:
        log.warning("readiness: cannot read the schema version", exc_info=exc)
        checks["schema"] = Check(
            ok=False, detail=f"cannot read the schema version: {_cause_name(exc)}"
        )
    else:
        checks["schema"] = SCHEMA_CHECKS[state]
    checks.update(writable(platform))
    workers = f"{summary.alive} alive ({summary.busy}/{summary.slots} slots busy)"
    if min_workers > 0 and summary.alive < min_workers:
        checks["workers"] = Check(ok=False, detail=f"{workers}; {min_workers} expected")
    else:
        checks["workers"] = Check(ok=True, detail=workers)
    return Readiness(ready=all(c.ok for c in checks.values()), checks=checks)


def _cause_name(exc: Exception) -> str:
    """What failed, by class name only: the driver's, for a storage error that wraps
    one (its text may name hosts, users and paths)."""
    cause = exc.__cause__ if isinstance(exc, StorageError) else None
    return type(cause or exc).__name__


def writable(platform: Platform) -> dict[str, Check]:
    """Whether the database and the state directory can be written now."""
    checks: dict[str, Check] = {}
    try:
        platform.db.probe_write(WRITE_PROBE_TIMEOUT_S)
    except StorageError as exc:
        checks["database_writes"] = Check(ok=False, detail=exc.message)
    else:
        checks["database_writes"] = Check(ok=True, detail="a test write committed")
    try:
        probe_writable(Path(platform.settings.state_dir))
    except StorageUnavailableError as exc:
        checks["state_dir"] = Check(ok=False, detail=exc.message)
    else:
        checks["state_dir"] = Check(ok=True, detail="writable")
    return checks
