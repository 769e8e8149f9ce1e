"""A record's keys (k1..k6) compare byte by byte on PostgreSQL: collation "C".

Keys are ids, addresses and URLs, only ever matched for equality, never shown in an order. A record set's indexes on
them are built by sorting each key of every record, and under a language's collation each comparison goes through
the C library's collating (and PostgreSQL cannot abbreviate the keys): a million-record set's seven indexes took
twice as long to build. The change rebuilds the indexes on those columns, not the table: on a database holding the
records of large sets it takes about as long as building their indexes again (some 0.7 s a million records an
index), with the table locked meanwhile. SQLite compares bytes already.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 07:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_COLUMNS = ("k1", "k2", "k3", "k4", "k5", "k6")  # as models.record_set has them when this revision was written


def _collate(collation: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    changes = ", ".join(f"ALTER COLUMN {name} TYPE text COLLATE {collation}" for name in KEY_COLUMNS)
    op.execute(f"ALTER TABLE records {changes}")


def upgrade() -> None:
    _collate('"C"')


def downgrade() -> None:
    _collate('"default"')
