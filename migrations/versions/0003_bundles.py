"""Exhibit bundles and where each exhibit landed in them (the source of Bates citations).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 18:48:06.259172
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.common

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bundles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("bates_prefix", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("bates_first", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("bates_last", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("bates_last_number", sa.BigInteger(), nullable=True),
        sa.Column("volumes", sa.JSON(), nullable=False),
        sa.Column("validation", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.common.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", models.common.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", models.common.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_bundles_case_id_cases"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_bundles_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundles")),
    )
    with op.batch_alter_table("bundles", schema=None) as batch_op:
        batch_op.create_index("ix_bundles_case_created", ["case_id", "created_at", "id"], unique=False)

    op.create_table(
        "bundle_exhibits",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("bundle_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("exhibit_id", sa.Uuid(), nullable=False),
        sa.Column("evidence_id", sa.Uuid(), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("evidence_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("start_page", sa.Integer(), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("first_content_page", sa.Integer(), nullable=False),
        sa.Column("bates_first", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("bates_last", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("bates_first_number", sa.BigInteger(), nullable=False),
        sa.Column("volume", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bundle_id"], ["bundles.id"], name=op.f("fk_bundle_exhibits_bundle_id_bundles"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundle_exhibits")),
        sa.UniqueConstraint("bundle_id", "seq", name=op.f("uq_bundle_exhibits_bundle_id_seq")),
    )
    with op.batch_alter_table("bundle_exhibits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bundle_exhibits_bundle_id"), ["bundle_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bundle_exhibits_exhibit_id"), ["exhibit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bundle_exhibits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bundle_exhibits_exhibit_id"))
        batch_op.drop_index(batch_op.f("ix_bundle_exhibits_bundle_id"))

    op.drop_table("bundle_exhibits")
    with op.batch_alter_table("bundles", schema=None) as batch_op:
        batch_op.drop_index("ix_bundles_case_created")

    op.drop_table("bundles")
