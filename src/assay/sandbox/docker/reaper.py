"""Killing every process a run left in its container, and checking they are gone.

With write access to the host's cgroup files (root), the container's cgroup
is frozen, each process but the container's idle ones gets SIGKILL, and the
cgroup is thawed: nothing can fork meanwhile, so fork bombs and
double-forked daemons die too. Otherwise ``kill -9 -1`` is exec'd inside as
the run's user, whose processes are the only ones it can signal (the idle
processes run as ``nobody``, and nobody in the container has CAP_KILL).
"""

from __future__ import annotations

import logging
import os
import signal
import time

from assay.errors import SandboxError
from assay.sandbox.docker.api import DockerAPI
from assay.sandbox.docker.cgroup_stats import CgroupStats
from assay.sandbox.docker.execio import run_helper

logger = logging.getLogger(__name__)

KILL_ATTEMPTS = 5
GONE_TIMEOUT_S = 1.0
_KILL_LOOP = "i=0; while kill -9 -1 2>/dev/null && [ $i -lt 10000 ]; do i=$((i+1)); done"


class Reaper:
    def __init__(
        self, api: DockerAPI, container_id: str, stats: CgroupStats, idle: frozenset[int]
    ) -> None:
        self.api = api
        self.container_id = container_id
        self.stats = stats
        self.idle = idle

    def leftovers(self) -> set[int]:
        """Host pids of processes other than the container's idle init and sleep."""
        return self.stats.procs() - self.idle

    def kill_all(self, user: str) -> None:
        """Kill every process but the idle ones; return once they are gone."""
        for _ in range(KILL_ATTEMPTS):
            if not self.leftovers():
                return
            if not self._kill_frozen():
                self._kill_by_exec(user)
            if self._wait_gone(GONE_TIMEOUT_S):
                return
        raise SandboxError(f"processes of a run survived SIGKILL: {sorted(self.leftovers())}")

    def _kill_frozen(self) -> bool:
        if not self.stats.freeze():
            return False
        try:
            for pid in self.leftovers():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                except PermissionError:
                    return False
        finally:
            self.stats.thaw()
        return True

    def _kill_by_exec(self, user: str) -> None:
        try:
            run_helper(
                self.api, self.container_id, ["/bin/sh", "-c", _KILL_LOOP], user=user, timeout_s=5.0
            )
        except SandboxError as exc:
            logger.warning("kill -9 -1 inside %s failed: %s", self.container_id[:12], exc)

    def _wait_gone(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.leftovers():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)
        return True
