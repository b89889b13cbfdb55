"""Sets of files (a submission) stored as one normalised tar in a blob.

Normalised: members sorted by path, no owners, times or directories, mode 0644
or 0755, so the same files always give the same bytes, and ``content_hash``
names the files whatever form they were uploaded in.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class StoredFile:
    path: str  # relative POSIX path, already checked safe by the caller
    data: bytes
    executable: bool = False


def pack(files: Iterable[StoredFile]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for item in sorted(files, key=lambda f: f.path):
            info = tarfile.TarInfo(item.path)
            info.size = len(item.data)
            info.mode = 0o755 if item.executable else 0o644
            info.mtime = 0
            archive.addfile(info, io.BytesIO(item.data))
    return buffer.getvalue()


def unpack(data: bytes) -> list[StoredFile]:
    out: list[StoredFile] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        for member in archive:
            if not member.isfile():
                continue
            handle = archive.extractfile(member)
            if handle is None:
                continue
            out.append(StoredFile(member.name, handle.read(), bool(member.mode & 0o111)))
    return out


def content_hash(files: Iterable[StoredFile]) -> str:
    digest = hashlib.sha256()
    for item in sorted(files, key=lambda f: f.path):
        digest.update(item.path.encode() + b"\0")
        digest.update(hashlib.sha256(item.data).digest())
        digest.update(b"x" if item.executable else b"-")
    return digest.hexdigest()
