"""The queue's tables in our PostgreSQL database, created and kept up to date by `casebinder migrate`.

Procrastinate ships its whole schema (schema.sql) and, for each release, the migrations from the one before
(sql/migrations/*.sql), leaving it to the application to track which were applied. We keep their names in
`casebinder_queue_migrations`: a first migrate applies the schema and records every migration it already
contains; a later one (after procrastinate was upgraded) applies the migrations not yet recorded, in order.
Either way it runs in one transaction under an advisory lock, so two migrates at once do not both apply it.
"""

from pathlib import Path

from procrastinate.schema import SchemaManager
from sqlalchemy import Engine

TRACKING = "casebinder_queue_migrations"
_MIGRATE_LOCK = 0x63617365_7175  # any fixed key: serializes concurrent `casebinder migrate` runs


def _migrations() -> list[Path]:
    return sorted(p for p in Path(SchemaManager.get_migrations_path()).glob("*.sql"))


def _exists(cur, table: str) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
    return bool(cur.fetchone()[0])


def apply(engine: Engine) -> list[str]:
    """Create or bring up to date the queue's tables (idempotent); returns what it applied."""
    raw = engine.raw_connection()
    applied: list[str] = []
    try:
        cur = raw.cursor()
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
        cur.execute(f"CREATE TABLE IF NOT EXISTS {TRACKING} (name text PRIMARY KEY, applied_at timestamptz NOT NULL)")
        cur.execute(f"SELECT name FROM {TRACKING}")
        done = {row[0] for row in cur.fetchall()}
        fresh = not _exists(cur, "procrastinate_jobs")
        if fresh:
            cur.execute(SchemaManager.get_schema())  # no parameters: run as the script it is
            applied.append("schema.sql")
        for path in _migrations():
            if path.name in done:
                continue
            if not fresh and done:  # the tables are older than this procrastinate: bring them up
                cur.execute(path.read_text(encoding="utf-8"))
                applied.append(path.name)
            # A fresh schema already holds every migration; tables found without our records (created before we
            # kept them) are taken to be of this release.
            cur.execute(f"INSERT INTO {TRACKING} (name, applied_at) VALUES (%s, now())", (path.name,))
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    return applied


def behind(engine: Engine) -> str | None:
    """Why the queue cannot be used on this database yet, or None."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if not _exists(cur, "procrastinate_jobs") or not _exists(cur, TRACKING):
            return "the job queue's tables are missing: run `casebinder migrate` with the queue configured"
        cur.execute(f"SELECT name FROM {TRACKING}")
        done = {row[0] for row in cur.fetchall()}
        missing = [p.name for p in _migrations() if p.name not in done]
        raw.rollback()
    finally:
        raw.close()
    if missing:
        return f"the job queue's tables are older than this version ({missing[0]} missing): run `casebinder migrate`"
    return None
