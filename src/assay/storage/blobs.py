"""Content-addressed file storage in the database (packages, submissions)."""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from assay.errors import StorageError
from assay.storage.models import Blob


def put_blob(session: Session, data: bytes) -> str:
    """Store ``data`` (once per content) and return its SHA-256."""
    digest = hashlib.sha256(data).hexdigest()
    if session.get(Blob, digest) is None:
        session.add(Blob(sha256=digest, size_bytes=len(data), data=data))
        session.flush()
    return digest


def get_blob(session: Session, digest: str) -> bytes:
    blob = session.get(Blob, digest)
    if blob is None:
        raise StorageError(f"blob {digest} is missing from the database")
    return blob.data
