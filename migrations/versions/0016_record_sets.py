"""Record sets: a data file stored as evidence and read into records (its role's canonical fields, the key
columns k1..k6 that lookups and the review-for-refund finder read, and each record's exact line in the file);
analyses of them, and their findings.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 20:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.common

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_COLUMNS = ("k1", "k2", "k3", "k4", "k5", "k6")


def upgrade() -> None:
    op.create_table(
        "record_sets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("evidence_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("compressed", sa.Boolean(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("rows_done", sa.BigInteger(), nullable=False),
        sa.Column("rows_rejected", sa.BigInteger(), nullable=False),
        sa.Column("rows_total", sa.BigInteger(), nullable=True),
        sa.Column("bytes_read", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.common.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", models.common.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", models.common.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_record_sets_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_record_sets_created_by_users")),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence_items.id"],
            name=op.f("fk_record_sets_evidence_id_evidence_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_sets")),
    )
    op.create_index("ix_record_sets_case_created", "record_sets", ["case_id", "created_at", "id"])
    op.create_index(op.f("ix_record_sets_evidence_id"), "record_sets", ["evidence_id"])
    op.create_table(
        "records",
        sa.Column("record_set_id", sa.Uuid(), nullable=False),
        sa.Column("row", sa.BigInteger(), nullable=False),
        sa.Column("at", models.common.UTCDateTime(timezone=True), nullable=True),
        *(sa.Column(name, sa.Text(), nullable=True) for name in KEY_COLUMNS),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("source_line", sa.Text(), nullable=False),
        sa.Column("decoded_as", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_set_id"], ["record_sets.id"], name=op.f("fk_records_record_set_id_record_sets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("record_set_id", "row", name=op.f("pk_records")),
    )
    # A record set's key columns and time are indexed per record set once its import is done
    # (api/records/load.py create_indexes): partial indexes named ix_rs_<its id>_<column>, made at run time.

    op.create_table(
        "analyses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=True),
        sa.Column("records_read", sa.BigInteger(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.common.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", models.common.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", models.common.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_analyses_case_id_cases"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_analyses_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analyses")),
    )
    op.create_index("ix_analyses_case_created", "analyses", ["case_id", "created_at", "id"])
    op.create_table(
        "findings",
        sa.Column("analysis_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("seller", sa.Text(), nullable=True),
        sa.Column("product_id", sa.Text(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("amount", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=10), nullable=True),
        sa.Column("days", sa.Float(), nullable=False),
        sa.Column("reviewed_at", models.common.UTCDateTime(timezone=True), nullable=False),
        sa.Column("paid_at", models.common.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reviewer", sa.JSON(), nullable=False),
        sa.Column("review", sa.JSON(), nullable=False),
        sa.Column("payments", sa.JSON(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["analysis_id"], ["analyses.id"], name=op.f("fk_findings_analysis_id_analyses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("analysis_id", "number", name=op.f("pk_findings")),
    )
    op.create_index("ix_findings_seller", "findings", ["analysis_id", "seller", "number"])
    op.create_index("ix_findings_product", "findings", ["analysis_id", "product_id", "number"])


def downgrade() -> None:
    op.drop_table("findings")
    op.drop_table("analyses")
    op.drop_table("records")
    op.drop_table("record_sets")
