"""The build network's rules and the user namespace helper's command line (no root needed)."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assay.sandbox.envs import buildnet, userns
from assay.sandbox.envs.buildnet import BLOCKED_RANGES, DNS_RELAY, ConfinedNetwork, firewall_rules


def test_only_dns_reaches_the_relay_and_every_refused_range_is_rejected() -> None:
    rules = firewall_rules([*BLOCKED_RANGES, "192.0.2.0/24", "192.0.2.2/32"]).splitlines()
    assert rules[0] == "*filter"
    assert rules[-1] == "COMMIT"
    accepted = [r for r in rules if r.endswith("-j ACCEPT")]
    assert accepted == [
        "-A OUTPUT -o lo -j ACCEPT",
        f"-A OUTPUT -d {DNS_RELAY}/32 -p udp --dport 53 -j ACCEPT",
        f"-A OUTPUT -d {DNS_RELAY}/32 -p tcp --dport 53 -j ACCEPT",
    ]
    rejected = [r.split()[3] for r in rules if "-j REJECT" in r]
    assert rejected[0] == "10.0.2.0/24"  # the relay's other ports and slirp's gateway
    assert set(rejected[1:]) == {*BLOCKED_RANGES, "192.0.2.0/24", "192.0.2.2/32"}
    last_accept = max(rules.index(r) for r in accepted)
    assert all(rules.index(r) > last_accept for r in rules if "-j REJECT" in r)


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.20.0.5", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # cloud metadata
        ("100.100.100.200", True),  # CGNAT, also used for metadata
        ("151.101.2.132", False),  # a public address
    ],
)
def test_private_and_metadata_ranges_are_refused(address: str, refused: bool) -> None:
    ip = ipaddress.ip_address(address)
    assert any(ip in ipaddress.ip_network(r) for r in BLOCKED_RANGES) is refused


def test_the_hosts_own_addresses_and_networks_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = [
        {"ifname": "lo", "addr_info": [{"local": "127.0.0.1", "prefixlen": 8}]},
        {"ifname": "eth0", "addr_info": [{"local": "203.0.113.7", "prefixlen": 24}]},
        {"ifname": "eth1", "addr_info": [{"local": "198.51.100.9", "prefixlen": 32}]},
    ]

    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        assert argv[:4] == ["ip", "-j", "-4", "addr"]
        return subprocess.CompletedProcess(argv, 0, json.dumps(shown).encode(), b"")

    monkeypatch.setattr(subprocess, "run", run)
    assert buildnet.host_networks() == ["203.0.113.0/24", "203.0.113.7/32", "198.51.100.9/32"]


def test_a_step_enters_the_namespace_before_its_user_namespace() -> None:
    net = ConfinedNetwork("/proc/42/ns/net", Path("/tmp/resolv.conf"), ())
    line = net.enter(userns.identity_userns_argv(["bwrap", "true"]))
    assert line[:3] == ["nsenter", "--net=/proc/42/ns/net", "--"]
    assert line[3:7] == [sys.executable, "-I", userns.__file__, "--"]
    assert line[-2:] == ["bwrap", "true"]


def test_the_user_namespace_helper_needs_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert userns.main(["bwrap"]) == 2
    assert userns.main(["--"]) == 2
    assert "usage" in capsys.readouterr().err
