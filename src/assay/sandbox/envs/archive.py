"""A store entry as one compressed archive, and back: how a tree travels between machines.

An archive is a tar stream (PAX) of ``spec.json``, ``meta.json``, ``build.log`` and
``rootfs/``, compressed with zstd. Packing keeps owners (numeric), modes, symbolic
and hard links; it drops file capabilities and other extended attributes (a tree has
no use for them: runs are ``nosuid`` and unprivileged).

Unpacking treats the archive as untrusted bytes, whoever published it:

- every member is ``spec.json``, ``meta.json``, ``build.log``, ``rootfs`` or under
  ``rootfs/``; no absolute name, no ``..``;
- no device node or fifo; setuid and setgid bits are cleared (the sticky bit stays:
  ``/tmp`` and ``/work`` need it);
- nothing is written through a link: the real path of every member (its directories'
  links resolved on this host) must lie inside the destination, and a hard link must
  name a member inside it. A symbolic link's target is kept as it is (a tree's links
  are absolute by design and are resolved only inside a sandbox, where the tree is /);
- owners are the archive's numeric ids (the tree is root's; the host's names do not
  matter), applied when unpacking as root;
- at most ``MAX_TREE_BYTES`` of file data.

Checking the archive's digest is the caller's (``spool``); checking that
``spec.json`` hashes to the key is the store's.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import zstandard

from assay.errors import EnvironmentArchiveError as ArchiveError

ROOTFS = "rootfs"
FILES = ("spec.json", "meta.json", "build.log")
COMPRESSION_LEVEL = 6
"""zstd level: packing is once per key, fetching on every machine (see environments.md)."""
MAX_TREE_BYTES = 32 * 2**30


@dataclass(frozen=True)
class Packed:
    """An archive written by ``pack``: its SHA-256 and length."""

    sha256: str
    size_bytes: int


class _Hashing:
    """A write-only file that hashes and counts what passes through to ``sink``."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.sink.write(data)


def _anonymous(member: tarfile.TarInfo) -> tarfile.TarInfo:
    member.uname = member.gname = ""  # numeric owners only: names are the host's
    return member


def pack(entry: Path, sink: BinaryIO, *, level: int = COMPRESSION_LEVEL) -> Packed:
    """Write the store entry ``entry`` (``<key>/``) to ``sink`` as a compressed archive."""
    hashing = _Hashing(sink)
    compressor = zstandard.ZstdCompressor(level=level, threads=-1)
    with (
        compressor.stream_writer(hashing, closefd=False) as compressed,  # type: ignore[arg-type]
        tarfile.open(fileobj=compressed, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in FILES:
            if (entry / name).is_file():
                tar.add(entry / name, arcname=name, filter=_anonymous)
        tar.add(entry / ROOTFS, arcname=ROOTFS, recursive=True, filter=_anonymous)
    return Packed(hashing.digest.hexdigest(), hashing.size)


def spool(chunks: Iterable[bytes], target: Path, sha256: str, size_bytes: int) -> None:
    """Write ``chunks`` to ``target``; raise ``ArchiveError`` unless they are exactly
    ``size_bytes`` long with SHA-256 ``sha256`` (nothing is unpacked before this)."""
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > size_bytes:
                break
            digest.update(chunk)
            out.write(chunk)
    if size != size_bytes or digest.hexdigest() != sha256:
        raise ArchiveError(
            f"the environment archive is damaged: {size} bytes with SHA-256 "
            f"{digest.hexdigest()[:16]}..., expected {size_bytes} bytes with {sha256[:16]}..."
        )


def unpack(archive: Path, destination: Path) -> None:
    """Unpack ``archive`` into the empty directory ``destination`` (rules: module
    docstring); raises ``ArchiveError`` on the first member that breaks one."""
    rules = _Rules(os.path.realpath(destination))
    decompressor = zstandard.ZstdDecompressor()
    try:
        with (
            archive.open("rb") as raw,
            decompressor.stream_reader(raw) as stream,
            tarfile.open(fileobj=stream, mode="r|") as tar,
        ):
            if EXTRACTION_FILTERS:
                tar.extractall(destination, numeric_owner=True, filter=rules.check)  # noqa: S202 - every member checked
            else:  # the same rules, each member checked just before it is extracted
                tar.extractall(destination, members=rules.checked(tar), numeric_owner=True)  # noqa: S202
    except (tarfile.TarError, zstandard.ZstdError, EOFError) as exc:
        raise ArchiveError(f"the environment archive cannot be unpacked: {exc}") from exc


# Extraction filters (PEP 706) came with Python 3.11.4; Debian bookworm's python3.11
# (3.11.2, the deployment images': deploy/docker) has none.
EXTRACTION_FILTERS = hasattr(tarfile, "data_filter")


class _Rules:
    def __init__(self, root: str) -> None:
        self.root = root
        self.total = 0

    def _inside(self, name: str) -> None:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or not name:
            raise ArchiveError(f"environment archive member {name!r}: not a relative path")
        real = os.path.realpath(os.path.join(self.root, name))
        if os.path.commonpath([real, self.root]) != self.root:
            raise ArchiveError(f"environment archive member {name!r} leads out of the tree")

    def check(self, member: tarfile.TarInfo, _dest: str) -> tarfile.TarInfo:
        name = member.name
        self._inside(name)
        if name not in FILES and PurePosixPath(name).parts[0] != ROOTFS:
            raise ArchiveError(f"environment archive member {name!r}: not part of an environment")
        if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            raise ArchiveError(f"environment archive member {name!r}: a device node or fifo")
        if member.islnk():
            self._inside(member.linkname)
        self.total += member.size
        if self.total > MAX_TREE_BYTES:
            raise ArchiveError(f"the environment archive holds more than {MAX_TREE_BYTES} bytes")
        member.mode &= ~(stat.S_ISUID | stat.S_ISGID)
        return member

    def checked(self, members: Iterable[tarfile.TarInfo]) -> Iterator[tarfile.TarInfo]:
        """``check`` as a generator, for ``extractall(members=...)`` without filters."""
        for member in members:
            yield self.check(member, self.root)
