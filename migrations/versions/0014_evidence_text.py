"""Evidence text: one text-extraction job per evidence item, and the pages of text it found (with OCR word boxes
and the invisible text layer bundles lay over pictures). Every existing item gets a queued job.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.common

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evidence_texts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=200), nullable=False),
        sa.Column("engine", sa.String(length=200), nullable=True),
        sa.Column("chars", sa.Integer(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("ocr_pages", sa.Integer(), nullable=True),
        sa.Column("ocr_seconds", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("queued_at", models.common.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", models.common.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", models.common.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["id"], ["evidence_items.id"], name=op.f("fk_evidence_texts_id_evidence_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_texts")),
    )
    op.create_index("ix_evidence_texts_status_queued", "evidence_texts", ["status", "queued_at"], unique=False)
    op.create_table(
        "evidence_text_pages",
        sa.Column("evidence_id", sa.Uuid(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("tsv", sa.Text(), nullable=True),
        sa.Column("hocr", sa.Text(), nullable=True),
        sa.Column("layer", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence_texts.id"],
            name=op.f("fk_evidence_text_pages_evidence_id_evidence_texts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("evidence_id", "page", name=op.f("pk_evidence_text_pages")),
    )
    # Every item already stored waits for its text: `casebinder text backfill` (or a running server) reads it.
    op.execute(
        "INSERT INTO evidence_texts (id, status, language, queued_at) "
        "SELECT id, 'queued', 'eng', created_at FROM evidence_items WHERE purged_at IS NULL"
    )


def downgrade() -> None:
    op.drop_table("evidence_text_pages")
    op.drop_index("ix_evidence_texts_status_queued", table_name="evidence_texts")
    op.drop_table("evidence_texts")
