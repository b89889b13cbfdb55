"""Test support for the platform: databases (SQLite and PostgreSQL) and live servers.

PostgreSQL: set ASSAY_TEST_POSTGRES_URL to a role that may create databases
(`scripts/postgres.sh` makes one and prints the URL); each test gets a database
of its own, dropped afterwards. Without the variable the PostgreSQL variants are
skipped with that reason, unless ASSAY_REQUIRE_POSTGRES=1 (CI), which fails them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from assay.config import Settings
from assay.sandbox.backends import BACKENDS, get_backend
from assay.services import Platform
from assay.web.app import create_app

DATABASE_KINDS = ("sqlite", "postgres")


def postgres_admin_url() -> str:
    url = os.environ.get("ASSAY_TEST_POSTGRES_URL", "")
    if not url and os.environ.get("ASSAY_REQUIRE_POSTGRES") == "1":
        pytest.fail("ASSAY_REQUIRE_POSTGRES=1 but ASSAY_TEST_POSTGRES_URL is not set")
    if not url:
        pytest.skip("PostgreSQL not configured (run scripts/postgres.sh; ASSAY_TEST_POSTGRES_URL)")
    return url


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of ``kind``; dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'assay.db'}"
        return
    admin_url = postgres_admin_url()
    name = f"assay_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            _drop_database(admin, name)
        finally:
            admin.dispose()


def _drop_database(admin: sa.Engine, name: str) -> None:
    """Drop a test database, ending its connections (an autovacuum worker may still be
    in it for a moment: FORCE may then be refused; wait and try again)."""
    for attempt in range(20):
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except sa.exc.DBAPIError:
            if attempt == 19:
                raise
            time.sleep(0.25)
        else:
            return


def settings_for(url: str, state_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": url,
        "state_dir": state_dir,
        "secret_key": "test-secret-key-0123456789",
        "worker_heartbeat_s": 0.5,
        "worker_lease_s": 5.0,
        "git_allow_local": True,  # the git tests' remotes are local bare repositories
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@contextmanager
def platform_on(kind: str, tmp_path: Path, **overrides: object) -> Iterator[Platform]:
    """A platform on a fresh database of ``kind`` (``settings_for``'s settings with
    ``overrides``), closed and its database dropped afterwards."""
    with database_url(kind, tmp_path) as url:
        platform = open_platform(settings_for(url, tmp_path / "state", **overrides))
        try:
            yield platform
        finally:
            platform.close()


def open_platform(settings: Settings, *, migrate: bool = True) -> Platform:
    """``Platform.open`` handing in the test process's shared backend.

    A platform makes its own backend from its settings (as ``assay serve`` and
    ``assay worker`` do, which the CLI tests run); here every test platform shares
    the process's one instead, so that tests do not each build a launcher and park
    ready sandboxes under a temporary state directory the sandbox user cannot reach.
    An unknown ``grading_backend`` is left to the platform (it raises on first use).
    """
    name = settings.grading_backend
    backend = get_backend(name) if name in BACKENDS else None
    return Platform.open(settings, migrate=migrate, backend=backend)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def read_until_serving(proc: subprocess.Popen[str]) -> list[str]:
    """What ``assay serve`` printed, up to its "Assay is serving at" line."""
    assert proc.stdout is not None
    lines: list[str] = []
    while not (lines and lines[-1].startswith("Assay is serving at")):
        line = proc.stdout.readline()
        assert line, f"assay serve ended early: {lines}"
        lines.append(line.rstrip("\n"))
    return lines


def readyz_status(base: str, timeout_s: float = 30) -> int:
    """``GET base/readyz`` until it answers 200 or ``timeout_s`` passed: its last
    status (0: no answer)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            status = httpx.get(f"{base}/readyz", timeout=5).status_code
        except httpx.TransportError:
            status = 0
        if status == 200 or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


class LiveServer:
    """The real app served by uvicorn on a loopback port, in a thread of the test."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(platform)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
