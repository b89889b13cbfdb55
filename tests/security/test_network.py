"""Threats 18 and 19: no network at all, not even the host's loopback; no raw sockets."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
from collections.abc import Iterator

import pytest

from helpers import (
    QUICK_LIMITS,
    HostGuard,
    SandboxFactory,
    assert_exited_ok,
    describe,
    py,
)

LIMITS = QUICK_LIMITS.replace(wall_time_s=15)

TRY_TCP = """
    import json, socket, sys
    results = {}
    for host, port in json.loads(sys.argv[1]):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(1)
        try:
            s.connect((host, port))
            s.sendall(b"LEAK")
            results[f"{host}:{port}"] = "connected"
        except OSError as e:
            results[f"{host}:{port}"] = f"{type(e).__name__}({e.errno})"
        finally:
            s.close()
    print(json.dumps(results))
"""

TRY_OUTSIDE = """
    import json, socket
    results = {}
    try:
        results["dns"] = repr(socket.getaddrinfo("example.com", 80))
    except OSError as e:
        results["dns"] = f"refused: {e}"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(b"x", ("1.1.1.1", 53))
        results["udp"] = "sent"
    except OSError as e:
        results["udp"] = f"refused: {e.errno}"
    print(json.dumps(results))
"""

TRY_ABSTRACT = """
    import socket, sys
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(b"\\0" + sys.argv[1].encode())
        s.sendall(b"LEAK")
        print("connected")
    except OSError as e:
        print("refused", e.errno)
"""

TRY_RAW = """
    import json, socket
    kinds = {
        "raw-icmp": (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
        "raw-tcp": (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP),
        "raw-icmpv6": (socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6),
        "packet": (socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003)),
        "packet-dgram": (socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0003)),
        "vsock": (40, socket.SOCK_STREAM, 0),  # AF_VSOCK; only created, never connected
    }
    results = {}
    for name, args in kinds.items():
        try:
            socket.socket(*args).close()
            results[name] = "created"
        except OSError as e:
            results[name] = f"refused({e.errno})"
    print(json.dumps(results))
"""


def _host_addresses() -> list[str]:
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False)
    return [a for a in out.stdout.split() if not a.startswith("fe80")]


@pytest.fixture
def tcp_server() -> Iterator[tuple[socket.socket, int]]:
    """A TCP server of the test process on every host address (dual stack)."""
    server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    server.bind(("::", 0))
    server.listen(8)
    server.setblocking(False)
    yield server, server.getsockname()[1]
    server.close()


def _assert_nobody_connected(server: socket.socket) -> None:
    try:
        conn, peer = server.accept()
    except BlockingIOError:
        return
    conn.close()
    pytest.fail(f"a sandboxed program connected to the host's server from {peer}")


def test_host_services_are_unreachable(
    open_sandbox: SandboxFactory, host: HostGuard, tcp_server: tuple[socket.socket, int]
) -> None:
    server, port = tcp_server
    # the server really is reachable from the host itself
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    server.settimeout(2)
    server.accept()[0].close()
    server.setblocking(False)

    addresses = ["127.0.0.1", "::1", "172.17.0.1", *_host_addresses()]
    targets = [[a, port] for a in addresses] + [["169.254.169.254", 80], ["1.1.1.1", 53]]
    box = open_sandbox(limits=LIMITS)
    result = py(box, TRY_TCP, json.dumps(targets))
    assert_exited_ok(result)
    outcomes = json.loads(result.stdout)
    connected = [t for t, outcome in outcomes.items() if outcome == "connected"]
    assert not connected, f"connected to {connected}: {outcomes}"
    assert len(outcomes) == len(targets)
    _assert_nobody_connected(server)
    host.check(box)


def test_dns_and_udp_fail(open_sandbox: SandboxFactory, host: HostGuard) -> None:
    box = open_sandbox(limits=LIMITS)
    result = py(box, TRY_OUTSIDE)
    assert_exited_ok(result)
    outcomes = json.loads(result.stdout)
    assert outcomes["dns"].startswith("refused"), outcomes
    assert outcomes["udp"].startswith("refused"), outcomes
    host.check(box)


def test_abstract_unix_socket_of_the_host_is_unreachable(
    open_sandbox: SandboxFactory, host: HostGuard
) -> None:
    name = f"assay-test-{secrets.token_hex(8)}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(b"\0" + name.encode())
    server.listen(1)
    server.setblocking(False)
    try:
        box = open_sandbox(limits=LIMITS)
        result = py(box, TRY_ABSTRACT, name)
        assert_exited_ok(result)
        assert result.stdout.startswith(b"refused"), describe(result)
        _assert_nobody_connected(server)
        host.check(box)
    finally:
        server.close()


@pytest.mark.parametrize("as_root", [False, True], ids=["user", "root"])
def test_raw_packet_and_vsock_sockets_are_refused(
    open_sandbox: SandboxFactory, host: HostGuard, as_root: bool
) -> None:
    box = open_sandbox(limits=LIMITS)
    result = py(box, TRY_RAW, as_root=as_root)
    assert_exited_ok(result)
    outcomes = json.loads(result.stdout)
    created = [name for name, outcome in outcomes.items() if outcome == "created"]
    assert not created, f"created {created}: {outcomes}"
    host.check(box)
