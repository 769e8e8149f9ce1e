"""Counts of each case's events per UTC month (and per hour at a month's edges), by kind and disputed, so the
chronology's months are summed from a few hundred rows instead of counted from a million events on every view.

Like timeline_event_tags (0009), timeline_month_counts is written by triggers on timeline_events, so every path
that writes events (the API, derived events, imports, case restores, bulk loads, a case's deletion) keeps it in
step. The counts of events that exist already are written here.

A row's slot is "all" (the whole month), "+hh" (the hh-th hour after the month starts, 00 to 13) or "-hh" (the
hh-th hour before it ends, 01 to 12). An event counts in "all" and, if it begins in one of those hours, in that
hour's slot too.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "case_id, slot, month, kind, disputed"

# SQLite keeps a time as its text, 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC.
SQLITE_MONTH = "substr({0}, 1, 7)"
# The last day of a month is the day before a 1st; most days are not looked at so closely.
SQLITE_HEAD = "substr({0}, 9, 2) = '01' AND substr({0}, 12, 2) < '14'"
SQLITE_TAIL = "substr({0}, 9, 2) >= '28' AND substr({0}, 12, 2) >= '12' AND strftime('%d', {0}, '+1 day') = '01'"
SQLITE_SLOT = f"""CASE
    WHEN {SQLITE_HEAD} THEN '+' || substr({{0}}, 12, 2)
    WHEN {SQLITE_TAIL} THEN '-' || printf('%02d', 24 - CAST(substr({{0}}, 12, 2) AS INTEGER))
    END"""
UPSERT = f"ON CONFLICT ({KEY}) DO UPDATE SET events = events + 1"


def _sqlite_slots(row: str) -> str:
    """The slots an event of `row` (NEW or OLD) counts in, as a subquery of one column, slot."""
    return f"(SELECT 'all' AS slot UNION ALL SELECT {SQLITE_SLOT.format(row + '.occurred_at')})"


def _sqlite_add(row: str) -> str:
    return f"""
    INSERT INTO timeline_month_counts ({KEY}, events)
    SELECT {row}.case_id, slot, {SQLITE_MONTH.format(row + ".occurred_at")}, {row}.kind, {row}.disputed, 1
    FROM {_sqlite_slots(row)} WHERE slot IS NOT NULL {UPSERT};
"""


def _sqlite_remove(row: str) -> str:
    where = f"""case_id = {row}.case_id AND month = {SQLITE_MONTH.format(row + ".occurred_at")} AND kind = {row}.kind
        AND disputed = {row}.disputed AND slot IN {_sqlite_slots(row)}"""
    return f"""
    UPDATE timeline_month_counts SET events = events - 1 WHERE {where};
    DELETE FROM timeline_month_counts WHERE {where} AND events <= 0;
"""


NEW_MONTH = SQLITE_MONTH.format("NEW.occurred_at")
# An insert, the path of a bulk load, in two triggers: every event's month, then the few in an edge hour, so the
# rest pay for a comparison or two rather than for working out a slot.
SQLITE = [
    f"""CREATE TRIGGER timeline_month_counts_insert AFTER INSERT ON timeline_events BEGIN
        INSERT INTO timeline_month_counts ({KEY}, events)
        VALUES (NEW.case_id, 'all', {NEW_MONTH}, NEW.kind, NEW.disputed, 1) {UPSERT};
        END""",
    f"""CREATE TRIGGER timeline_month_counts_insert_edge AFTER INSERT ON timeline_events
        WHEN {SQLITE_HEAD.format("NEW.occurred_at")} OR {SQLITE_TAIL.format("NEW.occurred_at")} BEGIN
        INSERT INTO timeline_month_counts ({KEY}, events)
        VALUES (NEW.case_id, {SQLITE_SLOT.format("NEW.occurred_at")}, {NEW_MONTH}, NEW.kind, NEW.disputed, 1) {UPSERT};
        END""",
    f"""CREATE TRIGGER timeline_month_counts_update AFTER UPDATE OF occurred_at, kind, disputed, case_id
        ON timeline_events
        WHEN OLD.occurred_at IS NOT NEW.occurred_at OR OLD.kind IS NOT NEW.kind
            OR OLD.disputed IS NOT NEW.disputed OR OLD.case_id IS NOT NEW.case_id
        BEGIN {_sqlite_remove("OLD")} {_sqlite_add("NEW")} END""",
    f"CREATE TRIGGER timeline_month_counts_delete AFTER DELETE ON timeline_events BEGIN {_sqlite_remove('OLD')} END",
]
SQLITE_BACKFILL = f"""
    INSERT INTO timeline_month_counts ({KEY}, events)
    SELECT case_id, slot, month, kind, disputed, count(*) FROM (
        SELECT case_id, 'all' AS slot, {SQLITE_MONTH.format("occurred_at")} AS month, kind, disputed
        FROM timeline_events
        UNION ALL
        SELECT case_id, {SQLITE_SLOT.format("occurred_at")}, {SQLITE_MONTH.format("occurred_at")}, kind, disputed
        FROM timeline_events
    ) WHERE slot IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5
"""

# PostgreSQL: statement triggers over transition tables (as 0009's), so a COPY of a million rows adds its counts
# in one grouped upsert. Rows are upserted in key order, so two imports into one case never deadlock.
# Grouped twice rather than by a slot worked out for every row: a million rows take about a second so.
PG_GROUPED = """
    SELECT case_id, 'all' AS slot, to_char(m, 'YYYY-MM') AS month, kind, disputed, n FROM (
        SELECT case_id, date_trunc('month', occurred_at AT TIME ZONE 'UTC') AS m, kind, disputed, count(*) AS n
        FROM {rows} GROUP BY 1, 2, 3, 4
    ) whole
    UNION ALL
    SELECT case_id, CASE WHEN d = 1 THEN '+' || lpad(h::int::text, 2, '0') ELSE '-' || lpad((24 - h)::int::text, 2, '0')
        END, to_char(m, 'YYYY-MM'), kind, disputed, n FROM (
        SELECT case_id, date_trunc('month', u) AS m, date_part('day', u) AS d, date_part('hour', u) AS h, kind,
            disputed, count(*) AS n
        FROM (SELECT case_id, kind, disputed, occurred_at AT TIME ZONE 'UTC' AS u FROM {rows}) utc
        WHERE (date_part('day', u) = 1 AND date_part('hour', u) < 14)
            OR (date_part('day', u + interval '1 day') = 1 AND date_part('hour', u) >= 12)
        GROUP BY 1, 2, 3, 4, 5, 6
    ) edges
"""
PG_ADD = f"""
    INSERT INTO timeline_month_counts ({KEY}, events)
    SELECT * FROM ({PG_GROUPED.format(rows="new_rows")}) g ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT ({KEY}) DO UPDATE SET events = timeline_month_counts.events + EXCLUDED.events;
"""
PG_MATCH = """t.case_id = g.case_id AND t.slot = g.slot AND t.month = g.month AND t.kind = g.kind
    AND t.disputed = g.disputed"""
PG_REMOVE = f"""
    UPDATE timeline_month_counts t SET events = t.events - g.n
    FROM ({PG_GROUPED.format(rows="old_rows")}) g WHERE {PG_MATCH};
    DELETE FROM timeline_month_counts t USING ({PG_GROUPED.format(rows="old_rows")}) g
    WHERE {PG_MATCH} AND t.events <= 0;
"""
POSTGRESQL = [
    f"""CREATE FUNCTION timeline_month_counts_added() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN {PG_ADD} RETURN NULL; END $$""",
    f"""CREATE FUNCTION timeline_month_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN {PG_REMOVE} {PG_ADD} RETURN NULL; END $$""",
    f"""CREATE FUNCTION timeline_month_counts_removed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN {PG_REMOVE} RETURN NULL; END $$""",
    """CREATE TRIGGER timeline_month_counts_insert AFTER INSERT ON timeline_events
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION timeline_month_counts_added()""",
    """CREATE TRIGGER timeline_month_counts_update AFTER UPDATE ON timeline_events
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION timeline_month_counts_changed()""",
    """CREATE TRIGGER timeline_month_counts_delete AFTER DELETE ON timeline_events
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION timeline_month_counts_removed()""",
]
PG_BACKFILL = f"""
    INSERT INTO timeline_month_counts ({KEY}, events)
    {PG_GROUPED.format(rows="timeline_events")}
"""


def upgrade() -> None:
    op.create_table(
        "timeline_month_counts",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("slot", sa.String(length=3), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_timeline_month_counts_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", "slot", "month", "kind", "disputed", name=op.f("pk_timeline_month_counts")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL if postgres else SQLITE:
        op.execute(statement)
    op.execute(PG_BACKFILL if postgres else SQLITE_BACKFILL)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in ("insert", "insert_edge", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS timeline_month_counts_{name}" + (" ON timeline_events" if postgres else ""))
    if postgres:
        for name in ("added", "changed", "removed"):
            op.execute(f"DROP FUNCTION IF EXISTS timeline_month_counts_{name}()")
    op.drop_table("timeline_month_counts")
