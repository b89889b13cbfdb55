"""Lines logged while a worker runs a job carry the job's id, kind and target."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.errors import SandboxError
from assay.logs import JsonFormatter
from assay.queue import ClaimedJob
from assay.services import Platform
from assay.services.intake import workers
from assay.storage.models import JobKind
from assay.worker.pool import WorkerPool
from platform_helpers import database_url, open_platform, settings_for

handler_log = logging.getLogger("assay.tests.handler")
ATTEMPTS = threading.Semaphore(0)


def logging_handler(platform: Platform, job: ClaimedJob, worker_id: str) -> None:
    handler_log.warning("grading something")
    if job.attempt == 1:
        ATTEMPTS.release()
        raise SandboxError("the sandbox is broken")  # the pool logs the failure, then retries
    with platform.db.session() as session:
        platform.queue.finish(session, job.id, worker_id)
    ATTEMPTS.release()


class JsonLines(logging.Handler):
    """Formats each record at emit time (the context lives in the emitting thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def captured() -> Iterator[JsonLines]:
    lines = JsonLines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(lines)
    root.setLevel(logging.INFO)
    yield lines
    root.removeHandler(lines)
    root.setLevel(level)


def test_lines_logged_during_a_job_carry_its_context(
    tmp_path: Path, captured: JsonLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    handlers = workers.Handlers(run=logging_handler, fail=workers.HANDLERS[JobKind.GRADE].fail)
    monkeypatch.setitem(workers.HANDLERS, JobKind.GRADE, handlers)
    with database_url("sqlite", tmp_path) as url:
        platform = open_platform(settings_for(url, tmp_path / "state", worker_poll_s=0.1))
        try:
            with platform.db.session() as session:
                job, _ = platform.queue.enqueue(session, JobKind.GRADE, 4242)
                job_id = job.id
            with WorkerPool(platform, slots=1):
                assert ATTEMPTS.acquire(timeout=30) and ATTEMPTS.acquire(timeout=30)
        finally:
            platform.close()
    context = {"job_id": job_id, "kind": "grade", "target_id": 4242}
    mine = [line for line in captured.lines if line["logger"] == handler_log.name]
    assert len(mine) == 2  # both attempts
    assert all(line.items() >= context.items() for line in mine), mine
    failed = [line for line in captured.lines if "attempt 1 failed" in str(line["message"])]
    assert len(failed) == 1
    assert failed[0].items() >= context.items()
    # outside a job (the pool starting and stopping) nothing carries a job id
    assert any("job_id" not in line for line in captured.lines)
