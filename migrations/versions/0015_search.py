"""Full-text search: search_documents (a page of an item's text, an item's metadata, a timeline event), and the
engine's index of their words: on SQLite the FTS5 table `search_index` (rowid = document id), on PostgreSQL the
column search_documents.terms, a tsvector with a GIN index. The words are written by casebinder itself
(api/services/search), which tokenises and stems in Python so both engines hold the same tokens.

What is stored already is indexed by `casebinder migrate` once it has run this (or by `casebinder search reindex`).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE = [
    # Tokens are [a-z0-9]+ separated by spaces: the ascii tokenizer takes them as they are.
    "CREATE VIRTUAL TABLE search_index USING fts5(stems, words, tokenize = 'ascii')",
    # A document deleted by any path (its page, item or event deleted, cascading) takes its words with it.
    """CREATE TRIGGER search_documents_delete AFTER DELETE ON search_documents
        BEGIN DELETE FROM search_index WHERE rowid = OLD.id; END""",
]
POSTGRESQL = [
    "ALTER TABLE search_documents ADD COLUMN terms tsvector NOT NULL",
    # Kept in the row (compressed) rather than in the TOAST table: ranking reads every match's terms.
    "ALTER TABLE search_documents ALTER COLUMN terms SET STORAGE MAIN",
    # Statistics of ten times as many lexemes as by default: a rare word is then guessed to match a few hundred
    # documents, not 0.5% of them, and the planner looks up each hit's item instead of hashing every item.
    "ALTER TABLE search_documents ALTER COLUMN terms SET STATISTICS 1000",
    "CREATE INDEX ix_search_documents_terms ON search_documents USING gin (terms)",
]


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("evidence_id", sa.Uuid(), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("body_start", sa.Integer(), nullable=True),
        sa.Column("body_end", sa.Integer(), nullable=True),
        sa.CheckConstraint("(evidence_id IS NULL) <> (event_id IS NULL)", name=op.f("ck_search_documents_one_subject")),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["timeline_events.id"],
            name=op.f("fk_search_documents_event_id_timeline_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id", "page"],
            ["evidence_text_pages.evidence_id", "evidence_text_pages.page"],
            name=op.f("fk_search_documents_evidence_id_evidence_text_pages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence_items.id"],
            name=op.f("fk_search_documents_evidence_id_evidence_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_documents")),
    )
    op.create_index("ix_search_documents_evidence", "search_documents", ["evidence_id", "page"], unique=False)
    op.create_index("ix_search_documents_event", "search_documents", ["event_id"], unique=False)
    for statement in POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_search_documents_terms")
    else:
        op.execute("DROP TRIGGER search_documents_delete")
        op.execute("DROP TABLE search_index")
    op.drop_index("ix_search_documents_event", table_name="search_documents")
    op.drop_index("ix_search_documents_evidence", table_name="search_documents")
    op.drop_table("search_documents")
