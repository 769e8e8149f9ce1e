"""Case timelines: timeline_events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.common

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "timeline_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", models.common.UTCDateTime(timezone=True), nullable=False),
        sa.Column("occurred_until", models.common.UTCDateTime(timezone=True), nullable=False),
        sa.Column("precision", sa.String(length=10), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("evidence_id", sa.Uuid(), nullable=True),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("exhibit_id", sa.Uuid(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.common.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.common.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_timeline_events_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_timeline_events_created_by_users")),
        sa.ForeignKeyConstraint(
            ["evidence_id"], ["evidence_items.id"], name=op.f("fk_timeline_events_evidence_id_evidence_items")
        ),
        sa.ForeignKeyConstraint(
            ["exhibit_id"], ["exhibits.id"], name=op.f("fk_timeline_events_exhibit_id_exhibits"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_events")),
        sa.UniqueConstraint("exhibit_id", name=op.f("uq_timeline_events_exhibit_id")),
    )
    with op.batch_alter_table("timeline_events", schema=None) as batch_op:
        batch_op.create_index("ix_timeline_events_case_occurred", ["case_id", "occurred_at", "id"], unique=False)
        batch_op.create_index(
            "ix_timeline_events_case_precision", ["case_id", "precision", "occurred_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("timeline_events", schema=None) as batch_op:
        batch_op.drop_index("ix_timeline_events_case_precision")
        batch_op.drop_index("ix_timeline_events_case_occurred")

    op.drop_table("timeline_events")
