"""Bundles rebuilt beside the one a legal hold keeps name it; a bundle whose rebuild failed serves its last build.

Before this revision a failed rebuild left a bundle `failed` with its previous build (volumes, Bates numbers,
placements) still on the row but no longer served. Such rows go back to `done`, as a failed rebuild now leaves
a bundle: the build they hold is intact, and their `error` says why the rebuild failed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bundles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rebuilt_from", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_bundles_rebuilt_from_bundles"), "bundles", ["rebuilt_from"], ["id"], ondelete="SET NULL"
        )
    kept = "the rebuild failed, so the bundle keeps its previous build: "
    op.execute(
        f"UPDATE bundles SET status = 'done', error = '{kept}' || COALESCE(error, 'no reason was recorded') "
        "WHERE status = 'failed' AND sha256 IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("bundles", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_bundles_rebuilt_from_bundles"), type_="foreignkey")
        batch_op.drop_column("rebuilt_from")
