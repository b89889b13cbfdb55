"""assay.compat.autograder_sandbox: argument and verdict mapping, on the fake backend."""

from __future__ import annotations

import io
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import assay.compat.autograder_sandbox as ag
from assay.compat.autograder_sandbox import (
    AutograderSandbox,
    SandboxCommandError,
    SandboxError,
    SandboxNotDestroyed,
)
from assay.compat.autograder_sandbox.limits import (
    DEFAULT_OUTPUT_CAP_BYTES,
    MIN_MEMORY_BYTES,
    NO_SPAWN_PREFIX,
    NO_TIMEOUT_S,
)
from assay.errors import SandboxUnavailableError
from assay.sandbox.base import EntryKind, SessionConfig
from assay.sandbox.environments import get_environment
from assay.sandbox.fake import FakeBackend, FakeSession, fake_result
from assay.sandbox.result import RunResult, Termination
from assay.sandbox.spec import GIB, MIB, OutputPolicy, RunSpec


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SANDBOX_DOCKER_IMAGE",
        "SANDBOX_PIDS_LIMIT",
        "SANDBOX_MEM_LIMIT",
        "SANDBOX_CPU_CORE_LIMIT",
        "ASSAY_COMPAT_BACKEND",
        "ASSAY_COMPAT_ENVIRONMENT",
    ):
        monkeypatch.delenv(name, raising=False)


@dataclass(frozen=True)
class Ran:
    """A ``CompletedCommand`` read and closed."""

    return_code: int | None
    timed_out: bool
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool


def run(box: AutograderSandbox, args: list[str], **kwargs: Any) -> Ran:
    with box.run_command(args, **kwargs) as result:
        return Ran(
            result.return_code,
            result.timed_out,
            result.stdout.read(),
            result.stderr.read(),
            result.stdout_truncated,
            result.stderr_truncated,
        )


def scripted(result: RunResult) -> FakeBackend:
    return FakeBackend(lambda spec, workspace: result)


def session_of(backend: FakeBackend) -> FakeSession:
    return backend.sessions[-1]


def last_spec(backend: FakeBackend) -> RunSpec:
    return session_of(backend).runs[-1]


# -- construction and defaults ------------------------------------------------


def test_defaults_match_6x() -> None:
    box = AutograderSandbox(backend=FakeBackend())
    assert box.name.startswith("sandbox-")
    assert box.docker_image == "eecsautograder/ubuntu22:latest"
    assert box.environment == "python3"
    assert box.allow_network_access is False
    assert box.environment_variables == {}
    assert box.cpu_core_limit is None
    assert ag.VERSION.startswith("6.")
    assert ag.SANDBOX_USERNAME == "autograder"


def test_environment_variables_set_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    c_image = get_environment("c").docker_image  # Assay's image of the c environment
    monkeypatch.setenv("SANDBOX_DOCKER_IMAGE", c_image)
    monkeypatch.setenv("SANDBOX_MEM_LIMIT", "1g")
    monkeypatch.setenv("SANDBOX_PIDS_LIMIT", "33")
    monkeypatch.setenv("SANDBOX_CPU_CORE_LIMIT", "1.5")
    backend = FakeBackend()
    with AutograderSandbox(backend=backend) as box:
        assert box.docker_image == c_image
        assert box.environment == "c"
        assert str(box.cpu_core_limit) == "1.5"
    config = session_of(backend).config
    assert config.environment.name == "c"
    assert config.limits.memory_bytes == GIB
    assert config.limits.pids == 33
    assert c_image == ag.SANDBOX_DOCKER_IMAGE


def test_module_constants_are_read_on_use(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ag.SANDBOX_DOCKER_IMAGE == "eecsautograder/ubuntu22:latest"
    assert ag.SANDBOX_PIDS_LIMIT == 512
    assert ag.SANDBOX_MEM_LIMIT == "4g"
    assert ag.SANDBOX_CPU_CORE_LIMIT is None
    monkeypatch.setenv("SANDBOX_PIDS_LIMIT", "7")
    assert ag.SANDBOX_PIDS_LIMIT == 7
    with pytest.raises(AttributeError):
        _ = ag.NO_SUCH_NAME


@pytest.mark.parametrize(
    ("image", "environment"),
    [
        (get_environment("java").docker_image, "java"),
        (f"registry.example/{get_environment('cpp').docker_image}", "cpp"),
        ("assay-env:0000000000000000deadbeef", "python3"),
        ("assay-java:1", "java"),  # the older form
        ("registry.example/assay-cpp:latest", "cpp"),
        ("assay-nonexistent:1", "python3"),
        ("eecsautograder/ubuntu22:latest", "python3"),
    ],
)
def test_docker_image_chooses_an_environment(image: str, environment: str) -> None:
    assert AutograderSandbox(docker_image=image).environment == environment


def test_explicit_environment_and_env_var_override_the_image(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert AutograderSandbox(docker_image="assay-c:1", environment="java").environment == "java"
    monkeypatch.setenv("ASSAY_COMPAT_ENVIRONMENT", "cpp")
    assert AutograderSandbox(docker_image="assay-c:1").environment == "cpp"


def test_constructor_limits_and_network_reach_the_session() -> None:
    backend = FakeBackend()
    with AutograderSandbox(
        memory_limit="256m", pids_limit=20, allow_network_access=True, backend=backend
    ):
        pass
    config: SessionConfig = session_of(backend).config
    assert config.limits.memory_bytes == 256 * MIB
    assert config.limits.pids == 20
    assert config.network is True
    assert session_of(backend).closed


def test_network_access_cannot_change_while_running() -> None:
    box = AutograderSandbox(backend=FakeBackend())
    box.allow_network_access = True
    with box, pytest.raises(ValueError, match="running"):
        box.allow_network_access = False
    box.allow_network_access = False
    assert box.allow_network_access is False


def test_invalid_memory_limit_is_a_value_error() -> None:
    with (
        pytest.raises(ValueError, match="size"),
        AutograderSandbox(memory_limit="lots", backend=FakeBackend()),
    ):
        pass


def test_unavailable_backend_is_a_sandbox_error() -> None:
    class Broken(FakeBackend):
        def open_session(self, config: SessionConfig) -> FakeSession:
            raise SandboxUnavailableError("no cgroups", fix="mount cgroup2")

    with pytest.raises(SandboxError, match="mount cgroup2"), AutograderSandbox(backend=Broken()):
        pass


def test_failing_close_is_sandbox_not_destroyed() -> None:
    class Sticky(FakeSession):
        def close(self) -> None:
            raise SandboxUnavailableError("stuck")

    class Backend(FakeBackend):
        def open_session(self, config: SessionConfig) -> FakeSession:
            return Sticky(config, self.script)

    with pytest.raises(SandboxNotDestroyed), AutograderSandbox(backend=Backend()):
        pass


def test_a_name_runs_once_at_a_time_as_6x_container_names() -> None:
    backend = FakeBackend()
    with AutograderSandbox(name="awexome", backend=backend) as box:
        with (
            pytest.raises(SandboxError, match="awexome"),
            AutograderSandbox(name="awexome", backend=backend),
        ):
            pass
        box.reset()  # its own name stays its own
    with AutograderSandbox(name="awexome", backend=backend):
        pass  # free again once stopped
    with pytest.raises(SandboxError), AutograderSandbox(name="broken", backend=Broken()):
        pass
    with AutograderSandbox(name="broken", backend=backend):
        pass  # a sandbox that failed to start does not keep its name


class Broken(FakeBackend):
    def open_session(self, config: SessionConfig) -> FakeSession:
        raise SandboxUnavailableError("no cgroups", fix="mount cgroup2")


# -- run_command: arguments ------------------------------------------------------


def test_run_command_defaults() -> None:
    backend = FakeBackend()
    with AutograderSandbox(backend=backend) as box:
        run(box, ["true"])
    spec = last_spec(backend)
    assert spec.argv == ("true",)
    assert spec.cwd == "."
    assert spec.stdin is None
    assert spec.as_root is False
    assert spec.output_policy is OutputPolicy.TRUNCATE
    assert spec.limits.wall_time_s == NO_TIMEOUT_S
    assert spec.limits.output_bytes == DEFAULT_OUTPUT_CAP_BYTES
    assert spec.limits.memory_bytes == 4 * GIB
    assert spec.limits.pids == 512


def test_run_command_limits() -> None:
    backend = FakeBackend()
    with AutograderSandbox(backend=backend, memory_limit="1g") as box:
        run(
            box,
            ["prog"],
            timeout=3,
            block_process_spawn=True,
            max_stack_size=2 * MIB,
            max_virtual_memory=100 * MIB,
            as_root=True,
            truncate_stdout=10,
            truncate_stderr=20,
        )
        limits = last_spec(backend).limits
        assert (limits.wall_time_s, limits.cpu_time_s) == (3, 3)
        assert limits.pids == 512
        assert last_spec(backend).argv == (*NO_SPAWN_PREFIX, "prog")
        assert limits.stack_bytes == 2 * MIB
        assert limits.memory_bytes == 100 * MIB
        assert limits.output_bytes == 20
        assert last_spec(backend).as_root is True

        run(box, ["prog"], max_virtual_memory=8 * GIB, truncate_stdout=5)
        limits = last_spec(backend).limits
        assert limits.memory_bytes == GIB  # never above the sandbox's limit
        assert limits.output_bytes == DEFAULT_OUTPUT_CAP_BYTES  # stderr is not truncated

        run(box, ["prog"], max_virtual_memory=1)
        assert last_spec(backend).limits.memory_bytes == MIN_MEMORY_BYTES


@pytest.mark.parametrize(
    "kwargs",
    [{"timeout": 0}, {"timeout": -1}, {"truncate_stdout": -1}, {"max_stack_size": 0}],
)
def test_invalid_run_arguments_are_value_errors(kwargs: dict[str, int]) -> None:
    with AutograderSandbox(backend=FakeBackend()) as box, pytest.raises(ValueError):
        box.run_command(["true"], **kwargs)  # type: ignore[arg-type]


def test_stdin_file_objects_are_read() -> None:
    backend = FakeBackend()
    with AutograderSandbox(backend=backend) as box:
        result = run(box, ["cat"], stdin=io.BytesIO(b"bytes in"))
        assert result.stdout == b"bytes in"
        result = run(box, ["cat"], stdin=io.StringIO("text in"))
        assert result.stdout == b"text in"


def test_environment_variables_extend_the_environment() -> None:
    backend = FakeBackend()
    with AutograderSandbox(environment_variables={"SPAM": "eggs"}, backend=backend) as box:
        assert box.environment_variables == {"SPAM": "eggs"}
        run(box, ["env"])
        env = last_spec(backend).env
        assert env["SPAM"] == "eggs"
        assert env["USER"] == "autograder"
        assert env["PATH"]
        run(box, ["env"], as_root=True)
        assert "USER" not in last_spec(backend).env


def test_invalid_environment_variable_is_a_value_error() -> None:
    with (
        AutograderSandbox(environment_variables={"A=B": "x"}, backend=FakeBackend()) as box,
        pytest.raises(ValueError, match="environment variable"),
    ):
        box.run_command(["true"])


def test_run_command_needs_a_running_sandbox() -> None:
    box = AutograderSandbox(backend=FakeBackend())
    with pytest.raises(SandboxError, match="not running"):
        box.run_command(["true"])
    with pytest.raises(SandboxError):
        box.reset()
    with pytest.raises(SandboxError):
        box.restart()


# -- run_command: results --------------------------------------------------------


def test_output_is_in_named_binary_files() -> None:
    with AutograderSandbox(backend=FakeBackend()) as box:
        result = box.run_command(["echo", "hello", "world"])
    assert result.return_code == 0
    assert result.timed_out is False
    assert result.stdout.read() == b"hello world\n"
    assert result.stderr.read() == b""
    assert Path(result.stdout.name).exists()
    assert result.run_result is not None
    assert result.run_result.ok
    result.close()
    assert not Path(result.stdout.name).exists()


@pytest.mark.parametrize("termination", [Termination.WALL_TIME_LIMIT, Termination.CPU_TIME_LIMIT])
def test_timeout(termination: Termination) -> None:
    backend = scripted(fake_result(b"partial", exit_code=None, signal=9, termination=termination))
    with AutograderSandbox(backend=backend) as box:
        result = run(box, ["sleep", "10"], timeout=1)
        assert result.timed_out is True
        assert result.return_code is None
        assert result.stdout == b"partial"
        with pytest.raises(SandboxCommandError) as info:
            box.run_command(["sleep", "10"], timeout=1, check=True)
    info.value.result.close()
    assert info.value.result.timed_out
    assert "timed out" in str(info.value)


@pytest.mark.parametrize(
    ("verdict", "code"),
    [
        (fake_result(exit_code=3), 3),
        (fake_result(exit_code=None, signal=signal.SIGSEGV, termination=Termination.SIGNALED), 245),
        (fake_result(exit_code=None, signal=9, termination=Termination.MEMORY_LIMIT), 247),
        (fake_result(exit_code=None, termination=Termination.MEMORY_LIMIT), 247),
        (fake_result(exit_code=None, signal=9, termination=Termination.OUTPUT_LIMIT), 247),
    ],
)
def test_return_codes_are_those_of_6x(verdict: RunResult, code: int) -> None:
    with AutograderSandbox(backend=scripted(verdict)) as box:
        assert run(box, ["prog"]).return_code == code
        with pytest.raises(SandboxCommandError) as info:
            box.run_command(["prog", "arg"], check=True)
    info.value.result.close()
    assert info.value.cmd == ["prog", "arg"]
    assert info.value.result.return_code == code


def test_check_passes_on_success() -> None:
    with AutograderSandbox(backend=FakeBackend()) as box:
        assert run(box, ["true"], check=True).return_code == 0


def test_truncation() -> None:
    backend = scripted(fake_result(b"hello", b"oops"))
    with AutograderSandbox(backend=backend) as box:
        result = run(box, ["prog"], truncate_stdout=3, truncate_stderr=4)
        assert (result.stdout, result.stdout_truncated) == (b"hel", True)
        assert (result.stderr, result.stderr_truncated) == (b"oops", False)
        result = run(box, ["prog"], truncate_stdout=0)
        assert (result.stdout, result.stdout_truncated) == (b"", True)
        assert last_spec(backend).limits.output_bytes == DEFAULT_OUTPUT_CAP_BYTES


def test_output_cut_by_the_backend_is_reported_as_truncated() -> None:
    cut = RunResult(Termination.EXITED, 0, None, 0.0, 0.0, 0, b"x" * 4, b"", stdout_truncated=True)
    with AutograderSandbox(backend=scripted(cut)) as box:
        result = run(box, ["yes"])
    assert result.stdout_truncated is True
    assert result.stderr_truncated is False


# -- files and lifecycle ---------------------------------------------------------


@pytest.fixture
def host_files(tmp_path: Path) -> Path:
    (tmp_path / "a.txt").write_bytes(b"A")
    (tmp_path / "run.sh").write_bytes(b"#!/bin/sh\n")
    (tmp_path / "run.sh").chmod(0o755)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "b.txt").write_bytes(b"B")
    return tmp_path


def test_add_files_by_base_name(host_files: Path) -> None:
    backend = FakeBackend()
    with AutograderSandbox(backend=backend) as box:
        box.add_files(str(host_files / "a.txt"), host_files / "run.sh", host_files / "data")
        assert run(box, ["cat", "a.txt", "data/b.txt"]).stdout == b"AB"
    entries = session_of(backend).workspace.entries
    assert set(entries) == {"a.txt", "run.sh", "data", "data/b.txt"}
    assert entries["run.sh"].mode == 0o755
    assert entries["data"].kind is EntryKind.DIR
    assert not any(e.owner_root for e in entries.values())


def test_add_files_owner_and_read_only(host_files: Path) -> None:
    backend = FakeBackend()
    with AutograderSandbox(backend=backend) as box:
        box.add_files(host_files / "a.txt", host_files / "data", owner="root", read_only=True)
        with pytest.raises(ValueError, match="owner"):
            box.add_files(host_files / "a.txt", owner="nobody")
    entries = session_of(backend).workspace.entries
    assert all(e.owner_root for e in entries.values())
    assert entries["a.txt"].mode == 0o444
    assert entries["data"].mode == 0o555
    assert entries["data/b.txt"].mode == 0o444


def test_add_files_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with AutograderSandbox(backend=FakeBackend()) as box, pytest.raises(FileNotFoundError):
        box.add_files(tmp_path / "missing")


def test_add_and_rename_file(host_files: Path) -> None:
    backend = FakeBackend()
    with AutograderSandbox(backend=backend) as box:
        box.add_and_rename_file(host_files / "a.txt", "renamed.txt")
        box.add_and_rename_file(host_files / "data", "other")
        assert run(box, ["cat", "renamed.txt", "other/b.txt"]).stdout == b"AB"
        for bad in ("../escape", "/abs", "."):
            with pytest.raises(ValueError):
                box.add_and_rename_file(host_files / "a.txt", bad)
    assert set(session_of(backend).workspace.entries) == {"renamed.txt", "other", "other/b.txt"}


def test_reset_starts_a_fresh_sandbox(host_files: Path) -> None:
    backend = FakeBackend()
    with AutograderSandbox(backend=backend) as box:
        box.add_files(host_files / "a.txt")
        box.reset()
        assert len(backend.sessions) == 2
        assert backend.sessions[0].closed
        assert run(box, ["cat", "a.txt"]).return_code == 1
    assert backend.sessions[1].closed


def test_restart_keeps_files(host_files: Path) -> None:
    backend = FakeBackend()
    with AutograderSandbox(backend=backend) as box:
        box.add_files(host_files / "a.txt")
        box.restart()
        assert run(box, ["cat", "a.txt"]).stdout == b"A"
    assert len(backend.sessions) == 1


def test_backend_from_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_COMPAT_BACKEND", "no-such-backend")
    with pytest.raises(SandboxError, match="no-such-backend"), AutograderSandbox():
        pass
