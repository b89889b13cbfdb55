"""Workspace files of a Docker sandbox: in, out and listed through the container.

The workspace is a tmpfs inside the container, invisible to ``docker cp``
(which sees the image's layers) and never touched from the host. Entries go
in as a tar archive unpacked by ``workspace_helper`` inside, as the user who
is to own them; files come out through the same helper, which refuses
symlinks and special files.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator, Sequence
from functools import cache
from importlib import resources
from itertools import groupby

from assay.errors import SandboxError, WorkspacePathError
from assay.sandbox.base import EntryKind, WorkspaceEntry
from assay.sandbox.docker import workspace_helper
from assay.sandbox.docker.api import DockerAPI
from assay.sandbox.docker.constants import SANDBOX_UID, WORKSPACE_DIR
from assay.sandbox.docker.execio import HelperResult, run_helper

PYTHON = "/usr/bin/python3"
STUDENT = f"{SANDBOX_UID}:{SANDBOX_UID}"
ROOT = "0:0"
LIST_LIMIT = 16 * 1024 * 1024


@cache
def helper_source() -> str:
    return (resources.files(__package__) / "workspace_helper.py").read_text(encoding="utf-8")


def entries_archive(entries: Sequence[WorkspaceEntry]) -> bytes:
    """One tar archive of ``entries``, in order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for entry in entries:
            info = tarfile.TarInfo(entry.path)
            info.mode = entry.mode & 0o777
            if entry.kind is EntryKind.DIR:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif entry.kind is EntryKind.SYMLINK:
                info.type, info.linkname = tarfile.SYMTYPE, entry.link_target
                archive.addfile(info)
            else:
                info.size = len(entry.data)
                archive.addfile(info, io.BytesIO(entry.data))
    return buffer.getvalue()


def owner_groups(entries: Sequence[WorkspaceEntry]) -> Iterator[tuple[str, list[WorkspaceEntry]]]:
    """Consecutive entries with the same owner, as (exec user, entries)."""
    for owner_root, group in groupby(entries, key=lambda e: e.owner_root):
        yield (ROOT if owner_root else STUDENT), list(group)


class Workspace:
    """The workspace of one container."""

    def __init__(self, api: DockerAPI, container_id: str) -> None:
        self.api = api
        self.container_id = container_id

    def _helper(self, user: str, *args: str, stdin: bytes | None = None) -> HelperResult:
        argv = [PYTHON, "-I", "-S", "-c", helper_source(), WORKSPACE_DIR, *args]
        return run_helper(self.api, self.container_id, argv, user=user, stdin=stdin)

    def add_entries(self, entries: Sequence[WorkspaceEntry]) -> None:
        for user, group in owner_groups(entries):
            result = self._helper(user, "extract", stdin=entries_archive(group))
            if result.status != 0:
                raise self._error(result, f"adding {len(group)} entries")

    def read_file(self, path: str, max_bytes: int) -> bytes:
        result = self._helper(STUDENT, "read", path, str(max_bytes))
        if result.status == workspace_helper.DENIED:
            result = self._helper(ROOT, "read", path, str(max_bytes))
        if result.status != 0:
            raise self._error(result, f"reading {path}")
        if len(result.stdout) > max_bytes:  # what comes out of a sandbox is untrusted
            raise WorkspacePathError(f"{path} is larger than {max_bytes} bytes")
        return result.stdout

    def list_files(self, path: str) -> list[str]:
        result = self._helper(STUDENT, "list", path)
        if result.status == workspace_helper.DENIED:
            result = self._helper(ROOT, "list", path)
        if result.status != 0:
            raise self._error(result, f"listing {path}")
        if len(result.stdout) > LIST_LIMIT:
            raise WorkspacePathError(f"the listing of {path} is too large")
        return [
            n.decode("utf-8", errors="surrogateescape") for n in result.stdout.split(b"\0") if n
        ]

    @staticmethod
    def _error(result: HelperResult, what: str) -> SandboxError:
        detail = result.stderr.decode("utf-8", errors="replace").strip()[-500:]
        if result.status in (
            workspace_helper.MISSING,
            workspace_helper.NOT_REGULAR,
            workspace_helper.TOO_LARGE,
            workspace_helper.DENIED,
        ):
            return WorkspacePathError(f"{what}: {detail}")
        return SandboxError(f"{what} failed (status {result.status}): {detail}")
