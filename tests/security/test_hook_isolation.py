"""A hostile TA's grader.py: uploaded over HTTP, it runs nowhere in the server, and at
grading, in its own sandbox, it reaches none of the platform's files, secrets, database,
processes or network, while grading still works (native backend, real workers)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from api_helpers import Api, seeded_api, tar_of, wait_done
from assay.worker.pool import WorkerPool
from helpers import require_backend

CANARY = "canary-9f3c1e-not-for-hooks"

GRADER = """
import os, socket
from pathlib import Path
from assay.grading.hooks import run_student, test

# Runs when grader.py is imported: it must never be imported by the server (where
# this path exists); in the hook sandbox it does not.
try:
    Path({marker!r}).write_text("grader.py ran here")
except OSError:
    pass


def attempt(name, action):
    try:
        value = action()
    except Exception as exc:
        return f"{{name}}: blocked ({{type(exc).__name__}})"
    return f"{{name}}: LEAKED {{str(value)[:60]!r}}"


def write(path):
    with open(path, "w") as f:
        f.write("pwned")


@test("escapes fail", points=1)
def escapes(result):
    lines = [
        attempt("shadow", lambda: open("/etc/shadow").read()),
        attempt("secret key file", lambda: open({secret_file!r}).read()),
        attempt("database", lambda: open({database!r}, "rb").read(16)),
        attempt("state dir", lambda: os.listdir({state_dir!r})),
        attempt("server environ", lambda: open("/proc/{server_pid}/environ", "rb").read()),
        attempt("signal the server", lambda: os.kill({server_pid}, 0)),
        attempt("write /etc", lambda: write("/etc/assay-pwned")),
        attempt("write the test's dir", lambda: write({outside!r})),
        attempt("write the package", lambda: write("/work/grader.py")),
        attempt("network", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=2)),
    ]
    leaked_env = [k for k, v in os.environ.items() if k.startswith("ASSAY") or {canary!r} in v]
    lines.append(f"environment: {{'LEAKED ' + str(leaked_env) if leaked_env else 'clean'}}")
    result.message = "\\n".join(lines)
    result.passed = "LEAKED" not in result.message


@test("grading works", points=2)
def works(result):
    run = run_student(["python3", "hello.py"])
    result.passed = run.ok and run.stdout == b"hello\\n"
    result.output = run.stdout.decode()
"""


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    require_backend("native", "python3")
    monkeypatch.setenv("ASSAY_HOOK_CANARY", CANARY)  # the server's own environment
    with seeded_api("sqlite", tmp_path) as seeded, WorkerPool(seeded.platform, 1):
        yield seeded


def test_a_hostile_grader_py_reaches_nothing_and_grading_works(api: Api, tmp_path: Path) -> None:
    settings = api.platform.settings
    marker = tmp_path / "grader-ran-in-a-platform-process"
    outside = tmp_path / "written-by-a-hook"
    grader = GRADER.format(
        marker=str(marker),
        secret_file=str(settings.state_dir / "secret_key"),
        database=str(tmp_path / "assay.db"),
        state_dir=str(settings.state_dir),
        server_pid=os.getpid(),
        outside=str(outside),
        port=api.url.rsplit(":", 1)[1],
        canary=CANARY,
    )
    package = tar_of(
        {
            "assignment.toml": b'[assignment]\nname = "hostile"\n',
            "grader.py": grader.encode(),
        }
    )
    with api.client("ta") as ta, api.client("alice") as alice:
        created = ta.post(
            f"/admin/courses/{api.course_id}/assignments",
            files={"package": ("hostile.tar.gz", package)},
            # force: it has no reference solution, so its reference check fails
            data={"publish": "true", "force": "true"},
        )
        assert created.status_code == 201, created.text
        assert created.json()["max_score"] == 3  # read from grader.py without running it
        assert not marker.exists(), "the server imported grader.py at upload"

        submitted = alice.post(
            f"/assignments/{created.json()['id']}/submissions",
            json={"files": {"hello.py": "print('hello')\n"}},
        )
        assert submitted.status_code == 201, submitted.text
        done = wait_done(alice, submitted.json()["id"])
        report = ta.get(f"/submissions/{done['id']}/report").json()["report"]

    rows = {t["name"]: t for t in report["tests"]}
    escapes = rows["escapes fail"]["message"]
    assert escapes.count("blocked") == 10, escapes
    assert "environment: clean" in escapes, escapes
    assert rows["escapes fail"]["status"] == "passed", escapes
    assert rows["grading works"]["status"] == "passed", rows["grading works"]
    assert (done["status"], done["score"]) == ("graded", 3.0)
    # nothing the hooks did reached the host
    assert not marker.exists(), "grader.py ran in a platform process"
    assert not outside.exists()
    assert not Path("/etc/assay-pwned").exists()
