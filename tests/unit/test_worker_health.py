"""The worker's health file and `assay worker --check` (a container health check)."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli.main import app
from assay.config import Settings, get_settings
from assay.worker import health


def test_a_fresh_file_is_healthy_and_a_stale_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "health" / "worker"
    health.write(path, health.Health(state="running", pid=42, slots=8, busy=3))
    ok, why = health.check(path, 10.0)
    assert ok, why
    assert "running, pid 42, 3/8 slots busy" in why
    old = time.time() - 30
    os.utime(path, (old, old))
    ok, why = health.check(path, 10.0)
    assert not ok
    assert why.startswith("stale: last heartbeat 30 s ago (limit 10 s)")


def test_a_missing_or_garbled_file(tmp_path: Path) -> None:
    ok, why = health.check(tmp_path / "nothing", 10.0)
    assert not ok
    assert "does not exist" in why
    garbled = tmp_path / "garbled"
    # a worker replaces the file whole with its JSON: anything else, however fresh, is
    # not a worker's heartbeat
    for garbage in (b"\xff" * 10_000, b"garbage\n", b"[1, 2]", b'{"pid": "x"}', b""):
        garbled.write_bytes(garbage)
        ok, why = health.check(garbled, 10.0)
        assert not ok, garbage
        assert why == f"{garbled} is not a worker's health file (its contents are not its JSON)"
    garbled.write_text(json.dumps({"state": "running", "pid": 3}))
    assert health.check(garbled, 10.0)[0]


def test_a_file_from_the_future_is_not_alive(tmp_path: Path) -> None:
    path = tmp_path / "w"
    health.write(path, health.Health(state="running", pid=1))
    soon = time.time() + 5  # a clock a little ahead: alive
    os.utime(path, (soon, soon))
    assert health.check(path, 10.0)[0]
    later = time.time() + 3600  # a dead worker's file left from before the clock went back
    os.utime(path, (later, later))
    ok, why = health.check(path, 10.0)
    assert not ok
    assert why.startswith("modified 3600 s in the future (limit 10 s)"), why


def test_what_the_file_says_is_printed_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "w"
    health.write(
        path,
        health.Health(state="run\nning\x1b[2J", pid=1, database_ok=False, detail="a\r\nb"),
    )
    ok, why = health.check(path, 10.0)
    assert ok
    assert why.isprintable(), why
    assert "run ning [2J" in why and "heartbeat: a  b" in why


def test_a_database_outage_is_reported_but_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "w"
    detail = "connection refused " * 50
    health.write(path, health.Health(state="running", pid=1, database_ok=False, detail=detail))
    ok, why = health.check(path, 10.0)
    assert ok
    assert "the database did not answer the last heartbeat: connection refused" in why
    assert len(why) < 400  # the detail is cut


def test_the_default_path_and_age(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, worker_heartbeat_s=2.0)
    assert health.health_file(settings) == tmp_path / "health" / f"worker-{socket.gethostname()}"
    assert health.max_age_s(settings) == health.MIN_MAX_AGE_S
    assert health.max_age_s(Settings(state_dir=tmp_path, worker_heartbeat_s=5.0)) == 25.0
    chosen = tmp_path / "elsewhere"
    assert health.health_file(Settings(state_dir=tmp_path, worker_health_file=chosen)) == chosen


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """get_settings() read anew from this test's environment, and again after it (it
    is cached: the rest of the session must not keep this test's state directory)."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("fresh_settings")
def test_the_check_command_exits_0_when_alive_and_1_when_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "worker.health"
    monkeypatch.setenv("ASSAY_WORKER_HEALTH_FILE", str(path))
    monkeypatch.setenv("ASSAY_STATE_DIR", str(tmp_path))
    runner = CliRunner()
    missing = runner.invoke(app, ["worker", "--check"])
    assert missing.exit_code == 1
    assert "does not exist" in missing.output
    path.write_text(json.dumps({"state": "draining", "pid": 7, "slots": 4, "busy": 1}))
    alive = runner.invoke(app, ["worker", "--check"])
    assert alive.exit_code == 0, alive.output
    assert "alive" in alive.output
    assert "draining, pid 7, 1/4 slots busy" in alive.output
    old = time.time() - 12
    os.utime(path, (old, old))
    assert runner.invoke(app, ["worker", "--check"]).exit_code == 1
    assert runner.invoke(app, ["worker", "--check", "--max-age", "60"]).exit_code == 0
