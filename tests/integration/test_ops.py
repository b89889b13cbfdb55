"""/healthz, /readyz and /metrics over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, text

from assay.services import Actor, Platform
from assay.services.catalog import assignments, courses, packages
from assay.services.identity import accounts
from assay.services.intake import submissions
from assay.services.intake.submissions import files_from_mapping
from assay.storage.models import GradingRun, Role, RunStatus
from assay.worker.pool import WorkerPool
from helpers import require_backend
from platform_helpers import DATABASE_KINDS, LiveServer, database_url, open_platform, settings_for

EXAMPLE = Path(__file__).parents[2] / "examples" / "assignments" / "python-io"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(params=DATABASE_KINDS)
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    with database_url(request.param, tmp_path) as url:
        platform = open_platform(settings_for(url, tmp_path / "state", worker_poll_s=0.2))
        yield platform
        platform.close()


def scrape(url: str) -> Samples:
    response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def set_embedded_workers(server: LiveServer, slots: int) -> None:
    """What `assay serve` tells the app about the worker pool it runs."""
    app = server.server.config.app
    assert isinstance(app, FastAPI)
    app.state.embedded_workers = slots


def test_healthz_answers_and_carries_a_request_id(platform: Platform) -> None:
    with LiveServer(platform) as server:
        first = httpx.get(f"{server.url}/healthz")
        second = httpx.get(f"{server.url}/healthz", headers={"X-Request-ID": "lb-check.42"})
        forged = httpx.get(f"{server.url}/healthz", headers={"X-Request-ID": 'a b="forged"'})
    assert first.status_code == 200
    assert first.json() == {"status": "ok"}
    assert len(first.headers["x-request-id"]) == 32
    assert second.headers["x-request-id"] == "lb-check.42"  # a proxy's id is kept
    assert forged.headers["x-request-id"] != 'a b="forged"'  # not a header to log as is


def test_readyz_checks_database_schema_and_expected_workers(platform: Platform) -> None:
    with LiveServer(platform) as server:
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["ready"] is True
        assert set(body["checks"]) == {
            "database",
            "schema",
            "database_writes",
            "state_dir",
            "workers",
        }

        # An embedded pool is expected (as `assay serve` says) but none runs: not ready.
        set_embedded_workers(server, 2)
        missing = httpx.get(f"{server.url}/readyz")
        assert missing.status_code == 503
        assert missing.json()["reasons"] == ["workers: 0 alive (0/0 slots busy); 1 expected"]
        with WorkerPool(platform, slots=2):
            deadline = time.monotonic() + 10
            while (alive := httpx.get(f"{server.url}/readyz")).status_code != 200:
                assert time.monotonic() < deadline, alive.text
                time.sleep(0.1)
            assert "1 alive" in alive.json()["checks"]["workers"]["detail"]
        after = httpx.get(f"{server.url}/readyz")  # a stopped pool is not a live worker
        assert after.status_code == 503
        set_embedded_workers(server, 0)

        # A newer release migrated it (a rolling upgrade): this server still serves.
        with platform.db.session() as session:
            session.execute(text("UPDATE alembic_version SET version_num = '9999_newer'"))
        newer = httpx.get(f"{server.url}/readyz")
        assert newer.status_code == 200, newer.text
        assert newer.json()["checks"]["schema"]["detail"] == (
            "at a newer migration than this server knows"
        )
        with platform.db.session() as session:
            session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        stale = httpx.get(f"{server.url}/readyz")
    assert stale.status_code == 503
    assert stale.json()["checks"]["schema"]["ok"] is False


def test_readyz_and_metrics_when_the_database_is_unreachable(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody:nothing@127.0.0.1:9/none?connect_timeout=2"
    platform = open_platform(settings_for(url, tmp_path), migrate=False)
    try:
        with LiveServer(platform) as server:
            ready = httpx.get(f"{server.url}/readyz", timeout=30)
            samples = scrape(server.url)
            health = httpx.get(f"{server.url}/healthz")
    finally:
        platform.close()
    assert ready.status_code == 503
    assert ready.json()["reasons"][0].startswith("database: unreachable")
    # anyone may ask: the driver's words (host, port, user) stay in the server's log
    for secret in ("127.0.0.1", "nobody", ":9", "connect"):
        assert secret not in ready.text, ready.text
    assert value(samples, "assay_database_up") == 0
    assert health.status_code == 200  # alive, only not ready


def _python_io_setup(platform: Platform) -> tuple[list[Actor], int]:
    """Two students (a resubmission would cancel the first one's queued run)."""
    system = Actor.system()
    course = courses.create_course(platform, system, "ops101", "Ops")
    students = []
    for name in ("stu1", "stu2"):
        accounts.create_user(platform, system, name, "password123")
        courses.enroll(platform, system, course.id, name, Role.STUDENT)
        students.append(accounts.authenticate(platform, name, "password123"))
    assignment = assignments.create_assignment(
        platform, system, course.id, packages.pack_directory(EXAMPLE), publish=True
    )
    return students, assignment.id


def _files(directory: Path) -> dict[str, bytes | str]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def test_metrics_follow_a_submission_through_the_queue(platform: Platform) -> None:
    require_backend("native", "python3")
    students, assignment_id = _python_io_setup(platform)
    with LiveServer(platform) as server:
        before = scrape(server.url)
        for student, name in zip(students, ("solution", "bad/wrong-answer"), strict=True):
            submissions.submit(
                platform, student, assignment_id, files_from_mapping(_files(EXAMPLE / name))
            )
        queued = scrape(server.url)
        with WorkerPool(platform, slots=2) as pool:
            deadline = time.monotonic() + 60
            while True:
                with platform.db.session() as session:
                    statuses = list(session.scalars(select(GradingRun.status)))
                if all(s == RunStatus.GRADED for s in statuses):
                    break
                assert time.monotonic() < deadline, statuses
                time.sleep(0.2)
            during = scrape(server.url)
            assert pool.worker_id
        after = scrape(server.url)
        again = scrape(server.url)

    assert value(before, "assay_queue_depth", lane="interactive") == 0
    assert value(before, "assay_grading_runs_finished_total", status="graded") == 0
    assert value(queued, "assay_queue_depth", lane="interactive") == 2
    assert value(queued, "assay_grading_runs", status="queued") == 2
    assert value(queued, "assay_queue_oldest_age_seconds", lane="interactive") > 0

    assert value(during, "assay_workers_alive") == 1
    assert value(during, "assay_worker_slots") == 2
    assert value(after, "assay_workers_alive") == 0  # stopped cleanly

    assert value(after, "assay_queue_depth", lane="interactive") == 0
    assert value(after, "assay_grading_runs", status="graded") == 2
    assert value(after, "assay_grading_runs_finished_total", status="graded") == 2
    # python-io: ten tests; the solution passes all, the wrong answer fails three.
    assert value(after, "assay_test_verdicts_total", verdict="passed") == 17
    assert value(after, "assay_test_verdicts_total", verdict="failed") == 3
    assert value(after, "assay_job_duration_seconds_count", kind="grade", outcome="done") == 2
    assert value(after, "assay_job_duration_seconds_sum", kind="grade", outcome="done") > 0
    assert value(after, "assay_job_queue_wait_seconds_count", kind="grade", lane="interactive") == 2
    # Each run is read once: another scrape does not count it again.
    assert value(again, "assay_test_verdicts_total", verdict="passed") == 17
    assert value(again, "assay_job_duration_seconds_count", kind="grade", outcome="done") == 2
    # A scrape counts the requests answered before it: before, queued, during, after.
    scrapes = value(
        again, "assay_http_requests_total", method="GET", route="/metrics", status="200"
    )
    assert scrapes == 4
