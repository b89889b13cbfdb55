"""Command lines that run a program with a tree as its ``/`` (bubblewrap).

Build steps run as root in the tree being built, in their own pid, ipc and uts
namespaces (apt, pip and the setup script share the host's network namespace
because they download; the other steps get an empty one of their own), with a
fresh ``/proc`` and a minimal ``/dev``, and with Docker's
default capability set minus ``CAP_MKNOD`` and ``CAP_NET_RAW``: no mounts, no
modules, no ptrace, no raw sockets. They see nothing of the host's filesystem
but what is bound in (the .deb cache, the CA bundle). This is not yet the
sandbox of a student's run: the process is the host's uid 0 and the
downloading steps share the host's network (docs/environments.md says what
that means).

Checks run the probe as the sandbox user (uid 1000 in a user namespace), with
the tree read-only, no network, and ``/tmp`` and the workspace as tmpfs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from assay.sandbox.envs.platform import SANDBOX_UID, WORKSPACE_DIR

BUILD_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_SETFCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_AUDIT_WRITE",
)
BUILD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CA_PATH = "/run/assay-build/ca.crt"
"""Where the host's CA bundle is bound during a build (removed from the tree after)."""
CA_VARIABLES = (
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "NODE_EXTRA_CA_CERTS",
)


@dataclass(frozen=True)
class Bind:
    """A host path shown inside the tree."""

    source: Path
    target: str
    read_only: bool = True


def build_env(extra: Mapping[str, str], *, ca_bundle: bool) -> dict[str, str]:
    """The variables of a build step (nothing inherited from the host)."""
    env = {
        "PATH": BUILD_PATH,
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "DEBIAN_FRONTEND": "noninteractive",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_CACHE_DIR": "1",
        "PIP_NO_INPUT": "1",
    }
    if ca_bundle:
        env.update(dict.fromkeys(CA_VARIABLES, CA_PATH))
    env.update(extra)
    return env


def build_argv(
    bwrap: str,
    root: Path,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    binds: Sequence[Bind] = (),
    cwd: str = "/root",
    network: bool = True,
) -> list[str]:
    """Run ``argv`` as root inside the tree at ``root`` (writable); ``network``: the host's."""
    line = [
        bwrap,
        "--bind", str(root), "/",
        "--proc", "/proc",
        "--dev", "/dev",
        "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--hostname", "assay-build",
        "--die-with-parent", "--new-session",
        "--cap-drop", "ALL",
    ]  # fmt: skip
    if not network:
        line.append("--unshare-net")
    for capability in BUILD_CAPABILITIES:
        line += ["--cap-add", capability]
    for bind in binds:
        line += ["--ro-bind" if bind.read_only else "--bind", str(bind.source), bind.target]
    line += ["--chdir", cwd, "--clearenv"]
    for key, value in sorted(env.items()):
        line += ["--setenv", key, value]
    return [*line, "--", *argv]


def probe_argv(bwrap: str, root: Path, argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """Run ``argv`` as the sandbox user in the tree at ``root``: read-only, no network."""
    uid = str(SANDBOX_UID)
    line = [
        bwrap,
        "--ro-bind", str(root), "/",
        "--proc", "/proc",
        "--dev", "/dev",
        "--tmpfs", "/tmp",
        "--tmpfs", WORKSPACE_DIR,
        "--unshare-all", "--unshare-user", "--uid", uid, "--gid", uid,
        "--hostname", "assay",
        "--die-with-parent", "--new-session",
        "--cap-drop", "ALL",
        "--chdir", WORKSPACE_DIR,
        "--clearenv",
    ]  # fmt: skip
    for key, value in sorted(env.items()):
        line += ["--setenv", key, value]
    return [*line, "--", *argv]
