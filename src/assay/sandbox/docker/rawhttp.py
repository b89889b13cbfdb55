"""A small HTTP/1.1 client for the Docker daemon's unix socket, for the hot path.

Each run creates, starts and inspects one exec; through the docker SDK each
request costs about a millisecond of our CPU before the daemon sees it. Here
a kept-alive connection per thread carries the JSON requests, and ``hijack``
opens the exec stream on a socket of its own, so that no byte of the stream
can be lost in an HTTP library's read-ahead buffer.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Mapping
from typing import Any

from assay.errors import SandboxError

TIMEOUT_S = 60.0
_MAX_HEADER_BYTES = 64 * 1024
_HEADERS = {"Content-Type": "application/json", "Host": "docker", "User-Agent": "assay"}


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str) -> None:
        super().__init__("docker", timeout=TIMEOUT_S)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT_S)
        sock.connect(self.socket_path)
        self.sock = sock


class UnixHTTP:
    """JSON requests and stream hijacking on ``/v<version>`` of a unix-socket daemon."""

    def __init__(self, socket_path: str, version: str) -> None:
        self.socket_path = socket_path
        self.prefix = f"/v{version}"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[_UnixConnection] = set()

    def _connection(self) -> _UnixConnection:
        conn: _UnixConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _UnixConnection(self.socket_path)
            self._local.conn = conn
            with self._lock:
                self._open.add(conn)
        return conn

    def _drop(self, conn: _UnixConnection) -> None:
        conn.close()
        self._local.conn = None
        with self._lock:
            self._open.discard(conn)

    def close(self) -> None:
        """Close every thread's kept-alive connection."""
        with self._lock:
            conns, self._open = self._open, set()
        for conn in conns:
            conn.close()

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """Send a request and return the decoded JSON reply; errors raise ``SandboxError``."""
        payload = None if body is None else json.dumps(body).encode()
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, self.prefix + path, body=payload, headers=_HEADERS)
                response = conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, OSError) as exc:
                self._drop(conn)
                if attempt == 2:  # a kept-alive connection may have been closed: retry once
                    raise SandboxError(f"{method} {path}: {exc}") from exc
        if response.status >= 300:
            raise SandboxError(f"{method} {path}: HTTP {response.status}: {_message(data)}")
        return json.loads(data) if data else None

    def hijack(self, path: str, body: Mapping[str, Any]) -> tuple[socket.socket, bytes]:
        """POST and take over the connection; the socket and stream bytes already read."""
        payload = json.dumps(body).encode()
        head = (
            f"POST {self.prefix}{path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: assay\r\n"
            "Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(TIMEOUT_S)
            sock.connect(self.socket_path)
            sock.sendall(head + payload)
            rest = _read_upgrade(sock, path)
            sock.settimeout(None)
        except OSError as exc:
            sock.close()
            raise SandboxError(f"POST {path}: {exc}") from exc
        except SandboxError:
            sock.close()
            raise
        return sock, rest


def _message(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace").strip()
    try:
        return str(json.loads(text).get("message", text))
    except (ValueError, AttributeError):
        return text


def _read_upgrade(sock: socket.socket, path: str) -> bytes:
    status, headers, rest = _read_head(sock)
    if status in (101, 200):
        return rest
    length = min(int(headers.get("content-length", "0") or 0), _MAX_HEADER_BYTES)
    while len(rest) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        rest += chunk
    raise SandboxError(f"POST {path}: HTTP {status}: {_message(rest)}")


def _read_head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise SandboxError("the Docker daemon closed the connection")
        data += chunk
        if len(data) > _MAX_HEADER_BYTES:
            raise SandboxError("the Docker daemon sent an oversized response header")
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        raise SandboxError(f"unexpected reply from the Docker daemon: {lines[0]!r}") from None
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return status, headers, rest
