"""Content-addressed file storage in the database (packages, submissions).

Writing a blob is idempotent under concurrency: many transactions may store the
same bytes at the same moment (a class submitting the same starter file) and each
succeeds, with one row stored (``upsert.insert_new``).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.errors import StorageError
from assay.storage.models import Blob
from assay.storage.upsert import insert_new


def put_blob(session: Session, data: bytes) -> str:
    """Store ``data`` (once per content) and return its SHA-256."""
    digest = hashlib.sha256(data).hexdigest()
    return put_blob_hashed(session, digest, data)


def put_blob_hashed(session: Session, digest: str, data: bytes) -> str:
    """``put_blob`` with the SHA-256 already computed (outside a write transaction)."""
    # Looked up first so that known content is not sent to the database again.
    if session.scalar(select(Blob.sha256).where(Blob.sha256 == digest)) is None:
        row = {"sha256": digest, "size_bytes": len(data), "data": data}
        insert_new(session, Blob, row, key=["sha256"], returning=Blob.sha256)
    return digest


def get_blob(session: Session, digest: str) -> bytes:
    blob = session.get(Blob, digest)
    if blob is None:
        raise StorageError(f"blob {digest} is missing from the database")
    return blob.data
