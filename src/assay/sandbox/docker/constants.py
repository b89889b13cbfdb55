"""Names shared by the image builder and the Docker backend."""

from __future__ import annotations

SANDBOX_USER = "student"
"""The unprivileged user commands run as inside Docker sandboxes."""

SANDBOX_UID = 61000
"""uid and gid of ``SANDBOX_USER``.

Outside Debian's range for people (1000-59999), so it never equals the uid of
a host user, such as the worker's own, even though containers share the host's
uids (no user namespace).
"""

WORKSPACE_DIR = "/work"
LABEL = "assay.sandbox"
"""Every container Assay starts carries this label (value ``"1"``)."""
LABEL_OWNER = "assay.owner"
"""``<hostname>:<pid>`` of the process that started the container."""
LABEL_IMAGE = "assay.environment"
"""Images built by ``assay image build`` carry this label: the environment names."""
