"""Reading host files and directories into workspace entries, safely.

Links are never followed: a symlink is copied as a symlink (inside the
sandbox it can only name the sandbox's own files), and FIFOs, sockets and
devices are skipped. Hard links are copied as independent files.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from assay.errors import WorkspacePathError
from assay.sandbox.base import EntryKind, WorkspaceEntry

MAX_ENTRIES = 100_000


def normalise_workspace_path(path: str) -> str:
    """A relative, normalised workspace path; refuses ``..`` and absolute paths."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or "\0" in path:
        raise WorkspacePathError(f"workspace paths must be relative and stay inside: {path!r}")
    parts = [p for p in pure.parts if p not in ("", ".")]
    return "/".join(parts) if parts else "."


def _join(dest: str, name: str) -> str:
    return name if dest == "." else f"{dest}/{name}"


def _read_regular(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise WorkspacePathError(f"not a regular file: {path}")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


def entries_from_host(
    source: Path, dest: str = ".", *, owner_root: bool = False, read_only: bool = False
) -> Iterator[WorkspaceEntry]:
    """Entries for a host file or the contents of a host directory.

    A file lands at ``dest/<its name>``; a directory's contents land in ``dest``.
    """
    dest = normalise_workspace_path(dest)
    st = os.lstat(source)
    if stat.S_ISDIR(st.st_mode):
        if dest != ".":
            yield WorkspaceEntry(
                dest, EntryKind.DIR, mode=0o555 if read_only else 0o755, owner_root=owner_root
            )
        yield from _walk(source, dest, owner_root=owner_root, read_only=read_only)
    else:
        entry = _entry(source, _join(dest, source.name), st, owner_root, read_only)
        if entry is None:
            raise WorkspacePathError(f"not a regular file, directory or symlink: {source}")
        yield entry


def _entry(
    path: Path, rel: str, st: os.stat_result, owner_root: bool, read_only: bool
) -> WorkspaceEntry | None:
    if stat.S_ISLNK(st.st_mode):
        return WorkspaceEntry(
            rel, EntryKind.SYMLINK, link_target=os.readlink(path), owner_root=owner_root
        )
    if stat.S_ISREG(st.st_mode):
        mode = 0o755 if st.st_mode & 0o111 else 0o644
        if read_only:
            mode &= 0o555
        return WorkspaceEntry(
            rel, EntryKind.FILE, data=_read_regular(path), mode=mode, owner_root=owner_root
        )
    return None


def _walk(root: Path, dest: str, *, owner_root: bool, read_only: bool) -> Iterator[WorkspaceEntry]:
    count = 0
    stack: list[tuple[Path, str]] = [(root, dest)]
    while stack:
        directory, rel_dir = stack.pop()
        with os.scandir(directory) as it:
            for item in sorted(it, key=lambda e: e.name):
                count += 1
                if count > MAX_ENTRIES:
                    raise WorkspacePathError(f"{root} has more than {MAX_ENTRIES} entries")
                rel = _join(rel_dir, item.name)
                path = Path(item.path)
                st = item.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    yield WorkspaceEntry(
                        rel,
                        EntryKind.DIR,
                        mode=0o555 if read_only else 0o755,
                        owner_root=owner_root,
                    )
                    stack.append((path, rel))
                    continue
                entry = _entry(path, rel, st, owner_root, read_only)
                if entry is not None:
                    yield entry
