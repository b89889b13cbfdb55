"""Distribution of environments to workers (issue 15 item 4), for real: PostgreSQL, the
native sandbox, an `assay worker` process with an EMPTY environments store.

The test process builds (or finds in the machine's shared store) a package's own
environment, python3 plus Debian's jq, and publishes it with python3 (which the
worker's sandbox self-check runs in) to the database. The worker then grades a
submission in an environment it has never seen: it fetches both trees from the
database, checks them, caches them in its store, grades correctly, and the run's
events and the worker's log report the cold start.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from assay.grading.loader import load_package
from assay.grading.submission import load_submission
from assay.sandbox.backends import get_backend
from assay.sandbox.environments import get_environment
from assay.sandbox.envs.plan import BuildPlan
from assay.services import Actor, Platform
from assay.services.catalog import assignments, courses, environments
from assay.services.catalog.packages import pack_directory
from assay.services.identity import accounts
from assay.services.intake import submissions
from assay.storage.models import GradingRun, Role, RunEvent
from helpers import require_backend
from platform_helpers import database_url, open_platform, settings_for
from worker_helpers import assay_env, run_statuses, start_assay, stop

pytestmark = [pytest.mark.slow, pytest.mark.envbuild]

ASSIGNMENT = """\
[assignment]
name = "jq-plus-one"

[environment]
name = "python3-jq"
base = "python3"
apt = ["jq"]
probe = "jq --version"

[build]
required_files = ["run.sh"]

[run]
command = ["sh", "run.sh"]

[[tests]]
name = "adds one"
stdin = '{"a": 41}'
expected = "42\\n"

[[tests]]
name = "adds one again"
stdin = '{"a": -1}'
expected = "0\\n"
"""


def _package(root: Path) -> Path:
    (root / "solution").mkdir(parents=True)
    (root / "assignment.toml").write_text(ASSIGNMENT)
    (root / "solution" / "run.sh").write_text("jq '.a + 1'\n")
    return root


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    require_backend("native", "python3")
    state = Path(tempfile.mkdtemp(prefix="assay-envdist-"))
    with database_url("postgres", tmp_path) as url:
        platform = open_platform(settings_for(url, state, worker_poll_s=0.2, worker_slots=2))
        try:
            yield platform
        finally:
            platform.close()
            shutil.rmtree(state, ignore_errors=True)


def _publish(platform: Platform, plan: BuildPlan) -> environments.ArchiveInfo:
    """Built (or found) in this machine's shared store, then published."""
    provider = get_backend("native").environment_provider
    assert provider is not None
    provider.rootfs(plan)
    started = time.monotonic()
    assert environments.publish(platform.db, provider.store, plan.key) is not None
    info = environments.published(platform.db, plan.key)
    assert info is not None
    print(
        f"published {plan.name}: tree {info.tree_bytes / 2**20:.1f} MiB, archive "
        f"{info.size_bytes / 2**20:.1f} MiB in {info.chunks} chunks, "
        f"{time.monotonic() - started:.1f} s"
    )
    return info


def test_a_worker_with_an_empty_store_fetches_an_environment_it_never_saw(
    platform: Platform, tmp_path: Path
) -> None:
    root = _package(tmp_path / "package")
    with load_package(root) as package:
        environment = package.environment
    python3 = get_environment("python3")
    for plan in (python3.plan, environment.plan):
        _publish(platform, plan)

    admin = Actor.system()
    course = courses.create_course(platform, admin, "ENV1", "Environments")
    user = accounts.create_user(platform, admin, "student", None)
    courses.enroll(platform, admin, course.id, "student", Role.STUDENT)
    created = assignments.create_assignment(
        platform, admin, course.id, pack_directory(root), publish=True
    )
    # in the state directory: the sandbox user must reach the trees (tmp_path is 0700)
    empty_store = platform.settings.state_dir / "worker-environments"
    env = assay_env(
        {
            "ASSAY_DATABASE_URL": platform.settings.resolved_database_url,
            "ASSAY_STATE_DIR": str(platform.settings.state_dir),
            "ASSAY_ENVIRONMENTS_DIR": str(empty_store),
            "ASSAY_SECRET_KEY": platform.settings.secret_key,
            "ASSAY_WORKER_SLOTS": "2",
            "ASSAY_WORKER_POLL_S": "0.2",
        }
    )
    log_path = tmp_path / "worker.log"
    worker = start_assay(["worker"], env, log_path)
    try:
        student = Actor(user_id=user.id, username="student")
        files = load_submission(root / "solution")
        run_id = submissions.submit(platform, student, created.id, files).run_id
        deadline = time.monotonic() + 240
        while run_statuses(platform, [run_id])[run_id] in ("queued", "running"):
            assert worker.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
    finally:
        stop(worker)
    log = log_path.read_text()
    with platform.db.reading() as session:
        run = session.get(GradingRun, run_id)
        assert run is not None
        details = list(
            session.scalars(
                select(RunEvent.detail).where(RunEvent.run_id == run_id).order_by(RunEvent.id)
            )
        )
        assert (run.status, run.score, run.max_score) == ("graded", 2.0, 2.0), (run.error, log)
        # counted for /metrics: one fetch each (the self-check's python3, the run's tree)
        counted = environments.summary(session).fetches
        assert (counted["python3"], counted["python3-jq"]) == (1, 1), counted
    fetched = [d for d in details if d.startswith("environment python3-jq fetched from")]
    assert len(fetched) == 1, details
    seconds = float(re.findall(r"in ([0-9.]+) s", fetched[0])[0])
    print(f"worker cold start: {fetched[0]} ({seconds} s)")
    # both trees cached in the worker's store, never built there (no base was needed)
    for key in (python3.key, environment.key):
        assert (empty_store / key / "rootfs" / "usr" / "bin" / "python3").exists()
        assert "cold start, fetched" in log
    assert (empty_store / environment.key / "rootfs" / "usr" / "bin" / "jq").exists()
    assert "cold start, built" not in log, log
    assert re.search(r"environment python3-jq \(\w+\): cold start, fetched in", log), log
