"""Plain PostgreSQL connections beside the SQLAlchemy pool.

Some things need a connection of their own for as long as the process lives (a
LISTEN for notifications, a session-level advisory lock): psycopg connections
made from the same URL as the engine, kept out of the pool.
"""

from __future__ import annotations

from sqlalchemy import make_url


def libpq_url(url: str) -> str:
    """The libpq URL of a SQLAlchemy PostgreSQL URL (``postgresql+psycopg://...``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
