"""jobs: the claim index by course (status, lane, course_id, created_at, id)

A claim now looks up each course's oldest queued jobs instead of sorting every
queued job (queue/claims.py); this index serves both that lookup and the skip
scan over the courses with jobs queued. ix_jobs_claim, which the release before
claims with, stays while a rolling upgrade may run both (migrations only add); a
later release drops it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 13:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_jobs_queue", ["status", "lane", "course_id", "created_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_queue")
