"""Productions (what went to the other side: Bates range, documents, manifest, the ZIP's SHA-256) and privilege
claims (items withheld or redacted for privilege, with what the privilege log says of them).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.common

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "productions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=True),
        sa.Column("prefix", sa.String(length=30), nullable=False),
        sa.Column("digits", sa.Integer(), nullable=False),
        sa.Column("bates_first_number", sa.BigInteger(), nullable=False),
        sa.Column("bates_last_number", sa.BigInteger(), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("redacted", sa.Boolean(), nullable=False),
        sa.Column("natives", sa.JSON(), nullable=False),
        sa.Column("text", sa.Boolean(), nullable=False),
        sa.Column("image_format", sa.String(length=10), nullable=False),
        sa.Column("encoding", sa.String(length=20), nullable=False),
        sa.Column("legend", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("zip_sha256", sa.String(length=64), nullable=True),
        sa.Column("zip_size", sa.BigInteger(), nullable=True),
        sa.Column("check", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.common.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", models.common.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", models.common.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_productions_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_productions_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_productions")),
    )
    op.create_index("ix_productions_case_created", "productions", ["case_id", "created_at", "id"])
    op.create_table(
        "privilege_claims",
        sa.Column("evidence_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("treatment", sa.String(length=20), nullable=False),
        sa.Column("privilege", sa.String(length=40), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("dated", sa.Date(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.Column("updated_at", models.common.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence_items.id"],
            name=op.f("fk_privilege_claims_evidence_id_evidence_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_privilege_claims_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"], name=op.f("fk_privilege_claims_updated_by_users")),
        sa.PrimaryKeyConstraint("evidence_id", name=op.f("pk_privilege_claims")),
    )
    op.create_index(op.f("ix_privilege_claims_case_id"), "privilege_claims", ["case_id"])


def downgrade() -> None:
    op.drop_table("privilege_claims")
    op.drop_table("productions")
