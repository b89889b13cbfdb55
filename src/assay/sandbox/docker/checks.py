"""``assay sandbox check --backend docker``: prerequisites, then each feature tried."""

from __future__ import annotations

import os
from collections.abc import Callable

from assay.errors import AssayError
from assay.sandbox.base import (
    BackendSession,
    CheckItem,
    CheckStatus,
    SandboxBackend,
    SessionConfig,
)
from assay.sandbox.docker.api import DAEMON_FIX, DockerAPI
from assay.sandbox.docker.cgroup_stats import CGROUP_FIX
from assay.sandbox.docker.constants import SANDBOX_UID
from assay.sandbox.docker.container import IDLE_PROCESSES
from assay.sandbox.docker.images import EnvironmentImages
from assay.sandbox.docker.session import DockerSession
from assay.sandbox.environments import Environment, get_environment
from assay.sandbox.probes import PROBE_LIMITS, behaviour_checks
from assay.sandbox.spec import RunSpec

HOST_FILES_FEATURE = "host files hidden"

# Docker's own mounts: the image (overlay), /proc, /dev, /sys, our tmpfs mounts, the
# three files Docker writes per container and its init. Anything else would be the host's.
MOUNTS_PROBE = r"""
import sys
allowed = {"/", "/work", "/tmp", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf",
           "/sbin/docker-init", "/usr/sbin/docker-init"}
odd = []
for line in open("/proc/self/mountinfo"):
    fields = line.split()
    point = fields[4]
    if point in allowed or point.split("/")[1] in ("proc", "dev", "sys"):
        continue
    odd.append(point)
print("ok" if not odd else "extra mounts: " + " ".join(odd))
"""


def _item(
    feature: str, ok: bool, detail: str, fix: str = "", failing: CheckStatus = CheckStatus.FAIL
) -> CheckItem:
    return CheckItem(feature, CheckStatus.OK if ok else failing, detail, "" if ok else fix)


def docker_checks(
    backend: SandboxBackend,
    connect: Callable[[], DockerAPI],
    connect_images: Callable[[], EnvironmentImages],
    environment: Environment | None,
) -> list[CheckItem]:
    """``connect`` gives the backend's daemon connection (raising if unreachable),
    ``connect_images`` its environments' images."""
    env = environment or get_environment("python3")
    try:
        api = connect()
    except AssayError as exc:
        return [_item("Docker daemon", False, exc.message, getattr(exc, "fix", "") or DAEMON_FIX)]
    items = [_item("Docker daemon", True, f"reachable, API {api.version}")]
    items.append(_image_item(connect_images, env))
    if items[-1].status is not CheckStatus.OK:
        return items
    root = os.geteuid() == 0
    items.append(
        _item(
            "cgroup write access",
            root,
            "freeze-and-kill cleanup, exact peak memory"
            if root
            else "not root: cleanup by kill -9 -1 inside; peak memory sampled",
            "run the worker as root on the Docker host",
            CheckStatus.WARN,
        )
    )
    items.append(
        _item(
            "worker uid differs from the sandbox uid",
            os.getuid() != SANDBOX_UID,
            f"worker uid {os.getuid()}, sandbox processes uid {SANDBOX_UID} on the host",
            f"run the worker as a user other than uid {SANDBOX_UID}",
            CheckStatus.WARN,
        )
    )
    items += _session_checks(backend, env)
    rows = behaviour_checks(backend, env, after_run=_survivors)
    items += [_docker_mounts(backend, env) if r.feature == HOST_FILES_FEATURE else r for r in rows]
    return items


def _image_item(connect_images: Callable[[], EnvironmentImages], env: Environment) -> CheckItem:
    """The environment's image: present, or imported now from its tree, which the
    provider fetches or builds first when the store lacks it (as any session would:
    a worker with an empty store gets python3's tree from the platform here)."""
    feature = f"image {env.docker_image} ({env.name})"
    try:
        outcome = connect_images().ensure(env)
    except AssayError as exc:
        return _item(feature, False, exc.message, getattr(exc, "fix", "") or "")
    if not outcome.imported:
        return _item(feature, True, "imported")
    return _item(feature, True, f"imported now from its tree in {outcome.seconds:.1f} s")


def _session_checks(backend: SandboxBackend, env: Environment) -> list[CheckItem]:
    try:
        session = backend.open_session(SessionConfig(env, PROBE_LIMITS))
    except AssayError as exc:
        return [_item("open a sandbox", False, exc.message, getattr(exc, "fix", "") or CGROUP_FIX)]
    try:
        if not isinstance(session, DockerSession):
            return [_item("open a sandbox", False, "not a Docker sandbox session")]
        container = session.container
        files = container.stats.files
        host = container.api.inspect(container.id).get("HostConfig") or {}
        swap_off = host.get("Memory") == host.get("MemorySwap") == PROBE_LIMITS.memory_bytes
        return [
            _item("cgroup files readable", True, f"cgroup v{files.version}: {files.procs.parent}"),
            _item(
                "memory limit with swap off",
                swap_off,
                f"Memory={host.get('Memory')} MemorySwap={host.get('MemorySwap')}",
                "enable swap accounting (kernel: swapaccount=1) or upgrade to cgroup v2",
            ),
            _item(
                "OOM killer enabled",
                not host.get("OomKillDisable"),
                "memory overruns end in a memory-limit verdict",
            ),
            _item(
                "pids limit",
                host.get("PidsLimit") == PROBE_LIMITS.pids + IDLE_PROCESSES,
                f"PidsLimit={host.get('PidsLimit')}",
            ),
        ]
    except AssayError as exc:
        return [_item("inspect a sandbox", False, exc.message)]
    finally:
        session.close()


def _docker_mounts(backend: SandboxBackend, env: Environment) -> CheckItem:
    feature = f"{HOST_FILES_FEATURE} (only the image and Docker's own mounts)"
    try:
        session = backend.open_session(SessionConfig(env, PROBE_LIMITS))
    except AssayError as exc:
        return _item(feature, False, exc.message)
    try:
        result = session.run(
            RunSpec(("python3", "-I", "-c", MOUNTS_PROBE), dict(env.env), limits=PROBE_LIMITS)
        )
    except AssayError as exc:
        return _item(feature, False, exc.message)
    finally:
        session.close()
    text = result.stdout.decode(errors="replace").strip()
    return _item(
        feature,
        text == "ok",
        "no host directory is mounted" if text == "ok" else text,
        "do not add bind mounts or volumes to sandbox containers",
    )


def _survivors(session: BackendSession, _token: str) -> str | None:
    """Whatever still runs in the container (more telling than matching ``_token``)."""
    if not isinstance(session, DockerSession):
        return None
    left = session.leftovers()
    return f"host pids still alive: {sorted(left)}" if left else None
