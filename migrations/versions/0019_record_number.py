"""A record's number as a column of its own: a review's rating, a payment's or an order's amount, for SQL to filter
and add up without parsing the record's fields (the exact amount stays in them). Filled for the records already
stored.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As models.record_set.NUMBER_FIELD has them when this revision was written.
NUMBER_FIELD = {"reviews": "rating", "payments": "amount", "orders": "amount"}


def upgrade() -> None:
    op.add_column("records", sa.Column("number", sa.Float(), nullable=True))
    postgres = op.get_bind().dialect.name == "postgresql"
    for role, name in NUMBER_FIELD.items():
        value = f"(fields ->> '{name}')::float8" if postgres else f"CAST(json_extract(fields, '$.{name}') AS REAL)"
        op.execute(
            f"UPDATE records SET number = {value} "
            f"WHERE record_set_id IN (SELECT id FROM record_sets WHERE role = '{role}')"
        )


def downgrade() -> None:
    op.execute("ALTER TABLE records DROP COLUMN number")
