"""The native backend: bubblewrap namespaces + cgroups + rlimits + seccomp.

Fork-safe: a forked child gets a backend as if no sandbox had been used (new
locks, no slots, its own scheduler), and sessions opened before the fork are
closed there without touching the parent's workspaces (``assay.sandbox.forks``).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from assay.config import Settings
from assay.errors import SandboxClosedError, SandboxError, SandboxUnavailableError
from assay.sandbox import forks
from assay.sandbox.base import (
    BackendSession,
    CheckItem,
    SandboxBackend,
    SessionConfig,
    WorkspaceEntry,
)
from assay.sandbox.environments import Environment
from assay.sandbox.envs.provider import EnvironmentProvider
from assay.sandbox.envs.resolve import store_from_settings
from assay.sandbox.native import seccomp
from assay.sandbox.native.cgroups import CgroupDriver, JobLimits, detect_driver
from assay.sandbox.native.check import native_checks
from assay.sandbox.native.command import SANDBOX_UID, RootLayout, bwrap_argv
from assay.sandbox.native.launcher import build_launcher
from assay.sandbox.native.prepared import AnchorConfig, NamespacePool, SessionNamespaces
from assay.sandbox.native.scheduler import CpuScheduler, default_cores
from assay.sandbox.native.slots import Slot, SlotPool
from assay.sandbox.native.stale import (
    kill_own_sandboxes,
    remove_leftovers,
    remove_stale_sandboxes,
)
from assay.sandbox.native.stall import MAX_STALL_FACTOR
from assay.sandbox.native.statedir import unreachable_error, unreachable_tree_error
from assay.sandbox.native.supervisor import Launch, Scheduled, supervise
from assay.sandbox.native.workspace import Workspace, remove_stale
from assay.sandbox.owner import SandboxOwner
from assay.sandbox.result import RunResult
from assay.sandbox.spec import MIB, RunSpec

log = logging.getLogger(__name__)

TMP_MAX_BYTES = 64 * MIB
# The launcher, bubblewrap's outer process and the namespace's init live in the
# job's pids cgroup too; Limits.pids counts only the program's processes.
BWRAP_PROCESSES = 3
PREPARED_PROCESSES = 2  # a prepared run (prepared.py): the launcher and the init
PREPARED_READY = 2  # sessions' namespaces kept ready (a fresh sandbox waits for none)
# The fds the launcher gives bubblewrap after stdin, stdout and stderr.
LAUNCH_SECCOMP_FD = 3
LAUNCH_STATUS_FD = 4
# Workspace changes and close() wait for the session's runs in flight: at most
# as long as the longest of them may last (wall limit and excused stalls), plus this.
RUNS_END_GRACE_S = 600.0
INHERITED = "this sandbox was opened before the process forked: open a new one in the child"


class BwrapSession(BackendSession):
    """Runs may overlap (each has its own cgroup); workspace changes wait for them."""

    concurrent_runs = True

    def __init__(self, backend: BwrapBackend, config: SessionConfig) -> None:
        self.backend = backend
        self.config = config
        self._lock = threading.Condition()
        self._running: list[float] = []  # the wall limits of the runs in flight
        self._inherited = False
        self._namespaces: SessionNamespaces | None = None  # taken at the first prepared run
        self._group: int | None = None  # its runs' group in the CPU scheduler (first run)
        # The environment's tree first: finding (or building) it may fail, and then
        # no workspace has been made.
        self.layout = backend.layout_for(config.environment)
        settings = backend.settings
        self.workspace: Workspace | None = Workspace(
            settings.state_dir / "sandboxes",
            config.limits.workspace_bytes,
            settings.sandbox_uid,
            settings.sandbox_gid,
        )
        # A session never closed (or open at exit) still gives its mount back.
        self._finalizer = weakref.finalize(self, self.workspace.destroy)
        forks.register(self)

    def _wait_idle(self) -> None:
        """Wait (lock held) until no run uses the workspace; bounded by the runs' limits."""
        bound_s = RUNS_END_GRACE_S + (1 + MAX_STALL_FACTOR) * max(self._running, default=0.0)
        if not self._lock.wait_for(lambda: not self._running, timeout=bound_s):
            raise SandboxError(
                f"{len(self._running)} runs of this sandbox did not end within {bound_s:.0f} s"
            )

    def _closed_error(self) -> SandboxClosedError:
        return SandboxClosedError(INHERITED) if self._inherited else SandboxClosedError()

    def _ws(self) -> Workspace:
        """The workspace, once no run is using it (call with the lock held)."""
        self._wait_idle()
        if self.workspace is None:
            raise self._closed_error()
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
            if self.workspace is None:
                raise self._closed_error()
            workspace = self.workspace
            namespaces = None
            if prepared(spec):
                if self._namespaces is None:  # until there are, bubblewrap per run
                    self._namespaces = self.backend.take_namespaces(self.layout)
                namespaces = self._namespaces
            self._running.append(spec.limits.wall_time_s)
            scheduler = self.backend.scheduler
            if self._group is None and scheduler is not None:  # at its first run
                self._group = scheduler.new_group()
            group = self._group
        try:
            return self.backend.run_in(workspace, spec, self.layout, namespaces, group=group)
        finally:
            with self._lock:
                self._running.remove(spec.limits.wall_time_s)
                self._lock.notify_all()

    def close(self) -> None:
        """No run is left (waited for), so nothing uses the workspace or namespaces any
        more: unmounting the one and freeing the others (each waits milliseconds for
        the kernel) is the backend's background work, off the caller's path."""
        with self._lock:
            self._wait_idle()
            self.workspace = None
            namespaces, self._namespaces = self._namespaces, None
        self.backend.dispose(self._finalizer, namespaces)

    def after_fork_in_child(self) -> None:
        """The workspace is the parent's: closed here, never unmounted by the child."""
        self._finalizer.detach()
        self._lock = threading.Condition()
        self._running = []
        self._inherited = self.workspace is not None
        self.workspace = None
        if self._namespaces is not None:  # the child's copies of the fds
            self._namespaces.close()
            self._namespaces = None


def prepared(spec: RunSpec) -> bool:
    """Whether a run goes in its session's prepared namespaces (``prepared.py``):
    all but those with network access or as root, which get a bubblewrap each."""
    return not spec.network and not spec.as_root


class BwrapBackend(SandboxBackend):
    """Sandboxes made of bubblewrap namespaces, cgroups, rlimits and seccomp."""

    name = "native"

    @classmethod
    def from_settings(cls, settings: Settings) -> BwrapBackend:
        return cls(settings)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ready = False
        self._init_lock = threading.Lock()
        self._bwrap = ""
        self.environments = EnvironmentProvider(store_from_settings(settings))
        self._layouts: dict[str, RootLayout] = {}  # by environment key
        self._slots: SlotPool | None = None
        self._pool_args: tuple[Path, CgroupDriver] | None = None  # to make slots anew
        self._seccomp = Path()
        self._anchors: dict[str, NamespacePool] = {}  # by environment key
        # Set at start when the sandbox user cannot reach the state directory: every
        # run raises it (bubblewrap would fail on each; see statedir.py).
        self._unreachable: SandboxUnavailableError | None = None
        self._disposer: ThreadPoolExecutor | None = None  # closed sessions' teardown
        self.scheduler: CpuScheduler | None = None
        if self.settings.native_cpu_scheduling:
            self.scheduler = CpuScheduler(
                self.settings.native_cpu_slots or default_cores(),
                self.settings.native_cpu_quantum_s,
            )
        forks.register(self)

    def after_fork_in_child(self) -> None:
        """The slots (and their launchers) are the parent's: new ones on first use.

        The rest (the /etc copy, the seccomp filter, the launcher binary) is
        shared; the scheduler resets itself; the parent's pool let go of its slots.
        """
        self._init_lock = threading.Lock()
        self._slots = None
        self._anchors = {}
        self._disposer = None  # the parent's queued teardown is the parent's

    def _prepare(self) -> tuple[str, SlotPool]:
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
                self._unreachable = unreachable_error(
                    self.settings.state_dir, self.settings.sandbox_uid, self.settings.sandbox_gid
                )
                if self._unreachable is not None:  # said once here; each run raises it
                    log.error("%s; fix: %s", self._unreachable.message, self._unreachable.fix)
                self._seccomp = seccomp.write_filter(self.settings.state_dir / "bin")
                self.settings.state_dir.chmod(0o711)
                (self.settings.state_dir / "sandboxes").mkdir(mode=0o711, exist_ok=True)
                for stale in remove_stale(self.settings.state_dir / "sandboxes"):
                    log.info("removed a stale workspace", extra={"workspace": str(stale)})
                launcher = build_launcher(self.settings.state_dir / "bin")
                driver = detect_driver(self.settings.cgroup_parent)
                self._pool_args = (launcher, driver)
                self._slots = SlotPool(launcher, driver, self.settings.native_ready_slots)
                atexit.register(self.shutdown)
                self._bwrap = bwrap
                self._ready = True
            if self._slots is None and self._pool_args is not None:  # in a forked child
                self._slots = SlotPool(*self._pool_args, self.settings.native_ready_slots)
            if self._slots is None:
                raise SandboxUnavailableError("the native backend failed to initialise")
            return self._bwrap, self._slots

    @property
    def environment_provider(self) -> EnvironmentProvider:
        return self.environments

    def layout_for(self, environment: Environment) -> RootLayout:
        """The root a sandbox in ``environment`` sees: its built tree, found in the
        store, fetched or built on first use in this process (``EnvironmentProvider``)."""
        layout = self._layouts.get(environment.key)
        if layout is None:
            rootfs = self.environments.rootfs(environment.plan)
            error = unreachable_tree_error(
                rootfs, self.settings.sandbox_uid, self.settings.sandbox_gid
            )
            if error is not None:
                raise error
            layout = RootLayout.from_rootfs(rootfs)
            self._layouts[environment.key] = layout
        return layout

    def open_session(self, config: SessionConfig) -> BackendSession:
        self._prepare()
        return BwrapSession(self, config)

    def dispose(
        self, destroy_workspace: Callable[[], object], namespaces: SessionNamespaces | None
    ) -> None:
        """Tear a closed session down in the background (at once if that cannot be).

        One worker thread; what is queued still runs at interpreter exit and in
        ``shutdown``. A crash before leaves a workspace that ``remove_stale`` finds.
        """

        def teardown() -> None:
            try:
                destroy_workspace()
            finally:
                if namespaces is not None:
                    namespaces.close()

        with self._init_lock:
            if self._disposer is None:
                self._disposer = ThreadPoolExecutor(1, thread_name_prefix="assay-dispose")
            disposer = self._disposer
        try:
            disposer.submit(_logged, teardown)
        except RuntimeError:  # shut down (interpreter exit): do it here
            teardown()

    def take_namespaces(self, layout: RootLayout) -> SessionNamespaces | None:
        """Ready namespaces with ``layout``'s root for a session, if there are (see
        ``NamespacePool``; one pool per environment in use)."""
        bwrap, _ = self._prepare()
        if self._unreachable is not None:
            return None  # run_in raises the error; no pool retrying a failing bubblewrap
        key = str(layout.rootfs)
        with self._init_lock:
            anchors = self._anchors.get(key)
            if anchors is None:
                config = AnchorConfig(
                    bwrap,
                    layout,
                    self.settings.state_dir / "bin",
                    self._seccomp,
                    self.settings.sandbox_uid,
                    self.settings.sandbox_gid,
                )
                anchors = self._anchors[key] = NamespacePool(config, PREPARED_READY)
        return anchors.take()

    def run_in(
        self,
        workspace: Workspace,
        spec: RunSpec,
        layout: RootLayout,
        namespaces: SessionNamespaces | None = None,
        *,
        group: int | None = None,
    ) -> RunResult:
        """``group``: the session's place in the CPU scheduler's order (see
        ``CpuScheduler.new_group``)."""
        bwrap, slots = self._prepare()
        if self._unreachable is not None:
            raise self._unreachable
        limits = spec.limits
        extra = PREPARED_PROCESSES if namespaces is not None else BWRAP_PROCESSES
        job_limits = JobLimits(limits.memory_bytes, limits.pids + extra)
        scheduled = None
        if self.scheduler is not None:  # may wait here: the wall clock has not started
            scheduled = Scheduled(self.scheduler, self.scheduler.admit(limits.memory_bytes, group))
        slot = None
        try:
            slot = slots.take(job_limits)
            if scheduled is not None:
                scheduled.scheduler.attach(scheduled.ticket, slot.cgroup)
            return self._launch(
                workspace,
                spec,
                slot,
                bwrap=bwrap,
                layout=layout,
                job_limits=job_limits,
                scheduled=scheduled,
                namespaces=namespaces,
            )
        finally:
            # Out of the scheduler first (idempotent): it must not touch a released cgroup.
            if scheduled is not None:
                scheduled.scheduler.leave(scheduled.ticket)
            if slot is not None:
                slots.release(slot)

    def _launch(
        self,
        workspace: Workspace,
        spec: RunSpec,
        slot: Slot,
        *,
        bwrap: str,
        layout: RootLayout,
        job_limits: JobLimits,
        scheduled: Scheduled | None,
        namespaces: SessionNamespaces | None,
    ) -> RunResult:
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        try:
            handed = [status_w]  # ours to close until supervise() takes them
            try:
                seccomp_fd = seccomp.filter_fd(self._seccomp)
                handed.append(seccomp_fd)
                if namespaces is not None:
                    launch = _prepared_launch(
                        workspace,
                        spec,
                        namespaces,
                        job_limits=job_limits,
                        seccomp_fd=seccomp_fd,
                        status_w=status_w,
                    )
                else:
                    argv = bwrap_argv(
                        bwrap,
                        layout,
                        workspace.path,
                        spec,
                        tmp_bytes=min(TMP_MAX_BYTES, spec.limits.workspace_bytes),
                        seccomp_fd=LAUNCH_SECCOMP_FD,
                        status_fd=LAUNCH_STATUS_FD,
                    )
                    launch = Launch(
                        argv,
                        dict(spec.env),
                        (seccomp_fd, status_w),  # -> LAUNCH_SECCOMP_FD, LAUNCH_STATUS_FD
                        self.settings.sandbox_uid,
                        self.settings.sandbox_gid,
                        job_limits,
                    )
            except BaseException:
                for fd in handed:
                    os.close(fd)
                raise
            # supervise() closes the passed fds once the launcher has its copies.
            return supervise(
                slot,
                launch,
                spec,
                status_r,
                scheduled,
                excuse_stalls=self.settings.native_wall_excludes_cpu_wait,
            )
        finally:
            os.close(status_r)

    def shutdown(self) -> None:
        """Let the parked launchers go and remove their cgroups, and the trees used."""
        with self._init_lock:
            slots, self._slots = self._slots, None
            anchors, self._anchors = self._anchors, {}
            disposer, self._disposer = self._disposer, None
            self._ready = False
        if disposer is not None:
            disposer.shutdown(wait=True)
        if slots is not None:
            slots.close()
        for pool in anchors.values():
            pool.close()
        self._layouts.clear()
        self.environments.release()  # the store's shared locks on the trees used

    def check(self, environment: Environment | None = None) -> list[CheckItem]:
        return native_checks(
            self,
            environment,
            bwrap=shutil.which(self.settings.bwrap),
            uid=self.settings.sandbox_uid,
            gid=self.settings.sandbox_gid,
            state_dir=self.settings.state_dir,
            cgroup_parent=self.settings.cgroup_parent,
        )

    def remove_leftovers(self, owner: SandboxOwner) -> list[str]:
        return remove_leftovers(self.settings, owner)

    def kill_own(self) -> list[str]:
        return kill_own_sandboxes(self.settings)

    def remove_stale(self) -> list[str]:
        return remove_stale_sandboxes(self.settings)


def _logged(teardown: Callable[[], None]) -> None:
    try:
        teardown()
    except (SandboxError, OSError) as exc:
        log.warning("cannot tear a closed sandbox down: %s", exc)


def _prepared_launch(
    workspace: Workspace,
    spec: RunSpec,
    namespaces: SessionNamespaces,
    *,
    job_limits: JobLimits,
    seccomp_fd: int,
    status_w: int,
) -> Launch:
    """A run in the session's prepared namespaces: the launcher's fds 3-9 and fields
    (``prepared.h``); the uid and gid are the sandbox user's inside."""
    opened: list[int] = []  # closed here on failure (the caller's two are the caller's)
    try:
        opened += namespaces.dup_fds()
        opened.append(
            os.open(workspace.path, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        )
    except BaseException:
        for fd in opened:
            os.close(fd)
        raise
    fds = [seccomp_fd, status_w, *opened]
    tmp_bytes = min(TMP_MAX_BYTES, spec.limits.workspace_bytes)
    cwd = "/work" if spec.cwd == "." else f"/work/{spec.cwd}"
    return Launch(
        list(spec.argv),
        dict(spec.env),
        tuple(fds),
        SANDBOX_UID,
        SANDBOX_UID,
        job_limits,
        fields=("P", f"W{cwd}", f"T{tmp_bytes}"),
    )
