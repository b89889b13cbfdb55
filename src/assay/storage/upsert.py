"""Inserts that a concurrent insert of the same key cannot make fail.

Content-addressed rows (blobs) and get-or-create rows (an enrollment, a repository
link, a single sign-on account) are written with the database's own upsert,
``INSERT ... ON CONFLICT`` (PostgreSQL, and SQLite since 3.24). Selecting first and
inserting when nothing was found races: two transactions both find nothing and the
second insert fails on the unique key (on PostgreSQL, which does not serialise
writers as SQLite does). On a conflict PostgreSQL waits for the other transaction
and then skips or updates the row, so both transactions succeed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import QueryableAttribute, Session

from assay.errors import StorageError
from assay.storage.models import Base

Insert = postgresql.Insert | sqlite.Insert
T = TypeVar("T")
M = TypeVar("M", bound=Base)


def _insert(session: Session, model: type[Base]) -> Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise StorageError(f"no upsert for the {dialect} database")


def insert_new(
    session: Session,
    model: type[Base],
    values: Mapping[str, Any],
    *,
    returning: QueryableAttribute[T],
    key: Sequence[str] | None = None,
) -> T | None:
    """Insert a row unless one with the same ``key`` (None: any unique key) exists.

    Returns the ``returning`` column of the inserted row, or None when a row with that
    key was already there (and nothing was inserted).
    """
    statement = _insert(session, model).values(dict(values))
    statement = statement.on_conflict_do_nothing(index_elements=key)
    inserted: T | None = session.execute(statement.returning(returning)).scalar_one_or_none()
    return inserted


def upsert(
    session: Session,
    model: type[M],
    values: Mapping[str, Any],
    *,
    key: Sequence[str],
    update: Sequence[str],
) -> M:
    """Insert a row, or when one with the same ``key`` exists set its ``update`` columns;
    returns the row as it now is (the database's RETURNING, loaded over any copy this
    session already holds)."""
    statement = _insert(session, model).values(dict(values))
    statement = statement.on_conflict_do_update(
        index_elements=key, set_={name: statement.excluded[name] for name in update}
    )
    row: M = session.scalars(
        statement.returning(model), execution_options={"populate_existing": True}
    ).one()
    return row
