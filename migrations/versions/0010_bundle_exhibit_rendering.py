"""How much of each exhibit a bundle reproduces: `rendering` (complete, truncated or placeholder) and, in words,
`rendering_reason`.

Bundles built before this revision did not record it (a long table was cut without a word), so their rows keep
`rendering` empty, and their reason says to rebuild the bundle to find out.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_RECORDED = (
    "not recorded: this bundle was built before casebinder recorded how much of each exhibit it reproduces; "
    "rebuild the bundle to find out"
)


def upgrade() -> None:
    with op.batch_alter_table("bundle_exhibits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rendering", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("rendering_reason", sa.Text(), nullable=True))
    op.execute(sa.text("UPDATE bundle_exhibits SET rendering_reason = :reason").bindparams(reason=NOT_RECORDED))


def downgrade() -> None:
    with op.batch_alter_table("bundle_exhibits", schema=None) as batch_op:
        batch_op.drop_column("rendering_reason")
        batch_op.drop_column("rendering")
