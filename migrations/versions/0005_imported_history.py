"""Imported audit history: the source instance's events of an imported case, kept verbatim beside the chain.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 21:02:05.228600
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.common

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imported_audit_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("ordinal", sa.BigInteger(), nullable=False),
        sa.Column("source_seq", sa.BigInteger(), nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=False),
        sa.Column("source_prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("source_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("import_manifest_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("imported_at", models.common.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imported_audit_events")),
        sa.UniqueConstraint("case_id", "ordinal", name=op.f("uq_imported_audit_events_case_id_ordinal")),
        sa.UniqueConstraint(
            "case_id", "source_event_id", name=op.f("uq_imported_audit_events_case_id_source_event_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("imported_audit_events")
