"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from assay.storage.db import Database
from assay.storage.models import Base
from platform_helpers import DATABASE_KINDS, database_url


@pytest.mark.parametrize("kind", DATABASE_KINDS)
def test_migrations_match_the_models(kind: str, tmp_path: Path) -> None:
    with database_url(kind, tmp_path) as url:
        db = Database(url)
        try:
            assert not db.is_current()
            db.migrate()
            assert db.is_current()
            db.migrate()  # idempotent: a second start changes nothing
            with db.engine.connect() as connection:
                diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            assert diff == []
        finally:
            db.dispose()
