"""A native sandbox with network access: it starts, resolves like the host, connects."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from assay.sandbox import Sandbox
from helpers import assert_exited_ok, py, require_backend

pytestmark = pytest.mark.native


def test_a_run_with_network_sees_the_hosts_resolver_and_reaches_the_host() -> None:
    require_backend("native")
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        Sandbox("python3", backend="native", network=True) as box,
    ):
        port = server.getsockname()[1]
        result = py(
            box,
            f"""
            import socket
            print(open("/etc/resolv.conf").read(), end="")
            socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
            """,
        )
        assert_exited_ok(result)
        resolv = Path("/etc/resolv.conf")
        assert result.stdout == (resolv.read_bytes() if resolv.exists() else b"")
