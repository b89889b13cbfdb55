"""environment archives: built trees for workers that lack them

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 03:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import assay.storage.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "environment_archives",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("tree_bytes", sa.BigInteger(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("published_by", sa.String(length=255), nullable=False),
        sa.Column("fetches", sa.Integer(), nullable=False),
        sa.Column("created_at", assay.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "environment_archive_chunks",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["key"], ["environment_archives.key"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key", "seq"),
    )


def downgrade() -> None:
    op.drop_table("environment_archive_chunks")
    op.drop_table("environment_archives")
