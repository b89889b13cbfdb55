"""Whether the sandbox user can reach the state directory.

bubblewrap runs as the sandbox user and resolves its bind sources (the
generated /etc, a run's workspace) by path, with that user's permissions: an
ancestor of ``ASSAY_STATE_DIR`` it cannot search (``/root``, pytest's 0700
``/tmp/pytest-of-root``) makes every sandbox fail ("Can't find source path ...:
Permission denied"). Passing the directories as fds does not help: bubblewrap
0.8 resolves ``--bind-fd``'s ``/proc/self/fd/N`` with realpath() all the same.
So the backend finds the blocking directory once, says it once at start, and
every run then fails with that message and its fix instead of bubblewrap's.

Only the permission bits are read (the sandbox user has no supplementary
groups); ACLs granting more are not seen, so a check may be pessimistic there.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from assay.errors import SandboxUnavailableError


def blocking_directory(path: Path, uid: int, gid: int) -> Path | None:
    """The first directory from / down to ``path`` that ``uid``/``gid`` cannot search."""
    current = Path("/")
    for part in path.resolve().parts[1:]:
        current = current / part
        try:
            st = os.stat(current)
        except FileNotFoundError:
            return None  # made later by root, with a mode we choose
        if not stat.S_ISDIR(st.st_mode):
            return None
        if st.st_uid == uid:
            bit = stat.S_IXUSR
        elif st.st_gid == gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return current
    return None


def unreachable_error(state_dir: Path, uid: int, gid: int) -> SandboxUnavailableError | None:
    """The error every native sandbox would meet, or None if the directory is reachable.

    Only its ancestors count: the backend makes the state directory itself and
    what it puts there searchable (0711) when it starts."""
    blocked = blocking_directory(state_dir.resolve().parent, uid, gid)
    if blocked is None:
        return None
    return SandboxUnavailableError(
        f"the sandbox user (uid {uid}) cannot reach the state directory {state_dir}: "
        f"it may not search {blocked}",
        fix=f"set ASSAY_STATE_DIR to a directory every user can reach (e.g. /var/lib/assay), "
        f"or let others search {blocked} (chmod o+x {blocked})",
    )


def unreachable_tree_error(rootfs: Path, uid: int, gid: int) -> SandboxUnavailableError | None:
    """The error every sandbox in the environment whose tree is ``rootfs`` would meet
    (bubblewrap binds the tree by path, as the sandbox user), or None."""
    blocked = blocking_directory(rootfs, uid, gid)
    if blocked is None:
        return None
    return SandboxUnavailableError(
        f"the sandbox user (uid {uid}) cannot reach the environment's tree {rootfs}: "
        f"it may not search {blocked}",
        fix="set ASSAY_ENVIRONMENTS_DIR to a directory every user can reach (e.g. "
        f"/var/lib/assay/environments), or let others search {blocked} (chmod o+x {blocked})",
    )
