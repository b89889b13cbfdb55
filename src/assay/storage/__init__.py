"""Persistent state: the database schema, sessions, migrations and blobs."""

from assay.storage.db import Database
from assay.storage.models import Base

__all__ = ["Base", "Database"]
