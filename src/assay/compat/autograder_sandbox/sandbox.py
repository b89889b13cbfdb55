"""``AutograderSandbox``: the autograder-sandbox 6.x class, on an Assay sandbox session."""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO, AnyStr, Self

from assay.compat.autograder_sandbox import defaults
from assay.compat.autograder_sandbox.command import CompletedCommand, completed_command
from assay.compat.autograder_sandbox.errors import (
    SandboxCommandError,
    SandboxError,
    SandboxNotDestroyed,
    translated,
)
from assay.compat.autograder_sandbox.limits import (
    run_limits,
    session_limits,
    without_process_spawn,
)
from assay.compat.autograder_sandbox.names import RUNNING
from assay.sandbox.base import SandboxBackend, WorkspaceEntry
from assay.sandbox.environments import get_environment
from assay.sandbox.hostfiles import entries_from_host, normalise_workspace_path
from assay.sandbox.session import Sandbox
from assay.sandbox.spec import OutputPolicy, parse_size

logger = logging.getLogger(__name__)


class AutograderSandbox:
    """An isolated place to run untrusted commands; use it as a context manager.

    The arguments are those of autograder-sandbox 6.x; ``docker_image``
    chooses an Assay environment (Assay's image of one, ``assay-env:<key>``, or
    ``assay-<env>:<tag>`` names it; others get ``ASSAY_COMPAT_ENVIRONMENT`` or
    ``python3``). The timeouts of container
    handling are accepted and unused: there are no containers to wait for on
    the native backend, and the docker backend has its own.

    Assay extensions, keyword-only: ``environment`` (an Assay environment
    name, overriding ``docker_image``) and ``backend`` (``"native"``,
    ``"docker"`` or a ``SandboxBackend``; default ``ASSAY_COMPAT_BACKEND`` or
    ``"native"``).
    """

    def __init__(  # noqa: PLR0917 - the positional signature of 6.x
        self,
        name: str | None = None,
        docker_image: str | None = None,
        allow_network_access: bool = False,
        environment_variables: Mapping[str, str] | None = None,
        pids_limit: int | None = None,
        memory_limit: str | int | None = None,
        cpu_core_limit: Decimal | float | None = None,
        container_create_timeout: int | None = None,
        container_setup_timeout: int | None = None,
        process_reap_timeout: int | None = 60,
        container_teardown_timeout: int | None = 30,
        *,
        environment: str | None = None,
        backend: str | SandboxBackend | None = None,
        debug: bool = False,
    ) -> None:
        self._name = name or f"sandbox-{uuid.uuid4().hex}"
        self._docker_image = docker_image or defaults.docker_image()
        self._allow_network_access = allow_network_access
        self._environment_variables = dict(environment_variables or {})
        self._pids_limit = defaults.pids_limit() if pids_limit is None else pids_limit
        self._memory_limit = defaults.memory_limit() if memory_limit is None else memory_limit
        self._cpu_core_limit = (
            defaults.cpu_core_limit() if cpu_core_limit is None else cpu_core_limit
        )
        self._environment = environment or defaults.environment(self._docker_image)
        self._backend = backend or defaults.backend()
        self.debug = debug
        self._box: Sandbox | None = None

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self) -> Self:
        self._start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def reset(self) -> None:
        """Destroy the sandbox and start a fresh one: every file and process is gone."""
        self._running_box()
        self._stop()
        self._start()

    def restart(self) -> None:
        """Kill every process of the sandbox, keeping its files.

        Assay already kills every process of a command before ``run_command``
        returns, so there is nothing left to do.
        """
        self._running_box()

    def _start(self) -> None:
        if not RUNNING.claim(self._name):
            raise SandboxError(f"a sandbox named {self._name!r} is already running")
        try:
            with translated():
                limits = session_limits(
                    get_environment(self._environment).default_limits,
                    memory_bytes=parse_size(self._memory_limit),
                    pids=self._pids_limit,
                )
                box = Sandbox(
                    self._environment,
                    backend=self._backend,
                    limits=limits,
                    network=self._allow_network_access,
                )
                box.open()
        except BaseException:
            RUNNING.release(self._name)
            raise
        self._box = box
        logger.debug("sandbox started", extra={"sandbox": self._name, "backend": box.backend.name})

    def _stop(self) -> None:
        box, self._box = self._box, None
        if box is not None:
            try:
                with translated(SandboxNotDestroyed):
                    box.close()
            finally:
                RUNNING.release(self._name)

    def _running_box(self) -> Sandbox:
        if self._box is None:
            raise SandboxError(f"sandbox {self._name} is not running: use it as a context manager")
        return self._box

    # -- properties --------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def docker_image(self) -> str:
        return self._docker_image

    @property
    def environment(self) -> str:
        """The Assay environment commands run in."""
        return self._environment

    @property
    def allow_network_access(self) -> bool:
        return self._allow_network_access

    @allow_network_access.setter
    def allow_network_access(self, value: bool) -> None:
        if self._box is not None:
            raise ValueError("Cannot change network access settings on a running sandbox")
        self._allow_network_access = value

    @property
    def environment_variables(self) -> Mapping[str, str]:
        return dict(self._environment_variables)

    @property
    def cpu_core_limit(self) -> Decimal | float | None:
        """Accepted for compatibility; not enforced (Assay limits CPU time instead)."""
        return self._cpu_core_limit

    # -- running -----------------------------------------------------------
    def run_command(  # noqa: PLR0917 - the positional signature of 6.x
        self,
        args: Sequence[str],
        block_process_spawn: bool = False,
        max_stack_size: int | None = None,
        max_virtual_memory: int | None = None,
        as_root: bool = False,
        stdin: IO[AnyStr] | None = None,
        timeout: float | None = None,
        check: bool = False,
        truncate_stdout: int | None = None,
        truncate_stderr: int | None = None,
    ) -> CompletedCommand:
        """Run ``args`` in the working directory and wait for it to finish.

        A command that does not finish within ``timeout`` seconds is killed:
        ``timed_out`` is true and ``return_code`` is ``None``. With
        ``check=True`` a non-zero status or a timeout raises
        ``SandboxCommandError``.
        """
        box = self._running_box()
        data = None if stdin is None else stdin.read()
        stdin_bytes = data.encode() if isinstance(data, str) else data
        logger.debug("running command", extra={"sandbox": self._name, "argv": list(args)})
        with translated():
            limits = run_limits(
                box.limits,
                timeout=timeout,
                max_stack_size=max_stack_size,
                max_virtual_memory=max_virtual_memory,
                truncate_stdout=truncate_stdout,
                truncate_stderr=truncate_stderr,
            )
            argv = without_process_spawn(args) if block_process_spawn else list(args)
            result = box.run(
                argv,
                stdin=stdin_bytes,
                env=self._command_env(as_root),
                limits=limits,
                as_root=as_root,
                output_policy=OutputPolicy.TRUNCATE,
            )
        completed = completed_command(result, truncate_stdout, truncate_stderr)
        if check and completed.return_code != 0:
            raise SandboxCommandError(args, completed)
        return completed

    def _command_env(self, as_root: bool) -> dict[str, str]:
        env = dict(get_environment(self._environment).env)
        if not as_root:
            env.update(USER=defaults.SANDBOX_USERNAME, LOGNAME=defaults.SANDBOX_USERNAME)
        env.update(self._environment_variables)
        return env

    # -- files -------------------------------------------------------------
    def add_files(
        self,
        *filenames: str | os.PathLike[str],
        owner: str = defaults.SANDBOX_USERNAME,
        read_only: bool = False,
    ) -> None:
        """Copy host files and directories into the working directory, by their base names.

        ``owner`` is ``SANDBOX_USERNAME`` or ``"root"``; ``read_only`` drops
        every write permission.
        """
        if owner not in (defaults.SANDBOX_USERNAME, "root"):
            raise ValueError(f'Invalid value for parameter "owner": {owner}')
        box = self._running_box()
        entries: list[WorkspaceEntry] = []
        with translated():
            for filename in filenames:
                path = Path(filename)
                dest = path.name if stat.S_ISDIR(os.lstat(path).st_mode) else "."
                entries.extend(
                    _entries(path, dest, owner_root=owner == "root", read_only=read_only)
                )
            box.add_entries(entries)

    def add_and_rename_file(self, filename: str | os.PathLike[str], new_filename: str) -> None:
        """Copy one host file (or directory) into the working directory as ``new_filename``."""
        box = self._running_box()
        path = Path(filename)
        with translated():
            dest = normalise_workspace_path(new_filename)
            if dest == ".":
                raise ValueError(f"not a file name: {new_filename!r}")
            if stat.S_ISDIR(os.lstat(path).st_mode):
                entries = list(entries_from_host(path, dest))
            else:
                entries = [
                    dataclasses.replace(entry, path=dest) for entry in entries_from_host(path)
                ]
            box.add_entries(entries)


def _entries(path: Path, dest: str, *, owner_root: bool, read_only: bool) -> list[WorkspaceEntry]:
    """``entries_from_host``; a read-only directory loses write permission itself too."""
    entries = list(entries_from_host(path, dest, owner_root=owner_root, read_only=read_only))
    if read_only and entries and entries[0].path == dest:
        entries[0] = dataclasses.replace(entries[0], mode=0o555)
    return entries
