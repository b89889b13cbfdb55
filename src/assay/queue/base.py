"""What a job queue offers its users (workers, the watchdog, producers, pages).

``JobQueue`` (``jobs.py``) keeps jobs as database rows; ``InMemoryJobQueue``
(``memory.py``) keeps them in a list, for fast unit tests of the queue's users
(procrastinate's habit: a real in-memory implementation, not a mock). One contract
suite (tests/integration/test_queue_contract.py) runs the same assertions against both,
so the in-memory one cannot drift from the real one.

Methods taking a ``session`` act inside the caller's transaction on the database
queue; the in-memory queue ignores it (its changes take effect at once).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from assay.storage.models import Job, JobKind, Lane


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: JobKind
    lane: Lane
    target_id: int
    attempt: int
    max_attempts: int


# Runs inside the claiming transaction; returns the claimed jobs that are still to run.
ClaimHook = Callable[[Session, list[ClaimedJob]], list[ClaimedJob]]


def take_by_lane(
    limit: int,
    bulk_limit: int | None,
    take: Callable[[Lane, int], list[ClaimedJob]],
    waiting: Mapping[Lane, int] | None = None,
) -> list[ClaimedJob]:
    """Up to ``limit`` jobs, interactive ones first, at most ``bulk_limit`` bulk ones.

    ``take(lane, room)`` claims up to ``room`` jobs of the lane, or none when it has
    none left (fewer than ``room`` means it is asked again for the rest); ``waiting``
    (jobs seen queued per lane) spares the calls for jobs not there.
    """
    bulk_room = limit if bulk_limit is None else min(limit, bulk_limit)
    claimed: list[ClaimedJob] = []
    for lane in (Lane.INTERACTIVE, Lane.BULK):
        room = limit - len(claimed)
        if lane is Lane.BULK:
            room = min(room, bulk_room)
        if waiting is not None:
            room = min(room, waiting.get(lane, 0))
        while room > 0:
            jobs = take(lane, room)
            if not jobs:
                break
            claimed += jobs
            room -= len(jobs)
    return claimed


class Wakeup:
    """A queue's in-process wake-up: producers ``notify`` after committing a job, idle
    workers ``wait`` for the next notification (both queues inherit it)."""

    def __init__(self) -> None:
        self._wakeup = threading.Condition()
        self._generation = 0

    def notify(self) -> None:
        """Wake this process's idle workers (a job was committed)."""
        with self._wakeup:
            self._generation += 1
            self._wakeup.notify_all()

    def generation(self) -> int:
        """A counter of ``notify`` calls; pass it to ``wait`` to miss none."""
        with self._wakeup:
            return self._generation

    def wait(self, seen: int, timeout_s: float) -> None:
        """Sleep up to ``timeout_s`` unless ``notify`` was called since ``seen``."""
        with self._wakeup:
            self._wakeup.wait_for(lambda: self._generation != seen, timeout=timeout_s)


class JobQueueProtocol(Protocol):
    """The queue's interface (see ``jobs.JobQueue`` for what each method promises)."""

    lease: timedelta  # how long a claim or a heartbeat keeps a job its worker's

    def notify(self) -> None: ...

    def generation(self) -> int: ...

    def wait(self, seen: int, timeout_s: float) -> None: ...

    def enqueue(
        self,
        session: Session,
        kind: JobKind,
        target_id: int,
        *,
        lane: Lane = Lane.INTERACTIVE,
        course_id: int | None = None,
        dedupe_key: str | None = None,
    ) -> tuple[Job, list[int]]: ...

    def claim(self, worker_id: str, *, allow_bulk: bool = True) -> ClaimedJob | None: ...

    def claim_many(
        self,
        worker_id: str,
        limit: int,
        *,
        bulk_limit: int | None = None,
        on_claimed: ClaimHook | None = None,
    ) -> list[ClaimedJob]: ...

    def extend_leases(self, worker_id: str, job_ids: list[int]) -> None: ...

    def finish(self, session: Session, job_id: int, worker_id: str, *, error: str = "") -> bool: ...

    def release(self, job_id: int, worker_id: str, *, error: str) -> bool: ...

    def hand_back(self, session: Session, job_id: int, worker_id: str) -> bool: ...

    def requeue_expired(self, now: datetime | None = None) -> list[int]: ...

    def expired_out_of_attempts(
        self, session: Session, now: datetime | None = None
    ) -> list[Job]: ...

    def depth(self, session: Session) -> dict[str, int]: ...
