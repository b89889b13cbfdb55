"""Names shared by the Docker backend's modules (images, containers, checks)."""

from __future__ import annotations

# The sandbox user and the workspace are every environment's (assay.sandbox.envs.platform).
# Containers share the host's uids (no user namespace): on the host these processes
# belong to uid 1000 (SANDBOX_UID). They see no host file and no host process, so this
# only matters for per-uid kernel counters; run the worker under another uid
# (``check()`` warns when it is 1000).
from assay.sandbox.envs import platform

SANDBOX_USER = platform.SANDBOX_USER
SANDBOX_UID = platform.SANDBOX_UID
WORKSPACE_DIR = platform.WORKSPACE_DIR

IDLE_UID = 65534
"""``nobody``: the container's init and idle process run as this user, so a
``kill -9 -1`` by the run's user (student or root, neither with CAP_KILL)
never reaches them."""

LABEL = "assay.sandbox"
"""Every container Assay starts carries this label (value ``"1"``)."""
LABEL_OWNER = "assay.owner"
"""``<hostname>:<pid>:<token>``: the process that started the container (``sandbox.owner``)."""
LABEL_IMAGE = "assay.environment"
"""Every image Assay imports carries this label: the environment's name."""
LABEL_KEY = "assay.environment.key"
"""The key of the environment whose tree the image is (``assay env list`` shows it)."""
LABEL_TREE = "assay.environment.tree"
"""When that tree was built (its ``meta.json`` ``created``): a rebuilt tree is imported again."""
