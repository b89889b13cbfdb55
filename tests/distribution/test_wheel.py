"""The built wheel is a working Assay without the source checkout.

The wheel is built from a copy of the files a source distribution has (no checkout
around it), installed with the locked dependencies into a fresh virtual environment,
and its ``assay serve --demo`` is run from an empty directory: the demo's example
assignments come from the wheel (setup.py copies examples/assignments into it).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from platform_helpers import free_port, read_until_serving, readyz_status

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "assignments"
SOURCE_FILES = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "requirements.lock"]
SOURCE_DIRS = ["src", "examples/assignments"]
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".*")

pytestmark = pytest.mark.slow


def run(*argv: str | Path, cwd: Path, timeout: float = 300) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{argv}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with the wheel and requirements.lock; its bin directory."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    for name in SOURCE_FILES:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    for name in SOURCE_DIRS:
        shutil.copytree(ROOT / name, source / name, ignore=SKIP)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    run(*pip, "wheel", "--no-deps", "-w", tmp / "dist", source, cwd=tmp)
    wheels = list((tmp / "dist").glob("assay-*.whl"))
    assert len(wheels) == 1, wheels
    shutil.rmtree(source)  # nothing below may read the sources
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp)
    vpip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check", "-q"]
    run(*vpip, "install", "-r", ROOT / "requirements.lock", cwd=tmp)
    run(*vpip, "install", "--no-deps", wheels[0], cwd=tmp)
    yield venv / "bin"


def test_the_wheel_carries_the_demo_examples(installed: Path) -> None:
    where = "import assay, pathlib; print(pathlib.Path(assay.__file__).parent)"
    site = run(installed / "python", "-c", where, cwd=installed).strip()
    assert ROOT.as_posix() not in site, "the venv runs the checkout, not the wheel"
    packaged = Path(site) / "demo_examples"
    expected = sorted(p.name for p in EXAMPLES.iterdir() if (p / "assignment.toml").is_file())
    assert sorted(p.name for p in packaged.iterdir() if (p / "assignment.toml").is_file()) == (
        expected
    )
    # every tracked file of the examples, byte for byte
    tracked = run("git", "ls-files", "examples/assignments", cwd=ROOT).split()
    for name in tracked:
        rel = Path(name).relative_to("examples/assignments")
        assert (packaged / rel).read_bytes() == (ROOT / name).read_bytes(), rel


def test_assay_help_runs_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    out = run(installed / "assay", "--help", cwd=tmp_path)
    assert "serve" in out
    assert "worker" in out


def test_serve_demo_from_the_wheel_needs_no_checkout(installed: Path, tmp_path: Path) -> None:
    empty = tmp_path / "cwd"
    empty.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    env.update(
        ASSAY_STATE_DIR=str(tmp_path / "state"),
        ASSAY_ENVIRONMENTS_DIR=os.environ["ASSAY_ENVIRONMENTS_DIR"],  # tests/conftest.py
        PYTHONUNBUFFERED="1",
    )
    argv = [str(installed / "assay"), "serve", "--demo", "--workers", "1", "--port", str(port)]
    log = (tmp_path / "serve.log").open("w")  # its logs, apart from what it prints
    with log, subprocess.Popen(
        argv, cwd=empty, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
        start_new_session=True,
    ) as proc:  # fmt: skip
        try:
            lines = read_until_serving(proc)
            text = "\n".join(lines)
            base = f"http://127.0.0.1:{port}"
            assert readyz_status(base) == 200, text + (tmp_path / "serve.log").read_text()[-3000:]
            token = re.search(r"student API token: (\S+)", text)
            course = re.search(r"Demo course 'demo': (\d+) assignments", text)
            assert token is not None, text
            assert course is not None, text
            headers = {"Authorization": f"Bearer {token.group(1)}"}
            courses = httpx.get(f"{base}/api/v1/courses", headers=headers, timeout=10)
            assert courses.status_code == 200, courses.text
            (demo,) = [c for c in courses.json() if c["code"] == "demo"]
            listed = httpx.get(
                f"{base}/api/v1/courses/{demo['id']}/assignments", headers=headers, timeout=10
            )
            assert listed.status_code == 200, listed.text
            slugs = sorted(a["slug"] for a in listed.json())
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=60)
    expected = sum(1 for p in EXAMPLES.iterdir() if (p / "assignment.toml").is_file())
    assert int(course.group(1)) == expected
    assert len(slugs) == expected
    assert "python-io" in slugs
    assert not any(empty.iterdir()), "the demo wrote into the working directory"
