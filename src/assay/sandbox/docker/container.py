"""Sandbox containers: how they are configured, started and watched.

A container runs ``docker-init`` with an idle ``sleep infinity`` as
``nobody``; every run is a ``docker exec`` into it. The root filesystem is
read-only, ``/work`` and ``/tmp`` are size-capped tmpfs mounts, there is no
network, no capability, no privilege gain, a seccomp profile of our own,
swap is off and the OOM killer stays on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from assay.errors import SandboxError
from assay.sandbox.base import SessionConfig
from assay.sandbox.docker import seccomp_profile
from assay.sandbox.docker.api import DockerAPI
from assay.sandbox.docker.cgroup_stats import CgroupStats, locate, protect_from_oom
from assay.sandbox.docker.constants import IDLE_UID, LABEL, LABEL_OWNER, WORKSPACE_DIR
from assay.sandbox.docker.reaper import Reaper
from assay.sandbox.docker.supervisor import RunContext
from assay.sandbox.docker.workspace import Workspace
from assay.sandbox.owner import this_process
from assay.sandbox.spec import MIB

logger = logging.getLogger(__name__)

TMP_MAX_BYTES = 64 * MIB
SHM_BYTES = 64 * MIB
HELPER_MEMORY_BYTES = 64 * MIB
IDLE_COMMAND = ("sleep", "infinity")
IDLE_PROCESSES = 2  # docker-init and sleep; Limits.pids counts the program's only
IDLE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ContainerSpec:
    """What a container is created with; containers of equal specs are interchangeable."""

    image: str
    memory_bytes: int
    pids: int
    workspace_bytes: int
    network: bool = False

    @classmethod
    def for_session(cls, config: SessionConfig) -> ContainerSpec:
        limits = config.limits
        return cls(
            config.environment.docker_image,
            limits.memory_bytes,
            limits.pids,
            limits.workspace_bytes,
            config.network,
        )


def host_config_options(spec: ContainerSpec) -> dict[str, Any]:
    """Options of ``create_host_config`` for ``spec``."""
    tmp_bytes = min(TMP_MAX_BYTES, spec.workspace_bytes)
    return {
        "init": True,
        "read_only": True,
        "network_mode": "bridge" if spec.network else "none",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges", seccomp_profile.security_opt()],
        "tmpfs": {
            # 1777 and root-owned, so that root-owned (read-only) files can be added by
            # the sandbox's root, which has no capability to write into another's directory.
            WORKSPACE_DIR: f"rw,exec,nosuid,nodev,size={spec.workspace_bytes},mode=1777",
            "/tmp": f"rw,exec,nosuid,nodev,size={tmp_bytes},mode=1777",
        },
        "mem_limit": spec.memory_bytes,
        "memswap_limit": spec.memory_bytes,
        "oom_kill_disable": False,
        "pids_limit": spec.pids + IDLE_PROCESSES,
        "ipc_mode": "private",
        "shm_size": SHM_BYTES,
    }


class SandboxContainer:
    """A started container, its cgroup and the means to run and clean up in it."""

    def __init__(
        self,
        api: DockerAPI,
        spec: ContainerSpec,
        container_id: str,
        stats: CgroupStats,
        idle: frozenset[int],
    ) -> None:
        self.api = api
        self.spec = spec
        self.id = container_id
        self.stats = stats
        self.reaper = Reaper(api, container_id, stats, idle)
        self.workspace = Workspace(api, container_id)
        self.context = RunContext(api, container_id, stats, self.reaper)
        self.memory_bytes = spec.memory_bytes
        self.pids = spec.pids

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def is_alive(self) -> bool:
        try:
            return len(self.stats.procs()) >= len(self.reaper.idle)
        except SandboxError:
            return False

    def room_for_helper(self) -> None:
        """Memory for our own helpers, which run inside: a run may have filled it all.

        Workspace files (tmpfs pages, inodes) are charged to the container's
        memory; the next run's ``ensure_limits`` puts the run's limit back.
        """
        need = self.stats.memory_current() + HELPER_MEMORY_BYTES
        if need > self.memory_bytes:
            self.api.update_limits(self.id, memory_bytes=need, pids=self.pids + IDLE_PROCESSES)
            self.memory_bytes = need

    def ensure_limits(self, memory_bytes: int, pids: int) -> None:
        """Per-run memory and pids limits; the API is only called when they change."""
        if (memory_bytes, pids) != (self.memory_bytes, self.pids):
            self.api.update_limits(self.id, memory_bytes=memory_bytes, pids=pids + IDLE_PROCESSES)
            self.memory_bytes, self.pids = memory_bytes, pids


def start_container(api: DockerAPI, spec: ContainerSpec) -> SandboxContainer:
    """Create and start a sandbox container; remove it again if anything fails."""
    host_config = api.host_config(**host_config_options(spec))
    labels = {LABEL: "1", LABEL_OWNER: str(this_process())}
    container_id = api.create_container(
        spec.image,
        IDLE_COMMAND,
        user=f"{IDLE_UID}:{IDLE_UID}",
        host_config=host_config,
        labels=labels,
        network=spec.network,
    )
    try:
        return _attach(api, spec, container_id)
    except BaseException:
        try:
            api.remove(container_id)
        except SandboxError as exc:
            logger.warning("could not remove failed container %s: %s", container_id[:12], exc)
        raise


def _attach(api: DockerAPI, spec: ContainerSpec, container_id: str) -> SandboxContainer:
    api.start(container_id)
    state = api.inspect(container_id).get("State") or {}
    init_pid = int(state.get("Pid") or 0)
    if not state.get("Running") or init_pid <= 0:
        raise SandboxError(f"container {container_id[:12]} did not start: {state}")
    stats = CgroupStats(locate(container_id, init_pid))
    idle = _wait_idle(stats)
    protect_from_oom(set(idle))
    logger.debug(
        "started sandbox container %s",
        container_id[:12],
        extra={"container": container_id, "image": spec.image},
    )
    return SandboxContainer(api, spec, container_id, stats, idle)


def _wait_idle(stats: CgroupStats) -> frozenset[int]:
    """The pids of docker-init and its idle child, once both exist."""
    deadline = time.monotonic() + IDLE_TIMEOUT_S
    while True:
        procs = stats.procs()
        if len(procs) >= IDLE_PROCESSES:
            return frozenset(procs)
        if time.monotonic() >= deadline:
            raise SandboxError(f"the idle process of the sandbox did not start: {procs}")
        time.sleep(0.001)
