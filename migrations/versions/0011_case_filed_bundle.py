"""A case marks the bundle it has filed: its chronology cites that bundle's Bates numbers by default.

Bundles cannot be deleted through the API, but a bundle row that goes (with its case, or by hand) clears the
mark rather than blocking the delete: ON DELETE SET NULL. On SQLite, batch mode copies `cases`, which the
migration environment does with foreign keys off (see migrations/env.py), so no row that hangs off a case goes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("filed_bundle_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_filed_bundle_id_bundles"), "bundles", ["filed_bundle_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_cases_filed_bundle_id_bundles"), type_="foreignkey")
        batch_op.drop_column("filed_bundle_id")
