"""One ``docker exec``: its stream socket, the stdin feeder, its exit.

Standard input is written by a thread while the caller reads the output, so
a program that echoes a large input never deadlocks against us; after the
last byte the socket is half-closed, which Docker turns into EOF on stdin.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assay.errors import SandboxError
from assay.sandbox.docker.api import DockerAPI, ExecInfo
from assay.sandbox.docker.streams import STDERR, FrameDemuxer
from assay.sandbox.spec import Dialogue, StdinSource

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024
EXIT_TIMEOUT_S = 5.0
FEEDER_JOIN_S = 2.0


def _feed(sock: socket.socket, source: bytes | Path | Dialogue) -> None:
    try:
        if isinstance(source, bytes):
            sock.sendall(source)
        elif isinstance(source, Dialogue):
            for reply in source.replies():
                sock.sendall(reply)
        else:
            with open(source, "rb") as f:
                while chunk := f.read(CHUNK):
                    sock.sendall(chunk)
        sock.shutdown(socket.SHUT_WR)
    except OSError as exc:
        # The program exited (or was killed) without reading all of its input.
        logger.debug("stdin feeder stopped: %s", exc)


class ExecProcess:
    """A started exec. Use ``read`` until it returns None, then ``exit_status``."""

    def __init__(
        self,
        api: DockerAPI,
        container_id: str,
        argv: Sequence[str],
        *,
        user: str,
        stdin: StdinSource = None,
        tty: bool = False,
    ) -> None:
        self.api = api
        self.container_id = container_id
        if isinstance(stdin, Path) and not stdin.is_file():
            raise SandboxError(f"stdin file {stdin} is not a readable regular file")
        self.exec_id = api.exec_create(
            container_id, argv, user=user, stdin=stdin is not None, tty=tty
        )
        self.sock, self._pending = api.exec_start(self.exec_id, tty=tty)
        self._feeder: threading.Thread | None = None
        if stdin is not None:
            self._feeder = threading.Thread(
                target=_feed, args=(self.sock, stdin), name="assay-docker-stdin", daemon=True
            )
            self._feeder.start()

    def wait_readable(
        self, timeout_s: float, extra: Sequence[int] = (), *, stream: bool = True
    ) -> list[int]:
        """File descriptors ready within ``timeout_s``: the stream's and/or ``extra``."""
        if stream and self._pending:
            return [self.sock.fileno()]
        fds = [self.sock.fileno(), *extra] if stream else list(extra)
        if not fds:
            time.sleep(max(timeout_s, 0))
            return []
        poller = select.poll()  # not select(): a busy worker's descriptors exceed 1024
        for fd in fds:
            poller.register(fd, select.POLLIN)
        return [fd for fd, _ in poller.poll(max(timeout_s, 0) * 1000)]

    def read(self) -> bytes | None:
        """Raw stream bytes available now; None at the end of the stream."""
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        try:
            data = self.sock.recv(CHUNK)
        except OSError as exc:
            raise SandboxError(f"reading the exec stream failed: {exc}") from exc
        return data or None

    def inspect(self) -> ExecInfo:
        """Whether the exec still runs, its host pid, its exit code once ended."""
        return self.api.exec_inspect(self.exec_id)

    def exit_status(self, timeout_s: float = EXIT_TIMEOUT_S) -> int:
        """The exit status once Docker has seen the exec end."""
        deadline = time.monotonic() + timeout_s
        delay = 0.001
        while True:
            info = self.api.exec_inspect(self.exec_id)
            if not info.running and info.exit_code is not None:
                return info.exit_code
            if time.monotonic() >= deadline:
                raise SandboxError(f"exec {self.exec_id[:12]} did not report its exit")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # already disconnected
            self.sock.shutdown(socket.SHUT_RDWR)
        if self._feeder is not None:
            self._feeder.join(FEEDER_JOIN_S)
        self.sock.close()


def open_pidfd(pid: int, container_id: str) -> int | None:
    """A pidfd for a host pid, if it still names a process of the container."""
    if pid <= 0 or not hasattr(os, "pidfd_open"):
        return None
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return None
    try:
        if container_id not in Path(f"/proc/{pid}/cgroup").read_text():
            os.close(fd)
            return None
    except OSError:
        pass  # exited meanwhile: the pidfd is readable, which is right
    return fd


@dataclass(frozen=True)
class HelperResult:
    status: int
    stdout: bytes
    stderr: bytes


def run_helper(
    api: DockerAPI,
    container_id: str,
    argv: Sequence[str],
    *,
    user: str,
    stdin: bytes | None = None,
    timeout_s: float = 30.0,
    max_output: int = 64 * 1024 * 1024,
) -> HelperResult:
    """Run one of our own commands in the container and collect its output.

    Only for trusted commands between runs (no process of a run is alive
    then); limits are the caller's ``timeout_s`` and ``max_output``.
    """
    proc = ExecProcess(api, container_id, argv, user=user, stdin=stdin)
    demux = FrameDemuxer()
    out, err = bytearray(), bytearray()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxError(f"{argv[0]} in the sandbox took more than {timeout_s}s")
            if not proc.wait_readable(remaining):
                continue
            data = proc.read()
            if data is None:
                break
            for stream, payload in demux.feed(data):
                (err if stream == STDERR else out).extend(payload)
            if len(out) + len(err) > max_output:
                raise SandboxError(f"{argv[0]} in the sandbox wrote more than {max_output} bytes")
        status = proc.exit_status()
    finally:
        proc.close()
    return HelperResult(status, bytes(out), bytes(err))
