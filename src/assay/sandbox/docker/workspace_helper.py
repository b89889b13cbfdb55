"""File operations on a sandbox workspace, run *inside* the container.

This file is a standalone script: the backend passes its source to
``python3 -I -S -c`` in the container, running as the sandbox user (or the
sandbox's root for root-owned files), never with privilege on the host. It
walks paths one component at a time with ``O_NOFOLLOW``, so a symlink
planted by a program is never followed: a path through one is refused.

Usage: ``helper ROOT read PATH MAX`` | ``helper ROOT list PATH`` |
``helper ROOT extract`` (a tar archive on stdin).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tarfile
from typing import IO

MISSING, NOT_REGULAR, TOO_LARGE, DENIED, FAILED = 2, 3, 4, 5, 6
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CODES = {
    errno.ENOENT: MISSING,
    errno.ELOOP: NOT_REGULAR,
    errno.ENOTDIR: NOT_REGULAR,
    errno.EISDIR: NOT_REGULAR,
    errno.EACCES: DENIED,
    errno.EPERM: DENIED,
}


def _parts(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise OSError(errno.EINVAL, "path leaves the workspace", path)
    return parts


def _open_dir(root: str, parts: list[str], *, create: bool = False) -> int:
    """A descriptor of ROOT/parts, each component a real directory (never a symlink)."""
    fd = os.open(root, _DIR_FLAGS)
    for name in parts:
        try:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o755, dir_fd=fd)
            child = os.open(name, _DIR_FLAGS, dir_fd=fd)
        finally:
            os.close(fd)
        fd = child
    return fd


def read(root: str, path: str, limit: int) -> None:
    parts = _parts(path)
    if not parts:
        raise OSError(errno.EISDIR, "the workspace itself is a directory", path)
    parent = _open_dir(root, parts[:-1])
    try:
        fd = os.open(
            parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent
        )
    finally:
        os.close(parent)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            sys.stderr.write(f"{path}: not a regular file\n")
            sys.exit(NOT_REGULAR)
        data = f.read(limit + 1) if st.st_size <= limit else b""
    if st.st_size > limit or len(data) > limit:
        sys.stderr.write(f"{path}: larger than {limit} bytes\n")
        sys.exit(TOO_LARGE)
    sys.stdout.buffer.write(data)


def list_dir(root: str, path: str) -> None:
    fd = _open_dir(root, _parts(path))
    try:
        names = os.listdir(fd)
    finally:
        os.close(fd)
    sys.stdout.buffer.write(b"".join(os.fsencode(n) + b"\0" for n in sorted(names)))


def _remove_non_dir(parent: int, name: str) -> os.stat_result | None:
    """Unlink ``name`` unless it is a directory; the directory's stat if it is one."""
    try:
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(st.st_mode):
        return st
    os.unlink(name, dir_fd=parent)
    return None


def _make_dir(parent: int, name: str, mode: int) -> None:
    mode |= (mode & 0o444) >> 2  # readable directories are searchable (entries default to 0644)
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o700, dir_fd=parent)
    fd = os.open(name, _DIR_FLAGS, dir_fd=parent)  # ELOOP/ENOTDIR: something else is there
    try:
        os.fchmod(fd, mode)
    except PermissionError:
        pass  # an existing directory of another user keeps its mode
    finally:
        os.close(fd)


def _make_file(parent: int, name: str, mode: int, source: IO[bytes]) -> None:
    if _remove_non_dir(parent, name) is not None:
        raise OSError(errno.EISDIR, "a directory is in the way", name)
    fd = os.open(
        name,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o600,
        dir_fd=parent,
    )
    with os.fdopen(fd, "wb") as f:
        while chunk := source.read(1 << 16):
            f.write(chunk)
        os.fchmod(f.fileno(), mode)


def extract(root: str) -> None:
    with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as archive:
        for member in archive:
            parts = _parts(member.name)
            if not parts:
                continue
            parent = _open_dir(root, parts[:-1], create=True)
            try:
                name, mode = parts[-1], member.mode & 0o777
                if member.isdir():
                    _make_dir(parent, name, mode)
                elif member.issym():
                    if _remove_non_dir(parent, name) is not None:
                        raise OSError(errno.EISDIR, "a directory is in the way", name)
                    os.symlink(member.linkname, name, dir_fd=parent)
                elif member.isfile():
                    source = archive.extractfile(member)
                    if source is None:
                        raise OSError(errno.EINVAL, "unreadable archive member", name)
                    _make_file(parent, name, mode, source)
            finally:
                os.close(parent)


def main(argv: list[str]) -> None:
    root, command, args = argv[0], argv[1], argv[2:]
    try:
        if command == "read":
            read(root, args[0], int(args[1]))
        elif command == "list":
            list_dir(root, args[0])
        elif command == "extract":
            extract(root)
        else:
            sys.stderr.write(f"unknown command {command}\n")
            sys.exit(FAILED)
    except OSError as exc:
        sys.stderr.write(f"{exc.filename or ''}: {exc.strerror or exc}\n")
        sys.exit(_CODES.get(exc.errno or 0, FAILED))
    except tarfile.TarError as exc:
        sys.stderr.write(f"archive: {exc}\n")
        sys.exit(FAILED)


if __name__ == "__main__":
    main(sys.argv[1:])
