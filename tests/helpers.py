"""Helpers shared by the sandbox contract and security suites.

Backend availability is probed once per (backend, environment) by opening a
sandbox. ``HostGuard`` looks at the host from outside the sandbox: leftover
sandbox processes, a canary file, the hostname, the clock, /dev/shm.

Every check looks only at what the test itself started, so the suites pass
beside another Assay (a developer's ``assay serve``, another checkout's tests):
native sandbox processes in the job cgroups of this process (``job-<pid>-<n>``)
or of a process the test names (a CLI run), Docker containers labelled with
such an owner, /dev/shm files of the backend's sandbox user.
"""

from __future__ import annotations

import os
import secrets
import socket
import textwrap
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from assay.errors import SandboxError, SandboxUnavailableError
from assay.sandbox import Limits, RunResult, Sandbox, Termination
from assay.sandbox.environments import Environment

MIB = 1024 * 1024
KIB = 1024

BACKEND_NAMES = ("native", "docker")
REQUIRE_ENV = {"native": "ASSAY_REQUIRE_NATIVE", "docker": "ASSAY_REQUIRE_DOCKER"}

NATIVE_HOST_UID = 64000  # the native backend's sandbox user, as the host sees it
SANDBOX_UID = 1000  # the sandbox user, as the sandbox sees it (both backends)
DOCKER_LABEL = "assay.sandbox=1"
DOCKER_OWNER_LABEL = "assay.owner"  # "<hostname>:<pid>:<token>" of the process that opened it
WORKSPACE = "/work"

GRACE_S = 3.0  # a verdict must arrive within its limit plus this
QUICK_LIMITS = Limits(cpu_time_s=5, wall_time_s=5, memory_bytes=256 * MIB, pids=64)


# -- backend availability ---------------------------------------------------------
@dataclass(frozen=True)
class Availability:
    ok: bool
    reason: str = ""
    broken: bool = False  # opening failed unexpectedly: a bug to report, never a skip


_availability: dict[tuple[str, str], Availability] = {}


def _probe(backend: str, environment: str | Environment) -> Availability:
    name = environment if isinstance(environment, str) else environment.name
    what = f"{backend} backend, environment {name!r}"
    try:
        box = Sandbox(environment, backend=backend).open()
    except SandboxUnavailableError as exc:
        fix = f" (fix: {exc.fix})" if exc.fix else ""
        return Availability(False, f"{what} unavailable: {exc.message}{fix}")
    except SandboxError as exc:
        return Availability(False, f"{what} failed to open: {type(exc).__name__}: {exc}")
    except ImportError as exc:
        return Availability(False, f"{what} not importable (not written yet?): {exc}")
    except Exception as exc:  # noqa: BLE001 - reported as a failure of every test
        return Availability(
            False, f"{what}: opening raised {type(exc).__name__}: {exc}", broken=True
        )
    try:
        box.close()
    except Exception as exc:  # noqa: BLE001 - reported as a failure of every test
        return Availability(
            False, f"{what}: close() raised {type(exc).__name__}: {exc}", broken=True
        )
    return Availability(True)


def availability(backend: str, environment: str | Environment = "python3") -> Availability:
    key = (backend, environment if isinstance(environment, str) else environment.key)
    if key not in _availability:
        _availability[key] = _probe(backend, environment)
    return _availability[key]


def require_backend(backend: str, environment: str | Environment = "python3") -> None:
    """Skip (visibly) when the backend cannot run here; fail if CI requires it."""
    state = availability(backend, environment)
    if state.ok:
        return
    required = os.environ.get(REQUIRE_ENV[backend]) == "1"
    if state.broken or required:
        suffix = f" ({REQUIRE_ENV[backend]}=1)" if required else ""
        pytest.fail(f"{state.reason}{suffix}", pytrace=False)
    pytest.skip(state.reason)


# -- running things ---------------------------------------------------------------
def describe(result: RunResult) -> str:
    """A one-glance summary of a run for assertion messages."""
    return (
        f"termination={result.termination.value} exit_code={result.exit_code} "
        f"signal={result.signal} cpu={result.cpu_time_s:.2f}s wall={result.wall_time_s:.2f}s "
        f"peak={result.peak_memory_bytes / MIB:.1f}MiB "
        f"stdout[{len(result.stdout)}]={result.stdout[:300]!r} "
        f"stderr[{len(result.stderr)}]={result.stderr[-600:]!r}"
    )


def py(box: Sandbox, code: str, *args: str, **kwargs: Any) -> RunResult:
    """Run a Python snippet (dedented) with ``python3 -c`` in the sandbox."""
    return box.run(["python3", "-c", textwrap.dedent(code), *args], **kwargs)


def timed(call: Callable[[], RunResult]) -> tuple[RunResult, float]:
    """A run and how long the host waited for it (monotonic seconds)."""
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def assert_termination(result: RunResult, expected: Termination) -> None:
    assert result.termination is expected, f"expected {expected.value}: {describe(result)}"


def assert_exited_ok(result: RunResult) -> None:
    assert result.termination is Termination.EXITED and result.exit_code == 0, describe(result)


def lines(result: RunResult) -> list[str]:
    return result.stdout.decode("utf-8", errors="replace").splitlines()


def parse_env0(data: bytes) -> dict[str, str]:
    """The output of ``env -0`` as a dict."""
    env: dict[str, str] = {}
    for item in data.split(b"\0"):
        if item:
            key, _, value = item.decode().partition("=")
            env[key] = value
    return env


# -- the host, seen from outside --------------------------------------------------
def _status(pid: str) -> dict[str, str] | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None  # exited meanwhile
    return {
        key: value.strip() for key, _, value in (line.partition(":") for line in text.splitlines())
    }


def _job_owner(pid: str) -> int | None:
    """The pid whose native sandbox runs process ``pid``: the ``<owner>`` of the job
    cgroup ``job-<owner>-<n>`` it is in (None if it is in none)."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        for part in line.rpartition(":")[2].split("/"):
            prefix, _, rest = part.partition("-")
            owner = rest.partition("-")[0]
            if prefix == "job" and owner.isdigit():
                return int(owner)
    return None


def _descends_from(pid: str, owners: Collection[int]) -> bool:
    """Whether ``pid`` is a descendant of one of ``owners`` (zombies have no cgroup)."""
    for _ in range(64):  # deeper than any sandbox's process tree
        status = _status(pid)
        if status is None or not status.get("PPid", "0").isdigit():
            return False
        pid = status["PPid"]
        if int(pid) in owners:
            return True
        if int(pid) <= 1:
            return False
    return False


def native_sandbox_processes(owners: Collection[int] | None = None) -> list[str]:
    """Processes of the native sandbox user that sandboxes of ``owners`` (pids;
    default this process) started: in their job cgroups, or their descendants.

    Other processes' sandboxes on the same host are not this test's business.
    Zombies already handed to the host's init are dead and no longer ours to
    reap (init may take a moment); any other zombie is a leak and counts.
    """
    owners = {os.getpid()} if owners is None else set(owners)
    found: list[str] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _status(entry.name)
        if fields is None:
            continue
        uids = fields.get("Uid", "").split()
        if not uids or int(uids[0]) != NATIVE_HOST_UID:
            continue
        if _job_owner(entry.name) not in owners and not _descends_from(entry.name, owners):
            continue
        state, ppid = fields.get("State", "?"), fields.get("PPid", "?")
        if state.startswith("Z") and ppid == "1":
            continue
        found.append(f"pid {entry.name} {fields.get('Name', '?')} [{state}] ppid {ppid}")
    return found


def sandbox_shm_files(uid: int) -> set[str]:
    """Files in the host's /dev/shm that the sandbox user (host ``uid``) owns: only
    a sandbox that reached the host's /dev/shm could have made one."""
    found = set()
    for path in Path("/dev/shm").iterdir():
        try:
            if path.lstat().st_uid == uid:
                found.add(path.name)
        except OSError:
            continue  # removed meanwhile
    return found


def docker_client() -> Any:
    import docker

    return docker.from_env()


def docker_owner(pid: int | None = None) -> str:
    """``<hostname>:<pid>``: how the owner labels of process ``pid``'s containers begin."""
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}"


def docker_sandbox_containers(
    client: Any, *, owner: str | None = None, running_only: bool = False
) -> list[Any]:
    """Sandbox containers, only those of one owning process if ``owner`` (``docker_owner``,
    which the label's token follows) is given.

    Other people's sandboxes on a shared host are not this test's business.
    """
    containers: list[Any] = client.containers.list(
        all=not running_only, filters={"label": [DOCKER_LABEL]}, ignore_removed=True
    )

    def owned(container: Any) -> bool:
        label = str(container.labels.get(DOCKER_OWNER_LABEL, ""))
        return label == owner or label.startswith(f"{owner}:")

    return containers if owner is None else [c for c in containers if owned(c)]


def docker_processes(container: Any) -> set[str]:
    import docker.errors

    try:
        top = container.top()
    except docker.errors.DockerException:
        return set()  # gone meanwhile
    titles: list[str] = list(top.get("Titles") or [])
    pid_at, cmd_at = titles.index("PID"), titles.index("CMD")
    return {
        f"container {container.short_id} pid {p[pid_at]}: {p[cmd_at]}"
        for p in top.get("Processes") or []
    }


def wait_until(check: Callable[[], list[str]], timeout_s: float) -> list[str]:
    """Poll ``check`` until it returns nothing or the time is up; its last answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)


class HostGuard:
    """What the host looked like before a test, and checks that it still does.

    For Docker, the processes of each sandbox container right after it opened
    (its init) are the baseline: between runs nothing else may be left.
    """

    def __init__(self, backend: str, directory: Path) -> None:
        self.backend = backend
        self.canary_path = directory / "host-canary.txt"
        self.canary = f"assay-host-canary-{secrets.token_hex(16)}".encode()
        self.canary_path.write_bytes(self.canary)
        self._canary_stat = self.canary_path.stat()
        self._etc_hostname = Path("/etc/hostname").read_bytes()
        self._hostname = socket.gethostname()
        self._clock_offset = time.time() - time.monotonic()
        # The sandbox user as the host sees it (Docker maps no user namespace).
        self._sandbox_uid = NATIVE_HOST_UID if backend == "native" else SANDBOX_UID
        self._shm = sandbox_shm_files(self._sandbox_uid)
        self._docker: Any = None
        self._owner = docker_owner()
        self._known_containers: set[str] = set()
        self._baseline: set[str] = set()
        if backend == "docker":
            self._docker = docker_client()
            for container in self._containers():
                self._known_containers.add(container.id)
                self._baseline |= docker_processes(container)

    def _containers(self, *, running_only: bool = False) -> list[Any]:
        return docker_sandbox_containers(self._docker, owner=self._owner, running_only=running_only)

    def sandbox_opened(self) -> None:
        """Record the processes of the sandbox container that just appeared."""
        if self._docker is None:
            return
        new = [c for c in self._containers(running_only=True) if c.id not in self._known_containers]
        assert new, (
            f"no new running container labelled {DOCKER_LABEL} and "
            f"{DOCKER_OWNER_LABEL}={self._owner} after opening a sandbox"
        )
        for container in new:
            self._known_containers.add(container.id)
            self._baseline |= docker_processes(container)

    def after_reset(self) -> None:
        """Record a container that may have replaced a reset sandbox's (its idle init)."""
        if self._docker is None:
            return
        for container in self._containers(running_only=True):
            if container.id not in self._known_containers:
                self._known_containers.add(container.id)
                self._baseline |= docker_processes(container)

    def sandbox_processes(self) -> list[str]:
        """Sandbox processes on the host beyond the baseline."""
        if self._docker is None:
            return native_sandbox_processes({os.getpid()})
        found: set[str] = set()
        for container in self._containers(running_only=True):
            found |= docker_processes(container)
        return sorted(found - self._baseline)

    def assert_no_sandbox_processes(self, timeout_s: float = 1.0) -> None:
        left = wait_until(self.sandbox_processes, timeout_s)
        assert not left, f"sandbox processes still alive on the host after the run: {left}"

    def close_and_assert_gone(
        self, *boxes: Sandbox, owner_pid: int | None = None, timeout_s: float = 2.0
    ) -> None:
        """Close the sandboxes; then no sandbox process or container may remain.

        ``owner_pid``: check the sandboxes of that process (e.g. a CLI run) instead
        (natively: as well as this process's).
        """
        for box in boxes:
            box.close()
        if self._docker is None:
            owners = {os.getpid()} if owner_pid is None else {os.getpid(), owner_pid}
            left = wait_until(lambda: native_sandbox_processes(owners), timeout_s)
            assert not left, f"sandbox processes alive after close: {left}"
            return
        owner = docker_owner(owner_pid)

        def containers() -> list[str]:
            return [
                f"{c.short_id} {c.status}"
                for c in docker_sandbox_containers(self._docker, owner=owner)
            ]

        left = wait_until(containers, timeout_s)
        assert not left, f"sandbox containers remain after close: {left}"

    def assert_host_unchanged(self) -> None:
        assert self.canary_path.read_bytes() == self.canary, "host canary file changed"
        st = self.canary_path.stat()
        assert (st.st_mtime_ns, st.st_mode, st.st_uid) == (
            self._canary_stat.st_mtime_ns,
            self._canary_stat.st_mode,
            self._canary_stat.st_uid,
        ), "host canary file metadata changed"
        assert Path("/etc/hostname").read_bytes() == self._etc_hostname, "/etc/hostname changed"
        assert socket.gethostname() == self._hostname, "host name changed"
        drift = abs(time.time() - time.monotonic() - self._clock_offset)
        assert drift < 1.0, f"host wall clock jumped by {drift:.1f}s"
        new_shm = sandbox_shm_files(self._sandbox_uid) - self._shm
        assert not new_shm, f"new sandbox files in the host's /dev/shm: {sorted(new_shm)}"

    def check(self, *boxes: Sandbox) -> None:
        """All host-side checks: no process left, close cleans up, host unchanged."""
        self.assert_no_sandbox_processes()
        self.close_and_assert_gone(*boxes)
        self.assert_host_unchanged()


class SandboxFactory(Protocol):
    def __call__(
        self,
        environment: str | Environment | None = None,
        *,
        limits: Limits | None = None,
        network: bool = False,
    ) -> Sandbox: ...


def all_text(results: Iterable[RunResult]) -> bytes:
    return b"".join(r.stdout + r.stderr for r in results)
