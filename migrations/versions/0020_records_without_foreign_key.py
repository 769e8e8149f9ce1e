"""Records no longer hold a foreign key to their record set. PostgreSQL checked it row by row as a record set was
copied in (a trigger and an index lookup per record): it took some 40% of the COPY's time. Every way a record set goes
removes its records first, in the same transaction (api/services/record_sets.py), and sets are never removed by a
cascade, so the key guarded nothing those paths do not.

On SQLite a key cannot be dropped in place: the table is made again without it (its rows copied, then its per-set
indexes, whose statements SQLite keeps, made again on the new table).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 01:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.common

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEY = "fk_records_record_set_id_record_sets"
KEY_COLUMNS = ("k1", "k2", "k3", "k4", "k5", "k6")  # as models.record_set has them when this revision was written


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(FOREIGN_KEY, "records", type_="foreignkey")
    else:
        _make_again(foreign_key=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key(FOREIGN_KEY, "records", "record_sets", ["record_set_id"], ["id"], ondelete="CASCADE")
    else:
        _make_again(foreign_key=True)


def _make_again(*, foreign_key: bool) -> None:
    """SQLite's way to change a table's constraints: a new table, the rows copied, the old one dropped and the new one
    renamed, then the old one's indexes made again from their own statements."""
    indexes = [
        sql
        for (sql,) in op.get_bind().exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' AND sql IS NOT NULL"
        )
    ]
    columns = [
        sa.Column("record_set_id", sa.Uuid(), nullable=False),
        sa.Column("row", sa.BigInteger(), nullable=False),
        sa.Column("at", models.common.UTCDateTime(timezone=True), nullable=True),
        *(sa.Column(name, sa.Text(), nullable=True) for name in KEY_COLUMNS),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("source_line", sa.Text(), nullable=False),
        sa.Column("decoded_as", sa.String(length=20), nullable=True),
        sa.Column("number", sa.Float(), nullable=True),
    ]
    constraints: list[sa.Constraint] = [sa.PrimaryKeyConstraint("record_set_id", "row", name="pk_records")]
    if foreign_key:
        constraints.append(
            sa.ForeignKeyConstraint(["record_set_id"], ["record_sets.id"], name=FOREIGN_KEY, ondelete="CASCADE")
        )
    op.create_table("records_new", *columns, *constraints)
    names = ", ".join(f'"{column.name}"' for column in columns)
    op.execute(f"INSERT INTO records_new ({names}) SELECT {names} FROM records")
    op.drop_table("records")  # and its indexes with it: made again below, on the new table
    op.rename_table("records_new", "records")
    for sql in indexes:
        op.execute(sql)
