"""What every environment's tree has besides its spec, whichever backend runs it."""

from __future__ import annotations

SANDBOX_USER = "student"
"""The unprivileged user commands run as inside a tree."""

SANDBOX_UID = 1000
"""uid and gid of ``SANDBOX_USER`` inside (both backends use this id inside)."""

WORKSPACE_DIR = "/work"
"""The workspace's mount point: root's, mode 1777, empty in the tree."""

PLATFORM_PACKAGES = ("python3", "procps", "util-linux", "coreutils")
"""In every tree: the Docker backend runs ``python3`` (its workspace helper),
``prlimit`` (util-linux) and ``kill`` (procps) inside."""
