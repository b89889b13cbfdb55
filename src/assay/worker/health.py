"""A worker's liveness file, for a container health check (workers serve no HTTP).

While an ``assay worker`` runs, its heartbeat thread rewrites a small JSON file
(``worker_health_file``; default ``STATE_DIR/health/worker-<host name>``) every
``worker_heartbeat_s``; before its pool starts (the sandbox check, waiting for the
schema) a starting thread does. ``assay worker --check`` reads it: exit 0 when the
file is younger than a few heartbeat intervals, else 1 with the reason. That is a
Docker ``HEALTHCHECK`` and a Kubernetes exec liveness probe.

It says the process's heartbeat loop turns, not that the database answers: a
database outage is reported in the file (``database_ok``) but does not fail the
check, since restarting every worker would not bring the database back (the
watchdogs hand the jobs of a worker that cannot heartbeat to others anyway).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from assay.config import Settings

# A check fails when the file is older than this many heartbeat intervals (at least
# MIN_MAX_AGE_S: a heartbeat that waits a few seconds for a busy database is alive).
MISSED_BEATS = 5
MIN_MAX_AGE_S = 10.0
MAX_READ_BYTES = 4096


def health_file(settings: Settings) -> Path:
    """Where this host's worker writes its liveness (one per host name: pods and
    containers that share a state volume each get their own)."""
    if settings.worker_health_file is not None:
        return settings.worker_health_file
    return settings.state_dir / "health" / f"worker-{socket.gethostname()}"


def max_age_s(settings: Settings) -> float:
    return max(MIN_MAX_AGE_S, MISSED_BEATS * settings.worker_heartbeat_s)


@dataclass(frozen=True)
class Health:
    state: str  # starting | running | draining
    pid: int
    worker_id: str = ""
    slots: int = 0
    busy: int = 0
    database_ok: bool = True
    detail: str = ""


def write(path: Path, health: Health) -> None:
    """Replace the file atomically (a reader never sees half of it); a failure to
    write is left to show as a stale file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{os.getpid()}")
        scratch.write_text(json.dumps(asdict(health)))
        scratch.replace(path)
    except OSError:
        pass  # the check then fails with the file's age: what a stuck writer shows too


def remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def check(path: Path, max_age: float, *, now: float | None = None) -> tuple[bool, str]:
    """(healthy, one line saying why)."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_READ_BYTES)
            modified = os.fstat(file.fileno()).st_mtime
    except FileNotFoundError:
        return False, f"{path} does not exist: no worker is running here (or it just started)"
    except OSError as exc:
        return False, f"cannot read {path}: {exc.strerror}"
    age = (time.time() if now is None else now) - modified
    try:
        data = json.loads(raw)
        state = _one_line(data.get("state", "?"), 40)
        summary = (
            f"{state}, pid {int(data.get('pid', 0))}, "
            f"{int(data.get('busy', 0))}/{int(data.get('slots', 0))} slots busy"
        )
        if data.get("database_ok") is False:
            detail = _one_line(data.get("detail", ""), 200)
            summary += f"; the database did not answer the last heartbeat: {detail}"
    except (ValueError, TypeError, AttributeError):
        # a worker replaces the file whole with its JSON (``write``): this one is not
        # a worker's, however fresh
        return False, f"{path} is not a worker's health file (its contents are not its JSON)"
    if age > max_age:
        return False, f"stale: last heartbeat {age:.0f} s ago (limit {max_age:.0f} s); {summary}"
    if -age > max_age:  # a worker's clock writes it now; a dead one's stays in the future
        return False, f"modified {-age:.0f} s in the future (limit {max_age:.0f} s); {summary}"
    return True, f"alive: last heartbeat {max(age, 0.0):.1f} s ago; {summary}"


def _one_line(value: object, limit: int) -> str:
    """A value of the file as printable text on one line (the check prints one)."""
    return "".join(c if c.isprintable() else " " for c in str(value)[:limit])
