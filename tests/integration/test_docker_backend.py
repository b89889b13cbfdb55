"""The Docker backend against the real daemon and the images of environments' trees.

Backend-specific behaviour; the shared behaviour lives in tests/contract and
tests/security. Skipped with the reason when Docker is missing or the python3
environment cannot be had (built, or imported), failed instead when
ASSAY_REQUIRE_DOCKER=1.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.errors import (
    EnvironmentBuildError,
    SandboxError,
    SandboxUnavailableError,
    WorkspacePathError,
)
from assay.sandbox import Limits, OutputPolicy, Sandbox, Termination, get_environment
from assay.sandbox.base import CheckStatus, EntryKind, SessionConfig, WorkspaceEntry
from assay.sandbox.docker.backend import DockerBackend
from assay.sandbox.docker.cgroup_stats import CgroupStats
from assay.sandbox.docker.constants import LABEL, LABEL_IMAGE, LABEL_KEY, LABEL_OWNER, LABEL_TREE
from assay.sandbox.docker.session import DockerSession
from assay.sandbox.environments import Environment
from assay.sandbox.envs.provider import EnvironmentProvider
from assay.sandbox.envs.spec import SpecSource, parse_spec
from assay.sandbox.envs.store import EnvironmentStore
from helpers import MIB, assert_exited_ok, assert_termination, describe, py, require_backend

pytestmark = pytest.mark.docker

LIMITS = Limits(
    cpu_time_s=5,
    wall_time_s=10,
    memory_bytes=128 * MIB,
    pids=32,
    output_bytes=64 * 1024,
    workspace_bytes=32 * MIB,
)


@pytest.fixture(scope="module")
def backend() -> Iterator[DockerBackend]:
    require_backend("docker")
    instance = DockerBackend(pool_size=0)
    yield instance
    instance.shutdown()


@pytest.fixture
def box(backend: DockerBackend) -> Iterator[Sandbox]:
    with Sandbox("python3", backend=backend, limits=LIMITS) as sandbox:
        yield sandbox


def session_of(box: Sandbox) -> DockerSession:
    session = box.session
    assert isinstance(session, DockerSession)
    return session


def container_state(backend: DockerBackend, container_id: str) -> dict[str, object] | None:
    try:
        return backend.api().inspect(container_id)
    except SandboxError:
        return None


def wait_gone(backend: DockerBackend, container_id: str, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if container_state(backend, container_id) is None:
            return True
        time.sleep(0.05)
    return False


# -- running ------------------------------------------------------------------------
def test_basic_run(box: Sandbox) -> None:
    result = box.run(["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert (result.termination, result.exit_code, result.signal) == (Termination.EXITED, 7, None)
    assert (result.stdout, result.stderr) == (b"out\n", b"err\n")
    assert 0 < result.wall_time_s < 5
    assert result.peak_memory_bytes > 0


def test_runs_as_student_without_capabilities(box: Sandbox) -> None:
    code = (
        "import os; s=open('/proc/self/status').read(); print(os.getuid(), os.getgid(), "
        "[l.split()[1] for l in s.splitlines() if l.startswith(('CapEff', 'NoNewPrivs'))])"
    )
    result = py(box, code)
    assert result.stdout == b"1000 1000 ['0000000000000000', '1']\n", describe(result)
    root = py(box, code, as_root=True)
    assert root.stdout == b"0 0 ['0000000000000000', '1']\n", describe(root)


def test_large_stdin_is_streamed_both_ways(box: Sandbox) -> None:
    data = os.urandom(20 * MIB)
    limits = LIMITS.replace(output_bytes=21 * MIB)
    result = box.run(["cat"], stdin=data, limits=limits)
    assert_exited_ok(result)
    assert result.stdout == data


def test_stdin_from_a_host_file(box: Sandbox, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes(b"line\n" * 1000)
    result = box.run(["wc", "-l"], stdin=source)
    assert result.stdout == b"1000\n", describe(result)


def test_environment_is_not_inherited(box: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_DOCKER_HOST_SECRET", "s3cret")
    result = box.run(["env"], env={"ONLY": "this"})
    assert_exited_ok(result)
    # the facade adds PWD on every backend; nothing of the host's, Docker's or the image's
    assert sorted(result.stdout.splitlines()) == [b"ONLY=this", b"PWD=/work"]


def test_missing_cwd_is_a_verdict(box: Sandbox) -> None:
    result = box.run(["pwd"], cwd="no/such/dir")
    assert (result.termination, result.exit_code) == (Termination.EXITED, 125), describe(result)
    assert b"no/such/dir" in result.stderr


# -- verdicts -----------------------------------------------------------------------
def test_cpu_time_is_summed_over_processes(box: Sandbox) -> None:
    # Two busy processes (not Python threads: the GIL keeps those to one core).
    result = box.run(
        ["sh", "-c", "while :; do :; done & while :; do :; done & wait"],
        limits=LIMITS.replace(cpu_time_s=1, wall_time_s=10),
    )
    assert_termination(result, Termination.CPU_TIME_LIMIT)
    assert 0.9 <= result.cpu_time_s < 2.0, describe(result)
    # More CPU time than wall time: only possible if the processes' times are summed.
    assert result.wall_time_s < result.cpu_time_s, describe(result)


def test_sleep_hits_the_wall_time_limit(box: Sandbox) -> None:
    result = box.run(["sleep", "30"], limits=LIMITS.replace(wall_time_s=0.5))
    assert_termination(result, Termination.WALL_TIME_LIMIT)
    assert 0.5 <= result.wall_time_s < 1.5
    assert result.signal == 9


def test_memory_bomb(box: Sandbox) -> None:
    result = py(box, "b = bytearray(512 * 1024 * 1024)")
    assert_termination(result, Termination.MEMORY_LIMIT)
    assert result.peak_memory_bytes >= 100 * MIB, describe(result)
    assert_exited_ok(box.run(["true"]))


def test_a_childs_oom_kill_ends_the_run_at_once(box: Sandbox) -> None:
    code = """
        import os, time
        if os.fork() == 0:
            b = bytearray(512 * 1024 * 1024)
            os._exit(0)
        time.sleep(30)
    """
    result = py(box, code, limits=LIMITS.replace(wall_time_s=20))
    assert_termination(result, Termination.MEMORY_LIMIT)
    assert result.wall_time_s < 3, describe(result)


def test_per_run_memory_limit(box: Sandbox) -> None:
    code = "b = bytearray(96 * 1024 * 1024); print(len(b))"
    assert_exited_ok(py(box, code))
    small = py(box, code, limits=LIMITS.replace(memory_bytes=64 * MIB))
    assert_termination(small, Termination.MEMORY_LIMIT)
    assert_exited_ok(py(box, code))


def test_fork_bomb_stays_within_pids(box: Sandbox) -> None:
    code = """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """
    result = py(box, code, limits=LIMITS.replace(wall_time_s=2))
    assert_termination(result, Termination.WALL_TIME_LIMIT)
    assert result.wall_time_s < 4
    assert session_of(box).leftovers() == set()
    assert_exited_ok(box.run(["echo", "usable"]))


def test_output_flood(box: Sandbox) -> None:
    result = py(box, "while True: print('x' * 1000)")
    assert_termination(result, Termination.OUTPUT_LIMIT)
    assert len(result.stdout) == LIMITS.output_bytes
    assert result.stdout_truncated


def test_output_flood_truncated(box: Sandbox) -> None:
    code = "import sys; sys.stdout.write('y' * 1_000_000); print('end', file=sys.stderr)"
    result = py(box, code, output_policy=OutputPolicy.TRUNCATE)
    assert_exited_ok(result)
    assert result.stdout == b"y" * LIMITS.output_bytes
    assert result.stdout_truncated
    assert result.stderr == b"end\n"


def test_signal(box: Sandbox) -> None:
    result = box.run(["sh", "-c", "kill -SEGV $$"])
    assert_termination(result, Termination.SIGNALED)
    assert result.signal == 11


def test_background_children_are_killed_after_the_run(box: Sandbox) -> None:
    started = time.monotonic()
    result = box.run(
        ["sh", "-c", "setsid sleep 60 >/dev/null 2>&1 </dev/null & sleep 30 & echo ok"]
    )
    assert time.monotonic() - started < 3, describe(result)
    assert_exited_ok(result)
    assert result.stdout == b"ok\n"
    assert session_of(box).leftovers() == set()
    ps = py(box, "import os; print(sorted(p for p in os.listdir('/proc') if p.isdigit()))")
    assert ps.stdout.count(b"'") == 3 * 2, describe(ps)  # init, sleep infinity, ourselves


def test_cleanup_without_cgroup_write_access(box: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """As a non-root worker: no freezer, so kill -9 -1 inside as the run's user."""
    monkeypatch.setattr(CgroupStats, "freeze", lambda self: False)
    monkeypatch.setattr(CgroupStats, "reset_peak", lambda self: False)
    for as_root in (False, True):
        result = box.run(["sh", "-c", "setsid sleep 60 >/dev/null 2>&1 & echo ok"], as_root=as_root)
        assert_exited_ok(result)
        assert session_of(box).leftovers() == set()
        assert result.peak_memory_bytes > 0
    result = box.run(["sleep", "30"], limits=LIMITS.replace(wall_time_s=0.5))
    assert_termination(result, Termination.WALL_TIME_LIMIT)
    assert session_of(box).leftovers() == set()


# -- workspace ------------------------------------------------------------------------
def test_workspace_persists_and_files_round_trip(box: Sandbox) -> None:
    box.add_entries(
        [
            WorkspaceEntry("src", EntryKind.DIR),
            WorkspaceEntry("src/main.py", EntryKind.FILE, data=b"print('hi')\n"),
            WorkspaceEntry("run.sh", EntryKind.FILE, data=b"#!/bin/sh\necho run\n", mode=0o755),
        ]
    )
    assert_exited_ok(box.run(["sh", "-c", "python3 src/main.py > out.txt"]))
    assert_exited_ok(box.run(["sh", "-c", "./run.sh >> out.txt"]))
    assert box.read_file("out.txt") == b"hi\nrun\n"
    assert box.list_files() == ["out.txt", "run.sh", "src"]


def test_root_owned_read_only_files(box: Sandbox) -> None:
    box.write_file("tests/check.py", b"print('harness')\n", mode=0o444, owner_root=True)
    result = box.run(["sh", "-c", "stat -c '%U %a' tests/check.py; rm -f tests/check.py"])
    assert result.stdout == b"root 444\n"
    assert result.exit_code != 0
    assert box.read_file("tests/check.py") == b"print('harness')\n"


def test_read_file_refuses_symlinks(box: Sandbox) -> None:
    assert_exited_ok(box.run(["sh", "-c", "ln -s /etc/passwd p && mkdir d && ln -s d dl"]))
    with pytest.raises(WorkspacePathError):
        box.read_file("p")
    with pytest.raises(WorkspacePathError):
        box.write_file("dl/x", b"x")


def test_workspace_size_is_limited(box: Sandbox) -> None:
    result = box.run(["sh", "-c", "head -c 40m /dev/zero > big"])
    assert result.exit_code != 0
    assert b"No space left" in result.stderr


def test_reset_gives_a_new_container(backend: DockerBackend, box: Sandbox) -> None:
    old = session_of(box).container.id
    box.write_file("f", b"x")
    assert_exited_ok(box.run(["sh", "-c", "echo t > /tmp/t"]))
    box.reset()
    assert session_of(box).container.id != old
    assert box.list_files() == []
    assert box.run(["ls", "/tmp"]).stdout == b""
    assert wait_gone(backend, old)


# -- isolation ----------------------------------------------------------------------
def test_no_network(box: Sandbox) -> None:
    code = """
        import socket
        print(open('/proc/net/dev').read().count(':'))
        try:
            socket.create_connection(('1.1.1.1', 53), timeout=2)
            print('connected')
        except OSError as e:
            print('refused')
    """
    result = py(box, code)
    assert result.stdout == b"1\nrefused\n", describe(result)


def test_seccomp_refuses_ptrace_and_vsock(box: Sandbox) -> None:
    code = """
        import ctypes, socket
        libc = ctypes.CDLL(None, use_errno=True)
        print(libc.ptrace(0, 0, 0, 0), ctypes.get_errno())  # PTRACE_TRACEME
        try:
            socket.socket(40, socket.SOCK_STREAM)  # AF_VSOCK
            print("vsock")
        except OSError as e:
            print(e.errno)
    """
    result = py(box, code)
    assert result.stdout == b"-1 1\n1\n", describe(result)


def test_container_configuration(backend: DockerBackend, box: Sandbox) -> None:
    info = backend.api().inspect(session_of(box).container.id)
    host, config = info["HostConfig"], info["Config"]
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"][0] == "no-new-privileges"
    assert host["SecurityOpt"][1].startswith("seccomp=")
    assert host["NetworkMode"] == "none"
    assert host["Memory"] == host["MemorySwap"] == LIMITS.memory_bytes
    assert host["PidsLimit"] == LIMITS.pids + 2  # docker-init and the idle sleep
    assert not host.get("OomKillDisable")
    assert not host["Privileged"]
    assert host.get("Binds") in (None, [])
    assert config["User"] == "65534:65534"
    assert config["Labels"][LABEL] == "1"


def _unbuilt_environment() -> Environment:
    """An environment whose tree no store has: its spec is new to every machine."""
    spec = parse_spec({"name": "nope", "apt": ["jq"], "probe": "true",
                       "env": {"NONCE": secrets.token_hex(8)},
                       "files": {"/etc/nonce": secrets.token_hex(8)}},
                      origin="test")  # fmt: skip
    return Environment.from_source(SpecSource(spec, None, "test"))


def test_an_environment_not_built_is_a_clear_error_and_no_build(tmp_path: Path) -> None:
    store = EnvironmentStore(tmp_path / "store")  # no builder: a build would fail loudly
    provider = EnvironmentProvider(store, build_missing=False)
    backend = DockerBackend(pool_size=0, provider=provider)
    environment = _unbuilt_environment()
    try:
        with pytest.raises(EnvironmentBuildError) as caught:
            backend.open_session(SessionConfig(environment, LIMITS))
        assert f"environment nope ({environment.key[:12]}) is not built" in caught.value.message
        assert caught.value.fix == "assay env build nope"
        assert not backend.api().image_exists(environment.docker_image)
        assert store.entries() == []
    finally:
        backend.shutdown()


def test_an_unreachable_daemon_is_unavailable(tmp_path: Path) -> None:
    backend = DockerBackend(f"unix://{tmp_path}/no-docker.sock", pool_size=0)
    with pytest.raises(SandboxUnavailableError) as caught:
        backend.open_session(SessionConfig(get_environment("python3"), LIMITS))
    assert "not reachable" in caught.value.message
    assert caught.value.fix


def test_the_image_is_imported_from_the_tree_and_labelled(backend: DockerBackend) -> None:
    environment = get_environment("python3")
    backend.images().ensure(environment)
    info = backend.api().image_info(environment.docker_image)
    assert info is not None
    labels = info["Config"]["Labels"]
    assert labels[LABEL_KEY] == environment.key
    assert labels[LABEL_IMAGE] == "python3"
    meta = backend.provider.store.meta(environment.key)
    assert meta is not None and labels[LABEL_TREE] == meta.created
    assert environment.docker_image == f"assay-env:{environment.key[:24]}"


def test_close_removes_the_container(backend: DockerBackend) -> None:
    box = Sandbox("python3", backend=backend, limits=LIMITS).open()
    container_id = session_of(box).container.id
    box.close()
    box.close()
    assert wait_gone(backend, container_id)


def test_cleanup_stale_removes_orphans(backend: DockerBackend) -> None:
    api = backend.api()
    dead_owner = f"{socket.gethostname()}:{2**22 + 12345}"
    container_id = api.create_container(
        get_environment("python3").docker_image,
        ["sleep", "infinity"],
        user="65534:65534",
        host_config=api.host_config(network_mode="none"),
        labels={LABEL: "1", LABEL_OWNER: dead_owner},
        network=False,
    )
    with Sandbox("python3", backend=backend, limits=LIMITS) as live:
        removed = backend.cleanup_stale()
        assert container_id[:12] in removed
        assert session_of(live).container.id[:12] not in removed
        assert_exited_ok(live.run(["true"]))
    assert container_state(backend, container_id) is None


def test_pool_hands_out_fresh_containers() -> None:
    require_backend("docker")
    pooled = DockerBackend(pool_size=1)
    seen: list[str] = []
    try:
        for _ in range(3):
            with Sandbox("python3", backend=pooled, limits=LIMITS) as box:
                seen.append(session_of(box).container.id)
                assert box.list_files() == []
                box.write_file("mine", b"x")
                assert_exited_ok(box.run(["true"]))
            time.sleep(0.5)  # let the pool refill
    finally:
        pooled.shutdown()
    assert len(set(seen)) == 3
    assert all(wait_gone(pooled, c) for c in seen)


def test_check_reports_every_feature(backend: DockerBackend) -> None:
    items = backend.check()
    failed = [i for i in items if i.status is CheckStatus.FAIL]
    assert not failed, failed
    features = {i.feature for i in items}
    for needed in (
        "Docker daemon",
        "memory limit with swap off",
        "pids limit",
        "cgroup files readable",
        "no network",
        "read-only system",
        "no capabilities (CapEff 0)",
        "no_new_privs",
        "unprivileged user",
    ):
        assert needed in features, sorted(features)
