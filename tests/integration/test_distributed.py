"""Distributed mode: two `assay worker` processes share one PostgreSQL queue, one of
them in its own network namespace, reaching the database over a veth pair as a
worker on another machine would (no loopback, no shared socket)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from assay.services import Platform
from assay.storage.models import GradingRun
from helpers import require_backend
from platform_helpers import database_url, open_platform, settings_for
from worker_helpers import (
    assay_env,
    assert_exactly_once,
    make_course,
    start_assay,
    stop,
    submit_batch,
    wait_finished,
)

BATCH = 24


@dataclass(frozen=True)
class NetNs:
    name: str
    host_ip: str  # the host's end of the veth pair: where the database is reached
    ns_ip: str


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


@pytest.fixture
def netns() -> Iterator[NetNs]:
    if shutil.which("ip") is None or shutil.which("nsenter") is None:
        if os.environ.get("ASSAY_REQUIRE_POSTGRES") == "1":  # CI: never skip silently
            pytest.fail("iproute2 (ip) or util-linux (nsenter) is not installed")
        pytest.skip("iproute2 (ip) or util-linux (nsenter) is not installed")
    subnet = random.randint(1, 250)
    tag = f"{subnet}x{random.randint(0, 9999)}"
    ns = NetNs(f"assay-{tag}", f"10.77.{subnet}.1", f"10.77.{subnet}.2")
    host_if, ns_if = f"vah{tag}", f"van{tag}"
    sh("ip", "netns", "add", ns.name)
    try:
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        sh("ip", "link", "set", ns_if, "netns", ns.name)
        sh("ip", "addr", "add", f"{ns.host_ip}/24", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        sh("ip", "netns", "exec", ns.name, "ip", "addr", "add", f"{ns.ns_ip}/24", "dev", ns_if)
        sh("ip", "netns", "exec", ns.name, "ip", "link", "set", ns_if, "up")
        sh("ip", "netns", "exec", ns.name, "ip", "link", "set", "lo", "up")
        yield ns
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, check=False)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    require_backend("native", "python3")
    state = Path(tempfile.mkdtemp(prefix="assay-distributed-"))
    with database_url("postgres", tmp_path) as url:
        settings = settings_for(url, state, worker_poll_s=0.2, worker_slots=2)
        platform = open_platform(settings)
        try:
            yield platform
        finally:
            platform.close()
            shutil.rmtree(state, ignore_errors=True)


def remote_clients(platform: Platform, ip: str) -> int:
    """Database connections coming from ``ip`` (the namespaced worker's address)."""
    database = sa.make_url(platform.settings.resolved_database_url).database
    with platform.db.engine.connect() as connection:
        count = connection.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = :db AND host(client_addr) = :ip"
            ),
            {"db": database, "ip": ip},
        ).scalar_one()
    return int(count)


def test_two_workers_one_behind_a_veth_share_a_batch(
    platform: Platform, netns: NetNs, tmp_path: Path
) -> None:
    url = platform.settings.resolved_database_url
    remote_url = sa.make_url(url).set(host=netns.host_ip).render_as_string(hide_password=False)
    common = {
        "ASSAY_STATE_DIR": str(platform.settings.state_dir),
        "ASSAY_SECRET_KEY": platform.settings.secret_key,
        "ASSAY_WORKER_SLOTS": "2",
        "ASSAY_WORKER_POLL_S": "0.2",
        "ASSAY_WORKER_HEARTBEAT_S": "0.5",
    }
    local_env = assay_env({**common, "ASSAY_DATABASE_URL": url})
    remote_env = assay_env({**common, "ASSAY_DATABASE_URL": remote_url})
    course = make_course(platform)
    local = start_assay(["worker"], local_env, tmp_path / "local.log")
    remote = start_assay(["worker"], remote_env, tmp_path / "remote.log", netns=netns.name)
    try:
        deadline = time.monotonic() + 60
        while remote_clients(platform, netns.ns_ip) == 0:
            assert remote.poll() is None, (tmp_path / "remote.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the namespaced worker never connected"
            time.sleep(0.2)
        started = time.monotonic()
        expected = submit_batch(platform, course, BATCH)
        wait_finished(platform, list(expected), timeout_s=150)
        elapsed = time.monotonic() - started
    finally:
        stop(local, signal.SIGTERM)
        stop(remote, signal.SIGTERM)
    assert local.returncode == 0, (tmp_path / "local.log").read_text()[-3000:]
    assert remote.returncode == 0, (tmp_path / "remote.log").read_text()[-3000:]
    assert_exactly_once(platform, expected)
    with platform.db.session() as session:
        rows = session.execute(
            select(GradingRun.worker_id, func.count(GradingRun.id)).group_by(GradingRun.worker_id)
        ).all()
    by_pid = {str(worker).split(":")[1]: int(n) for worker, n in rows}
    assert by_pid.get(str(local.pid), 0) > 0, by_pid
    assert by_pid.get(str(remote_worker_pid(remote)), 0) > 0, by_pid
    print(f"\n{BATCH} submissions in {elapsed:.1f} s; graded per worker pid: {by_pid}")


def remote_worker_pid(process: subprocess.Popen[bytes]) -> int:
    """nsenter execs the command, so the worker keeps the process's pid."""
    return process.pid
