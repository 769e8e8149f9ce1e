"""Timeline filters that stay fast on a million events: kind and disputed indexes, the end of each span in the
precision index, and timeline_event_tags.

timeline_event_tags holds one row per tag of an event, written by triggers on timeline_events, so every path
that writes events (the API, derived events, imports, case restores, bulk loads) keeps it in step. The rows
of events that exist already are written here. tag_key lower-cases ASCII letters only, on both databases, as
the tag filter always has.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.common

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ASCII_LOWER = "translate({}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"

# SQLite: lower() changes ASCII letters only. One trigger per row.
SQLITE_ADD = """
    INSERT OR IGNORE INTO timeline_event_tags (event_id, tag_key, case_id, occurred_at)
    SELECT NEW.id, lower(value), NEW.case_id, NEW.occurred_at FROM json_each(NEW.tags) WHERE type = 'text';
"""
SQLITE = [
    f"""CREATE TRIGGER timeline_event_tags_insert AFTER INSERT ON timeline_events
        WHEN NEW.tags <> '[]' BEGIN {SQLITE_ADD} END""",
    f"""CREATE TRIGGER timeline_event_tags_update AFTER UPDATE OF tags, occurred_at, case_id ON timeline_events
        BEGIN DELETE FROM timeline_event_tags WHERE event_id = OLD.id; {SQLITE_ADD} END""",
    """CREATE TRIGGER timeline_event_tags_delete AFTER DELETE ON timeline_events
        BEGIN DELETE FROM timeline_event_tags WHERE event_id = OLD.id; END""",
]
SQLITE_BACKFILL = """
    INSERT OR IGNORE INTO timeline_event_tags (event_id, tag_key, case_id, occurred_at)
    SELECT e.id, lower(t.value), e.case_id, e.occurred_at FROM timeline_events e, json_each(e.tags) t
    WHERE t.type = 'text'
"""

# PostgreSQL: statement triggers over transition tables, so a COPY of a million rows writes their tags in one
# set-based INSERT rather than a million function calls.
PG_ADD = f"""
    INSERT INTO timeline_event_tags (event_id, tag_key, case_id, occurred_at)
    SELECT n.id, {ASCII_LOWER.format("t.value")}, n.case_id, n.occurred_at
    FROM new_rows n CROSS JOIN LATERAL json_array_elements_text(
        CASE WHEN json_typeof(n.tags) = 'array' THEN n.tags ELSE '[]'::json END) AS t(value)
    ON CONFLICT DO NOTHING;
"""
POSTGRESQL = [
    f"""CREATE FUNCTION timeline_event_tags_added() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN {PG_ADD} RETURN NULL; END $$""",
    f"""CREATE FUNCTION timeline_event_tags_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM timeline_event_tags WHERE event_id IN (SELECT id FROM old_rows);
            {PG_ADD}
            RETURN NULL;
        END $$""",
    """CREATE FUNCTION timeline_event_tags_removed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN DELETE FROM timeline_event_tags WHERE event_id IN (SELECT id FROM old_rows); RETURN NULL; END $$""",
    """CREATE TRIGGER timeline_event_tags_insert AFTER INSERT ON timeline_events
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION timeline_event_tags_added()""",
    """CREATE TRIGGER timeline_event_tags_update AFTER UPDATE ON timeline_events
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION timeline_event_tags_changed()""",
    """CREATE TRIGGER timeline_event_tags_delete AFTER DELETE ON timeline_events
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION timeline_event_tags_removed()""",
]
PG_BACKFILL = f"""
    INSERT INTO timeline_event_tags (event_id, tag_key, case_id, occurred_at)
    SELECT e.id, {ASCII_LOWER.format("t.value")}, e.case_id, e.occurred_at
    FROM timeline_events e CROSS JOIN LATERAL json_array_elements_text(
        CASE WHEN json_typeof(e.tags) = 'array' THEN e.tags ELSE '[]'::json END) AS t(value)
    ON CONFLICT DO NOTHING
"""


def upgrade() -> None:
    op.create_table(
        "timeline_event_tags",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("tag_key", sa.Text(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", models.common.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_timeline_event_tags_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("event_id", "tag_key", name=op.f("pk_timeline_event_tags")),
    )
    op.create_index(
        "ix_timeline_event_tags_case_tag", "timeline_event_tags", ["case_id", "tag_key", "occurred_at", "event_id"]
    )
    # The precision index carries the end of each span: a coarse event that ends before a range is passed over in
    # the index, without reading its row (most of those a straddling search meets).
    op.drop_index("ix_timeline_events_case_precision", table_name="timeline_events")
    op.create_index(
        "ix_timeline_events_case_precision",
        "timeline_events",
        ["case_id", "precision", "occurred_at", "occurred_until"],
    )
    op.create_index("ix_timeline_events_case_kind", "timeline_events", ["case_id", "kind", "occurred_at", "id"])
    op.create_index("ix_timeline_events_case_disputed", "timeline_events", ["case_id", "disputed", "occurred_at", "id"])
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL if postgres else SQLITE:
        op.execute(statement)
    op.execute(PG_BACKFILL if postgres else SQLITE_BACKFILL)


def downgrade() -> None:
    for name in ("insert", "update", "delete"):
        op.execute(
            f"DROP TRIGGER IF EXISTS timeline_event_tags_{name}"
            + (" ON timeline_events" if op.get_bind().dialect.name == "postgresql" else "")
        )
    if op.get_bind().dialect.name == "postgresql":
        for name in ("added", "changed", "removed"):
            op.execute(f"DROP FUNCTION IF EXISTS timeline_event_tags_{name}()")
    op.drop_index("ix_timeline_events_case_disputed", table_name="timeline_events")
    op.drop_index("ix_timeline_events_case_kind", table_name="timeline_events")
    op.drop_index("ix_timeline_events_case_precision", table_name="timeline_events")
    op.create_index("ix_timeline_events_case_precision", "timeline_events", ["case_id", "precision", "occurred_at"])
    op.drop_index("ix_timeline_event_tags_case_tag", table_name="timeline_event_tags")
    op.drop_table("timeline_event_tags")
