"""Custody: the hash-chained audit trail and its head, legal hold on cases, soft delete of evidence.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 20:52:52.138672
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.common

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", models.common.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("evidence_id", sa.Uuid(), nullable=True),
        sa.Column("object_type", sa.String(length=40), nullable=True),
        sa.Column("object_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("id", name=op.f("uq_audit_events_id")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_action_at", ["action", "at"], unique=False)
        batch_op.create_index("ix_audit_case_seq", ["case_id", "seq"], unique=False)
        batch_op.create_index("ix_audit_email_at", ["actor_email", "at"], unique=False)
        batch_op.create_index("ix_audit_evidence_seq", ["evidence_id", "seq"], unique=False)
        batch_op.create_index("ix_audit_ip_at", ["ip", "at"], unique=False)
        batch_op.create_index("ix_audit_object_seq", ["object_id", "seq"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # The chain starts from one head row; appends lock and advance it.
    head = sa.table("audit_head", sa.column("id", sa.Integer), sa.column("seq", sa.BigInteger), sa.column("hash"))
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": "0" * 64}])
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("legal_hold_at", models.common.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("legal_hold_by", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("legal_hold_reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_cases_legal_hold_by_users"), "users", ["legal_hold_by"], ["id"])

    with op.batch_alter_table("evidence_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", models.common.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("deleted_by", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("deleted_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("purged_at", models.common.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_evidence_items_deleted_by_users"), "users", ["deleted_by"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("evidence_items", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_evidence_items_deleted_by_users"), type_="foreignkey")
        batch_op.drop_column("purged_at")
        batch_op.drop_column("deleted_reason")
        batch_op.drop_column("deleted_by")
        batch_op.drop_column("deleted_at")

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_cases_legal_hold_by_users"), type_="foreignkey")
        batch_op.drop_column("legal_hold_reason")
        batch_op.drop_column("legal_hold_by")
        batch_op.drop_column("legal_hold_at")

    op.drop_table("audit_head")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_object_seq")
        batch_op.drop_index("ix_audit_ip_at")
        batch_op.drop_index("ix_audit_evidence_seq")
        batch_op.drop_index("ix_audit_email_at")
        batch_op.drop_index("ix_audit_case_seq")
        batch_op.drop_index("ix_audit_action_at")

    op.drop_table("audit_events")
