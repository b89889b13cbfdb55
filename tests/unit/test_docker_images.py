"""Apt source discovery, container options and the seccomp profile (no Docker, no root).

Importing environments' trees as images: tests/unit/test_docker_env_images.py."""

from __future__ import annotations

from pathlib import Path

from assay.sandbox.docker.container import ContainerSpec, host_config_options
from assay.sandbox.docker.seccomp_profile import profile, security_opt
from assay.sandbox.envs.aptsources import DEFAULT_MIRROR, AptSource, host_apt_sources, main_mirror
from assay.sandbox.spec import MIB
from assay.sandbox.syscall_policy import AF_VSOCK

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main contrib

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Enabled: no
"""


def test_sources_from_deb822_and_one_line_files(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://old.example/debian bookworm main non-free\n"
        "deb http://other.example/ubuntu jammy main\n"
    )
    parts = tmp_path / "sources.list.d"
    parts.mkdir()
    (parts / "debian.sources").write_text(DEB822)
    (parts / "vendor.list.disabled-by-farm").write_text("deb http://x.example bookworm main\n")
    sources = host_apt_sources(tmp_path)
    assert sources == [
        AptSource("http://old.example/debian", "bookworm", ("main", "non-free")),
        AptSource("http://mirror.example/debian", "bookworm", ("main",)),
        AptSource("http://mirror.example/debian", "bookworm-updates", ("main",)),
        AptSource(
            "http://mirror.example/debian-security", "bookworm-security", ("main", "contrib")
        ),
    ]
    assert main_mirror(sources) == "http://old.example/debian"
    assert sources[3].line() == (
        "deb http://mirror.example/debian-security bookworm-security main contrib"
    )


def test_mirror_default(tmp_path: Path) -> None:
    assert host_apt_sources(tmp_path) == []
    assert main_mirror([]) == DEFAULT_MIRROR


def test_container_options_isolate() -> None:
    spec = ContainerSpec("assay-env:0123456789abcdef01234567", 256 * MIB, 32, 100 * MIB)
    options = host_config_options(spec)
    assert options["network_mode"] == "none"
    assert options["read_only"] is True
    assert options["cap_drop"] == ["ALL"]
    assert options["security_opt"][0] == "no-new-privileges"
    assert options["security_opt"][1].startswith("seccomp={")
    assert options["mem_limit"] == options["memswap_limit"] == 256 * MIB
    assert options["oom_kill_disable"] is False
    assert options["pids_limit"] == 32 + 2
    assert options["init"] is True
    assert f"size={100 * MIB}" in options["tmpfs"]["/work"]
    assert f"size={64 * MIB}" in options["tmpfs"]["/tmp"]
    assert "nosuid" in options["tmpfs"]["/work"]


def test_small_workspace_caps_tmp_too() -> None:
    options = host_config_options(ContainerSpec("i", 64 * MIB, 8, 8 * MIB, network=True))
    assert f"size={8 * MIB}" in options["tmpfs"]["/tmp"]
    assert options["network_mode"] == "bridge"


def test_seccomp_profile_refuses_the_threat_surface() -> None:
    rules = profile()["syscalls"]
    denied = {name for rule in rules if "args" not in rule for name in rule["names"]}
    assert {"ptrace", "unshare", "mount", "keyctl", "bpf", "io_uring_setup", "clone3"} <= denied
    socket_rules = [r for r in rules if r["names"] == ["socket"]]
    assert any(r["args"][0]["value"] == AF_VSOCK for r in socket_rules)
    clone_flags = {r["args"][0]["valueTwo"] for r in rules if r["names"] == ["clone"]}
    assert 0x10000000 in clone_flags  # CLONE_NEWUSER
    assert profile()["defaultAction"] == "SCMP_ACT_ALLOW"
    assert security_opt().startswith("seccomp={")
