"""Names shared by the image builder and the Docker backend."""

from __future__ import annotations

from pathlib import Path

SANDBOX_USER = "student"
"""The unprivileged user commands run as inside Docker sandboxes."""

SANDBOX_UID = 1000
"""uid and gid of ``SANDBOX_USER``, the same as the native backend's user inside.

Containers share the host's uids (no user namespace): on the host these
processes belong to uid 1000. They see no host file and no host process, so
this only matters for per-uid kernel counters; run the worker under another
uid (``check()`` warns when it is 1000).
"""

IDLE_UID = 65534
"""``nobody``: the container's init and idle process run as this user, so a
``kill -9 -1`` by the run's user (student or root, neither with CAP_KILL)
never reaches them."""

WORKSPACE_DIR = "/work"
LABEL = "assay.sandbox"
"""Every container Assay starts carries this label (value ``"1"``)."""
LABEL_OWNER = "assay.owner"
"""``<hostname>:<pid>:<token>``: the process that started the container (``sandbox.owner``)."""
LABEL_IMAGE = "assay.environment"
"""Images built by ``assay image build`` carry this label: the environment names."""

DEFAULT_CACHE_DIR = Path("/var/cache/assay/rootfs")  # debootstrap trees and .debs
