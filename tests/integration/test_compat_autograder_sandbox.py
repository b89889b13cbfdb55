"""assay.compat.autograder_sandbox on real backends: the 6.x behaviours users rely on."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assay.compat.autograder_sandbox import (
    SANDBOX_WORKING_DIR_NAME,
    AutograderSandbox,
    CompletedCommand,
    SandboxCommandError,
)
from assay.errors import SandboxUnavailableError
from assay.sandbox import Sandbox
from assay.sandbox.result import Termination

FORK = """
import os, sys
try:
    pid = os.fork()
except OSError:
    sys.exit(42)
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
"""

REQUIRE_ENV = {"native": "ASSAY_REQUIRE_NATIVE", "docker": "ASSAY_REQUIRE_DOCKER"}
_unavailable: dict[str, str | None] = {}


def _unavailable_reason(backend: str) -> str | None:
    """Why ``backend`` cannot open sandboxes here, or None if it can."""
    if backend not in _unavailable:
        try:
            Sandbox("python3", backend=backend).open().close()
            _unavailable[backend] = None
        except SandboxUnavailableError as exc:
            fix = f" (fix: {exc.fix})" if exc.fix else ""
            _unavailable[backend] = f"{exc.message}{fix}"
        except ImportError as exc:
            _unavailable[backend] = f"not importable: {exc}"
    return _unavailable[backend]


@pytest.fixture(
    params=[
        pytest.param("native", marks=pytest.mark.native),
        pytest.param("docker", marks=pytest.mark.docker),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend in turn: skipped with the reason when unavailable, unless required."""
    name: str = request.param
    reason = _unavailable_reason(name)
    if reason is not None:
        message = f"{name} backend unavailable: {reason}"
        if os.environ.get(REQUIRE_ENV[name]) == "1":
            pytest.fail(f"{message} ({REQUIRE_ENV[name]}=1)")
        pytest.skip(message)
    return name


@pytest.fixture
def box(backend: str) -> Iterator[AutograderSandbox]:
    with AutograderSandbox(backend=backend, memory_limit="512m") as sandbox:
        yield sandbox


_opened: list[CompletedCommand] = []


def run(box: AutograderSandbox, args: list[str], **kwargs: Any) -> CompletedCommand:
    """``run_command``; the result's files are closed after the test."""
    result = box.run_command(args, **kwargs)
    _opened.append(result)
    return result


@pytest.fixture(autouse=True)
def _close_results() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def test_echo_in_the_working_directory(box: AutograderSandbox) -> None:
    result = run(box, ["echo", "hello world"])
    assert (result.return_code, result.timed_out) == (0, False)
    assert result.stdout.read() == b"hello world\n"
    assert result.stderr.read() == b""
    assert run(box, ["pwd"]).stdout.read().strip() == SANDBOX_WORKING_DIR_NAME.encode()


def test_stdin_file_object(box: AutograderSandbox, tmp_path: Path) -> None:
    (tmp_path / "input").write_bytes(b"line 1\nline 2\n")
    with (tmp_path / "input").open("rb") as stdin:
        assert run(box, ["cat"], stdin=stdin).stdout.read() == b"line 1\nline 2\n"
    assert run(box, ["wc", "-c"], stdin=io.BytesIO(b"12345")).stdout.read().strip() == b"5"
    assert run(box, ["cat"]).stdout.read() == b""  # no stdin: /dev/null


def test_timeout(box: AutograderSandbox) -> None:
    result = run(box, ["sleep", "30"], timeout=1)
    assert result.timed_out is True
    assert result.return_code is None
    assert result.run_result is not None
    assert result.run_result.wall_time_s < 10
    with pytest.raises(SandboxCommandError) as info:
        box.run_command(["sleep", "30"], timeout=1, check=True)
    info.value.result.close()
    assert info.value.result.timed_out


def test_truncation_keeps_the_command_running(box: AutograderSandbox) -> None:
    script = "import sys; print('x' * 100000); print('done', file=sys.stderr)"
    result = run(box, ["python3", "-c", script], truncate_stdout=10, truncate_stderr=100)
    assert result.return_code == 0
    assert (result.stdout.read(), result.stdout_truncated) == (b"x" * 10, True)
    assert (result.stderr.read(), result.stderr_truncated) == (b"done\n", False)


def test_check(box: AutograderSandbox) -> None:
    with pytest.raises(SandboxCommandError) as info:
        box.run_command(["sh", "-c", "echo out; exit 3"], check=True)
    info.value.result.close()
    assert info.value.cmd == ["sh", "-c", "echo out; exit 3"]
    assert info.value.result.return_code == 3
    assert run(box, ["true"], check=True).return_code == 0


def test_signals_and_memory_report_6x_return_codes(box: AutograderSandbox) -> None:
    segv = run(box, ["python3", "-c", "import os; os.kill(os.getpid(), 11)"])
    assert segv.return_code == 245
    hog = "x = b'x' * (400 * 1024 * 1024)"
    result = run(box, ["python3", "-c", hog], max_virtual_memory=64 * 1024 * 1024)
    assert result.run_result is not None
    assert result.run_result.termination is Termination.MEMORY_LIMIT
    assert result.return_code == 247
    assert result.timed_out is False


def test_missing_command_is_status_127(box: AutograderSandbox) -> None:
    assert run(box, ["no-such-command"]).return_code == 127
    assert run(box, ["no-such-command"], block_process_spawn=True).return_code == 127


def test_files(box: AutograderSandbox, tmp_path: Path) -> None:
    (tmp_path / "one.txt").write_bytes(b"one\n")
    (tmp_path / "two.txt").write_bytes(b"two\n")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "three.txt").write_bytes(b"three\n")
    box.add_files(tmp_path / "one.txt", str(tmp_path / "dir"))
    box.add_and_rename_file(tmp_path / "two.txt", "renamed.txt")
    result = run(box, ["cat", "one.txt", "renamed.txt", "dir/three.txt"])
    assert result.stdout.read() == b"one\ntwo\nthree\n"
    assert run(box, ["sh", "-c", "echo more >> one.txt"]).return_code == 0


def test_read_only_root_owned_files(box: AutograderSandbox, tmp_path: Path) -> None:
    (tmp_path / "spec.txt").write_bytes(b"fixed\n")
    box.add_files(tmp_path / "spec.txt", owner="root", read_only=True)
    assert run(box, ["sh", "-c", "echo changed > spec.txt"]).return_code != 0
    assert run(box, ["cat", "spec.txt"]).stdout.read() == b"fixed\n"


def test_reset_wipes_files(box: AutograderSandbox, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"f")
    box.add_files(tmp_path / "f")
    assert run(box, ["ls"]).stdout.read() == b"f\n"
    box.restart()
    assert run(box, ["ls"]).stdout.read() == b"f\n"
    box.reset()
    assert run(box, ["ls"]).stdout.read() == b""
    assert run(box, ["echo", "alive"]).stdout.read() == b"alive\n"


def test_as_root(box: AutograderSandbox) -> None:
    assert run(box, ["id", "-u"], as_root=True).stdout.read() == b"0\n"
    assert run(box, ["id", "-u"]).stdout.read() != b"0\n"


def test_block_process_spawn(box: AutograderSandbox) -> None:
    assert run(box, ["python3", "-c", FORK]).return_code == 0
    assert run(box, ["python3", "-c", FORK], block_process_spawn=True).return_code == 42


def test_environment_variables(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_TEST_HOST_SECRET", "hunter2")
    with AutograderSandbox(backend=backend, environment_variables={"SPAM": "eggs"}) as box:
        env = run(box, ["env"]).stdout.read().decode()
    assert "SPAM=eggs" in env.splitlines()
    assert "hunter2" not in env
    assert "PATH=" in env
