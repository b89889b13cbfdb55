"""The native backend: bubblewrap namespaces + cgroups + rlimits + seccomp."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

from assay.config import Settings, get_settings
from assay.errors import SandboxClosedError, SandboxUnavailableError
from assay.sandbox.base import (
    BackendSession,
    CheckItem,
    SandboxBackend,
    SessionConfig,
    WorkspaceEntry,
)
from assay.sandbox.environments import Environment
from assay.sandbox.native import seccomp
from assay.sandbox.native.cgroups import CgroupDriver, JobLimits, detect_driver
from assay.sandbox.native.check import native_checks
from assay.sandbox.native.command import RootLayout, build_etc, bwrap_argv
from assay.sandbox.native.launcher import build_launcher, launcher_argv
from assay.sandbox.native.supervisor import Launch, rlimits, supervise
from assay.sandbox.native.workspace import Workspace
from assay.sandbox.result import RunResult
from assay.sandbox.spec import MIB, RunSpec

log = logging.getLogger(__name__)

TMP_MAX_BYTES = 64 * MIB
# The launcher, bubblewrap's outer process and the namespace's init live in the
# job's pids cgroup too; Limits.pids counts only the program's processes.
BWRAP_PROCESSES = 3


class BwrapSession(BackendSession):
    def __init__(self, backend: BwrapBackend, config: SessionConfig) -> None:
        self.backend = backend
        self.config = config
        self._lock = threading.Lock()
        settings = backend.settings
        self.workspace: Workspace | None = Workspace(
            settings.state_dir / "sandboxes",
            config.limits.workspace_bytes,
            settings.sandbox_uid,
            settings.sandbox_gid,
        )

    def _ws(self) -> Workspace:
        if self.workspace is None:
            raise SandboxClosedError()
        return self.workspace

    def add_entries(self, entries: Sequence[WorkspaceEntry]) -> None:
        with self._lock:
            self._ws().add_entries(entries)

    def read_file(self, path: str, max_bytes: int) -> bytes:
        with self._lock:
            return self._ws().read_file(path, max_bytes)

    def list_files(self, path: str = ".") -> list[str]:
        with self._lock:
            return self._ws().list_files(path)

    def reset(self) -> None:
        with self._lock:
            self._ws().reset()

    def run(self, spec: RunSpec) -> RunResult:
        with self._lock:
            return self.backend.run_in(self._ws(), spec)

    def close(self) -> None:
        with self._lock:
            workspace, self.workspace = self.workspace, None
            if workspace is not None:
                workspace.destroy()


class BwrapBackend(SandboxBackend):
    """Sandboxes made of bubblewrap namespaces, cgroups, rlimits and seccomp."""

    name = "native"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._ready = False
        self._init_lock = threading.Lock()
        self._bwrap = ""
        self._launcher = Path()
        self._layout: RootLayout | None = None
        self._cgroups: CgroupDriver | None = None

    def _prepare(self) -> tuple[str, Path, RootLayout, CgroupDriver]:
        with self._init_lock:
            if not self._ready:
                if os.geteuid() != 0:
                    raise SandboxUnavailableError(
                        "the native backend needs root: it mounts workspaces and makes cgroups",
                        fix="run as root (e.g. a worker service), or use --backend docker",
                    )
                bwrap = shutil.which(self.settings.bwrap)
                if bwrap is None:
                    raise SandboxUnavailableError(
                        "bubblewrap is not installed", fix="apt-get install bubblewrap"
                    )
                seccomp.filter_bpf()
                etc = build_etc(self.settings.state_dir / "etc")
                self.settings.state_dir.chmod(0o711)
                (self.settings.state_dir / "sandboxes").mkdir(mode=0o711, exist_ok=True)
                self._launcher = build_launcher(self.settings.state_dir / "bin")
                self._cgroups = detect_driver(self.settings.cgroup_parent)
                self._layout = RootLayout.from_host(etc)
                self._bwrap = bwrap
                self._ready = True
        if self._layout is None or self._cgroups is None:
            raise SandboxUnavailableError("the native backend failed to initialise")
        return self._bwrap, self._launcher, self._layout, self._cgroups

    def open_session(self, config: SessionConfig) -> BackendSession:
        self._prepare()
        return BwrapSession(self, config)

    def run_in(self, workspace: Workspace, spec: RunSpec) -> RunResult:
        bwrap, launcher, layout, driver = self._prepare()
        limits = spec.limits
        cgroup = driver.create(
            f"job-{uuid.uuid4().hex[:16]}",
            JobLimits(limits.memory_bytes, limits.pids + BWRAP_PROCESSES),
        )
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        try:
            seccomp_fd = seccomp.filter_fd()
            argv = bwrap_argv(
                bwrap,
                layout,
                workspace.path,
                spec,
                tmp_bytes=min(TMP_MAX_BYTES, limits.workspace_bytes),
                seccomp_fd=seccomp_fd,
                status_fd=status_w,
            )
            # supervise() closes the passed fds once bubblewrap has its copies.
            prefix = launcher_argv(
                launcher,
                cgroup.procs_files,
                rlimits(limits),
                self.settings.sandbox_uid,
                self.settings.sandbox_gid,
            )
            launch = Launch(prefix + argv, dict(spec.env), (seccomp_fd, status_w))
            return supervise(launch, spec, cgroup, status_r)
        finally:
            os.close(status_r)
            cgroup.remove()

    def check(self, environment: Environment | None = None) -> list[CheckItem]:
        return native_checks(
            self,
            environment,
            bwrap=shutil.which(self.settings.bwrap),
            uid=self.settings.sandbox_uid,
            cgroup_parent=self.settings.cgroup_parent,
        )
