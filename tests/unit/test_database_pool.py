"""The PostgreSQL pool's size comes from the settings (many worker processes each keep
a pool: their sum must stay under the server's max_connections)."""

from __future__ import annotations

from sqlalchemy.pool import QueuePool

from assay.config import Settings
from assay.storage.db import Database

URL = "postgresql+psycopg://assay@127.0.0.1:1/assay"  # an engine does not connect yet


def test_the_pool_size_and_overflow_are_the_settings() -> None:
    settings = Settings(database_url=URL, database_pool_size=3, database_max_overflow=0)
    db = Database(
        settings.resolved_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
    try:
        pool = db.engine.pool
        assert isinstance(pool, QueuePool)
        assert pool.size() == 3
        assert pool._max_overflow == 0
    finally:
        db.engine.dispose()


def test_the_defaults_are_ten_and_twenty() -> None:
    settings = Settings(database_url=URL)
    assert (settings.database_pool_size, settings.database_max_overflow) == (10, 20)
    db = Database(URL)
    try:
        assert db.engine.pool.size() == 10  # type: ignore[attr-defined]
    finally:
        db.engine.dispose()
