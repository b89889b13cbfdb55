"""File sets (a submission) stored as one normalised tar in a blob.

Normalised: members sorted by path, no owners, times or directories, mode 0644
or 0755, so the same files always give the same bytes, and ``content_hash``
names the files whatever form they were uploaded in.
"""

from __future__ import annotations

import hashlib
import io
import tarfile

from assay.files.fileset import File, FileSet


def pack(files: FileSet) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for item in sorted(files, key=lambda f: f.path):
            info = tarfile.TarInfo(item.path)
            info.size = len(item.data)
            info.mode = 0o755 if item.executable else 0o644
            info.mtime = 0
            archive.addfile(info, io.BytesIO(item.data))
    return buffer.getvalue()


def unpack(data: bytes) -> FileSet:
    """The files ``pack`` stored (in path order); their names pass the rule again."""
    out: list[File] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        for member in archive:
            if not member.isfile():
                continue
            handle = archive.extractfile(member)
            if handle is None:
                continue
            out.append(File(member.name, handle.read(), bool(member.mode & 0o111)))
    return FileSet(tuple(out))


def content_hash(files: FileSet) -> str:
    digest = hashlib.sha256()
    for item in sorted(files, key=lambda f: f.path):
        digest.update(item.path.encode() + b"\0")
        digest.update(hashlib.sha256(item.data).digest())
        digest.update(b"x" if item.executable else b"-")
    return digest.hexdigest()
