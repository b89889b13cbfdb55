"""Content-addressed file storage in the database (packages, submissions)."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.errors import StorageError
from assay.storage.models import Blob


def put_blob(session: Session, data: bytes) -> str:
    """Store ``data`` (once per content) and return its SHA-256."""
    digest = hashlib.sha256(data).hexdigest()
    return put_blob_hashed(session, digest, data)


def put_blob_hashed(session: Session, digest: str, data: bytes) -> str:
    """``put_blob`` with the SHA-256 already computed (outside a write transaction)."""
    if session.scalar(select(Blob.sha256).where(Blob.sha256 == digest)) is None:
        session.add(Blob(sha256=digest, size_bytes=len(data), data=data))
        session.flush()
    return digest


def get_blob(session: Session, digest: str) -> bytes:
    blob = session.get(Blob, digest)
    if blob is None:
        raise StorageError(f"blob {digest} is missing from the database")
    return blob.data
