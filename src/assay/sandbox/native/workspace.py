"""A native session's workspace: a size-limited tmpfs on the host.

After any run, every path in the workspace is hostile (a student may have
planted symlinks or FIFOs). The host only ever walks it with directory file
descriptors and ``O_NOFOLLOW``, never through a path string, and never while
a process of the session is alive.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import stat
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from assay.errors import SandboxError, WorkspacePathError
from assay.sandbox.base import EntryKind, WorkspaceEntry

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
MNT_DETACH = 2
MS_NOSUID = 2
MS_NODEV = 4

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _mount_tmpfs(target: Path, size_bytes: int, uid: int, gid: int) -> None:
    inodes = max(1024, size_bytes // 4096)
    options = f"size={size_bytes},nr_inodes={inodes},mode=0700,uid={uid},gid={gid}"
    rc = _libc.mount(
        b"assay-work", str(target).encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode()
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise SandboxError(f"cannot mount the workspace tmpfs at {target}: {os.strerror(err)}")


def _umount(target: Path) -> None:
    if _libc.umount2(str(target).encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (22, 2):  # EINVAL: not mounted; ENOENT: gone
            raise SandboxError(f"cannot unmount {target}: {os.strerror(err)}")


def remove_stale(base: Path, pid: int | None = None) -> list[Path]:
    """Unmount and delete the workspaces of processes that died without closing them
    (only those of ``pid`` if given)."""
    removed = []
    for session_dir in base.glob("*-*" if pid is None else f"{pid}-*"):
        owner = session_dir.name.partition("-")[0]
        if not owner.isdigit() or Path(f"/proc/{owner}").exists():
            continue
        _umount(session_dir / "work")
        shutil.rmtree(session_dir, ignore_errors=True)
        removed.append(session_dir)
    return removed


class Workspace:
    """The host side of ``/work``."""

    def __init__(self, base: Path, size_bytes: int, uid: int, gid: int) -> None:
        self.uid, self.gid, self.size_bytes = uid, gid, size_bytes
        # <owner pid>-<random>: remove_stale() can tell a crashed owner's workspaces.
        self.session_dir = base / f"{os.getpid()}-{uuid.uuid4().hex}"
        self.path = self.session_dir / "work"
        self.session_dir.mkdir(mode=0o711, parents=True)
        self.path.mkdir(mode=0o700)
        self._mounted = False
        self.mount()

    def mount(self) -> None:
        _mount_tmpfs(self.path, self.size_bytes, self.uid, self.gid)
        self._mounted = True

    def reset(self) -> None:
        """A fresh, empty filesystem (nothing of the old one is walked)."""
        _umount(self.path)
        self._mounted = False
        self.mount()

    def destroy(self) -> None:
        if self._mounted:
            _umount(self.path)
            self._mounted = False
        shutil.rmtree(self.session_dir, ignore_errors=True)

    # -- safe traversal ----------------------------------------------------
    @contextlib.contextmanager
    def _root(self) -> Iterator[int]:
        fd = os.open(self.path, DIR_FLAGS)
        try:
            yield fd
        finally:
            os.close(fd)

    def _walk(self, root_fd: int, parts: Sequence[str], create: bool, owner_root: bool) -> int:
        """An fd of the directory ``parts`` below ``root_fd``; never follows links."""
        fd = os.dup(root_fd)
        for part in parts:
            try:
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o755, dir_fd=fd)
                        if not owner_root:
                            os.chown(part, self.uid, self.gid, dir_fd=fd, follow_symlinks=False)
                next_fd = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise WorkspacePathError(
                    f"{'/'.join(parts)}: {part!r} is not a directory ({exc.strerror})"
                ) from exc
            finally:
                os.close(fd)
            fd = next_fd
        return fd

    def add_entries(self, entries: Sequence[WorkspaceEntry]) -> None:
        with self._root() as root_fd:
            for entry in entries:
                self._add(root_fd, entry)

    def _add(self, root_fd: int, entry: WorkspaceEntry) -> None:
        *parents, leaf = entry.path.split("/")
        parent_fd = self._walk(root_fd, parents, create=True, owner_root=entry.owner_root)
        owner = (0, 0) if entry.owner_root else (self.uid, self.gid)
        try:
            if entry.kind is EntryKind.DIR:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(leaf, 0o755, dir_fd=parent_fd)
                fd = os.open(leaf, DIR_FLAGS, dir_fd=parent_fd)
                try:
                    os.fchown(fd, *owner)
                    os.fchmod(fd, entry.mode)
                finally:
                    os.close(fd)
                return
            self._unlink_existing(parent_fd, leaf)
            if entry.kind is EntryKind.SYMLINK:
                os.symlink(entry.link_target, leaf, dir_fd=parent_fd)
                os.chown(leaf, *owner, dir_fd=parent_fd, follow_symlinks=False)
                return
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(leaf, flags, 0o600, dir_fd=parent_fd)
            try:
                os.fchown(fd, *owner)
                view = memoryview(entry.data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fchmod(fd, entry.mode)
            finally:
                os.close(fd)
        except OSError as exc:
            raise WorkspacePathError(f"cannot create {entry.path}: {exc.strerror}") from exc
        finally:
            os.close(parent_fd)

    @staticmethod
    def _unlink_existing(parent_fd: int, leaf: str) -> None:
        try:
            st = os.stat(leaf, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            raise WorkspacePathError(f"{leaf!r} is a directory")
        os.unlink(leaf, dir_fd=parent_fd)

    def read_file(self, path: str, max_bytes: int) -> bytes:
        *parents, leaf = path.split("/")
        with self._root() as root_fd:
            parent_fd = self._walk(root_fd, parents, create=False, owner_root=False)
            try:
                fd = os.open(
                    leaf,
                    os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                    dir_fd=parent_fd,
                )
            except OSError as exc:
                raise WorkspacePathError(f"cannot open {path}: {exc.strerror}") from exc
            finally:
                os.close(parent_fd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise WorkspacePathError(f"{path} is not a regular file")
            if st.st_size > max_bytes:
                raise WorkspacePathError(f"{path} is larger than {max_bytes} bytes")
            chunks, remaining = [], max_bytes + 1
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            data = b"".join(chunks)
            if len(data) > max_bytes:
                raise WorkspacePathError(f"{path} is larger than {max_bytes} bytes")
            return data
        finally:
            os.close(fd)

    def list_files(self, path: str) -> list[str]:
        parts = [] if path == "." else path.split("/")
        with self._root() as root_fd:
            fd = self._walk(root_fd, parts, create=False, owner_root=False)
            try:
                return sorted(os.listdir(fd))
            finally:
                os.close(fd)
