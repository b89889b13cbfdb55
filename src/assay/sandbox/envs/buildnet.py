"""A network of its own for each downloading build step (apt, pip, the setup script).

``confined_network()`` makes a network namespace (held by a small process of
ours, owned by the host's user namespace) and connects it to the internet with
``slirp4netns``: the namespace sees a tap device at 10.0.2.100, a gateway at
10.0.2.2 and a DNS relay at 10.0.2.3, and slirp4netns, outside, opens the real
connections with the host's sockets. Before the step starts, this module adds to
the namespace's own firewall (``iptables``, from the host's user namespace):

- only port 53 of the DNS relay (slirp4netns forwards any port of that address
  to the host's resolver);
- nothing to the private, shared, link-local, multicast and reserved ranges
  (``BLOCKED_RANGES``: RFC 1918, CGNAT, the cloud metadata address, ...);
- nothing to the host's own addresses and the networks its interfaces are on.

``--disable-host-loopback`` keeps 10.0.2.2 from reaching the host's 127.0.0.1,
and the namespace has no IPv6 (slirp4netns gives it none). The step runs in a
user namespace of its own (``userns``), a child of the host's: its
capabilities do not reach this network namespace, so it cannot change the
firewall, the routes or the addresses. slirp4netns runs with its own sandbox and
seccomp filter (``--enable-sandbox --enable-seccomp``).

Why slirp4netns and not pasta: the namespace gets addresses of its own, never
the host's, so "the host" is an address that can be refused; the option that
closes the host's loopback is explicit; and Debian 12's passt is a 2023 snapshot
that copies the host's addresses and routes into the namespace.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import select
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from assay.errors import EnvironmentBuildError

DNS_RELAY = "10.0.2.3"
SLIRP_NETWORK = "10.0.2.0/24"
BLOCKED_RANGES = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
)
"""Refused destinations besides the host's own addresses and networks."""
READY_TIMEOUT_S = 10.0
TOOLS = ("slirp4netns", "iptables-restore", "nsenter", "unshare", "ip")
_HOST_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


@dataclass(frozen=True)
class ConfinedNetwork:
    """A namespace ready for one step; ``enter`` prefixes the step's command line."""

    netns: str
    """``/proc/<pid>/ns/net`` of the process holding the namespace."""
    resolv_conf: Path
    """A ``resolv.conf`` naming the DNS relay, to bind at the tree's ``/etc/resolv.conf``."""
    refused: tuple[str, ...]

    def enter(self, argv: Sequence[str]) -> list[str]:
        return ["nsenter", f"--net={self.netns}", "--", *argv]


def host_networks() -> list[str]:
    """The host's IPv4 addresses and the networks of its interfaces (loopback left out)."""
    try:
        shown = subprocess.run(["ip", "-j", "-4", "addr", "show"], capture_output=True,
                               check=True, env=_HOST_ENV, timeout=10).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        raise EnvironmentBuildError(f"cannot list the host's addresses (ip addr): {exc}") from exc
    found: list[str] = []
    for link in json.loads(shown or b"[]"):
        for info in link.get("addr_info", []):
            address = ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}")
            if address.is_loopback:
                continue
            for network in (str(address.network), f"{address.ip}/32"):
                if network not in found:
                    found.append(network)
    return found


def firewall_rules(refused: Sequence[str]) -> str:
    """The namespace's ``iptables-restore`` input: DNS to the relay only, nothing to ``refused``."""
    reject = "-j REJECT --reject-with icmp-admin-prohibited"
    lines = [
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":FORWARD DROP [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        "-A OUTPUT -o lo -j ACCEPT",
        f"-A OUTPUT -d {DNS_RELAY}/32 -p udp --dport 53 -j ACCEPT",
        f"-A OUTPUT -d {DNS_RELAY}/32 -p tcp --dport 53 -j ACCEPT",
        f"-A OUTPUT -d {SLIRP_NETWORK} {reject}",
        *(f"-A OUTPUT -d {network} {reject}" for network in refused),
        "COMMIT",
        "",
    ]
    return "\n".join(lines)


@contextlib.contextmanager
def confined_network(slirp4netns: str = "slirp4netns") -> Iterator[ConfinedNetwork]:
    """A fresh network namespace with the internet through slirp4netns and the firewall above."""
    refused = (*BLOCKED_RANGES, *host_networks())
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="assay-net-")))
        holder = _hold_namespace(stack)
        netns = f"/proc/{holder.pid}/ns/net"
        _start_slirp(stack, slirp4netns, holder.pid, workdir / "slirp4netns.log")
        _run(["nsenter", f"--net={netns}", "--", "iptables-restore"],
             firewall_rules(refused), "the build network's firewall")  # fmt: skip
        resolv = workdir / "resolv.conf"
        resolv.write_text(f"nameserver {DNS_RELAY}\n", encoding="ascii")
        resolv.chmod(0o644)
        yield ConfinedNetwork(netns, resolv, refused)


def _hold_namespace(stack: contextlib.ExitStack) -> subprocess.Popen[bytes]:
    """A process in a new network namespace that lives until its stdin closes."""
    argv = ["unshare", "--net", "--", "sh", "-c", "ip link set lo up && echo ready && read _"]
    try:
        holder = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  env=_HOST_ENV, start_new_session=True)  # fmt: skip
    except OSError as exc:
        raise EnvironmentBuildError(f"cannot make the build network: {exc}") from exc
    stack.callback(_stop, holder)
    assert holder.stdout is not None  # noqa: S101 - PIPE was asked for
    if holder.stdout.readline() != b"ready\n":
        raise EnvironmentBuildError("cannot make the build network: unshare --net failed")
    return holder


def _start_slirp(stack: contextlib.ExitStack, slirp4netns: str, pid: int, log: Path) -> None:
    ready_r, ready_w = os.pipe()
    exit_r, exit_w = os.pipe()
    argv = [
        slirp4netns, "--configure", "--mtu=65520", "--disable-host-loopback",
        "--enable-sandbox", "--enable-seccomp",
        f"--ready-fd={ready_w}", f"--exit-fd={exit_r}", str(pid), "tap0",
    ]  # fmt: skip
    try:
        with log.open("wb") as output:
            slirp = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output,
                                     stderr=subprocess.STDOUT, pass_fds=(ready_w, exit_r),
                                     env=_HOST_ENV, start_new_session=True)  # fmt: skip
    except OSError as exc:
        os.close(ready_r)
        os.close(exit_w)
        raise EnvironmentBuildError(f"cannot start {slirp4netns}: {exc.strerror}") from exc
    finally:
        os.close(ready_w)
        os.close(exit_r)

    def stop() -> None:
        os.close(exit_w)  # slirp4netns exits when this closes
        try:
            slirp.wait(timeout=5)
        except subprocess.TimeoutExpired:
            slirp.kill()
            slirp.wait()

    stack.callback(stop)
    try:
        readable, _, _ = select.select([ready_r], [], [], READY_TIMEOUT_S)
        ready = os.read(ready_r, 1) if readable else b""
    finally:
        os.close(ready_r)
    if ready != b"1":
        shown = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise EnvironmentBuildError(f"slirp4netns did not start: {' / '.join(shown)}")


def _run(argv: list[str], stdin: str, what: str) -> None:
    try:
        subprocess.run(argv, input=stdin.encode(), capture_output=True, check=True,
                       env=_HOST_ENV, timeout=30)  # fmt: skip
    except subprocess.CalledProcessError as exc:
        error = exc.stderr.decode(errors="replace").strip()
        raise EnvironmentBuildError(f"cannot set up {what}: {error}") from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise EnvironmentBuildError(f"cannot set up {what}: {exc}") from exc


def _stop(holder: subprocess.Popen[bytes]) -> None:
    if holder.stdin is not None:
        holder.stdin.close()
    try:
        holder.wait(timeout=5)
    except subprocess.TimeoutExpired:
        holder.kill()
        holder.wait()
    if holder.stdout is not None:
        holder.stdout.close()
