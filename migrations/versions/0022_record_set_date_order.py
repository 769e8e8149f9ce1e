"""A record set says how its file writes a date of numbers that does not start with its year (03/04/2021): `mdy`
or `dmy`. Payment processors' exports write their dates so (PayPal's activity export: `03/04/2021` in one column,
`17:30:00` and `PST` in two others), and which of the two it is cannot be told from the file.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("record_sets") as batch:
        batch.add_column(sa.Column("date_order", sa.String(length=3), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("record_sets") as batch:
        batch.drop_column("date_order")
