"""Command lines that run a program with a tree as its ``/`` (bubblewrap).

Build steps run as root in the tree being built, in a user namespace of their
own whose uid and gid map is the identity on 0..65535 (``userns``): files get
exactly the owners they would get from the host's root, but every capability
counts in that namespace only (no module, no host network configuration, no
raw device, no mount outside the step's own mount namespace, no ``setuid`` to
an id above 65535). Inside it, bubblewrap gives them their own mount, pid, ipc
and uts namespaces, a fresh ``/proc`` (``/proc/sys`` and the other
``PROC_READ_ONLY`` entries read-only) and a minimal ``/dev``, and Docker's
default capability set minus ``CAP_MKNOD`` and ``CAP_NET_RAW``. The steps that
download (apt, pip, the setup script) run in a network namespace the caller
entered (``buildnet``: the internet through slirp4netns, not the host, its
loopback or its networks); the others get an empty one. They see nothing of the
host's filesystem but what is bound in (the .deb cache, the CA bundle, a
``resolv.conf``). This is still not the sandbox of a student's run: the step is
uid 0, which the kernel treats as the host's root for any file it can see and
any global sysctl it could write (docs/environments.md says what remains).

Checks run the probe as the sandbox user (uid 1000 in a user namespace), with
the tree read-only, no network, and ``/tmp`` and the workspace as tmpfs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from assay.sandbox.envs.platform import SANDBOX_UID, WORKSPACE_DIR
from assay.sandbox.envs.userns import identity_userns_argv

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
PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs", "acpi")
"""Entries of a build step's ``/proc`` bound read-only (those the host has).

A step is uid 0 to the kernel, and a global sysctl (``kernel.core_pattern``,
``vm.*``) checks no more than that: writable, ``/proc/sys`` would give the host
away. bubblewrap covers ``/proc/sys`` itself only when ``access(W_OK)`` says it
is writable, which a 0555 directory never does, so the cover is explicit here.
The step cannot remount them: it has no ``CAP_SYS_ADMIN``, and in a user
namespace of its own the mounts are locked.
"""
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
    """Run ``argv`` as root of a user namespace of its own inside the tree at ``root`` (writable).

    ``network``: keep the caller's network namespace (a ``buildnet`` one, entered
    by the caller); else the step gets an empty one of its own.
    """
    line = [
        bwrap,
        "--bind", str(root), "/",
        "--proc", "/proc",
        *_read_only_proc(),
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
    return identity_userns_argv([*line, "--", *argv])


def _read_only_proc() -> list[str]:
    line: list[str] = []
    for name in PROC_READ_ONLY:
        if os.path.lexists(f"/proc/{name}"):
            line += ["--ro-bind", f"/proc/{name}", f"/proc/{name}"]
    return line


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
