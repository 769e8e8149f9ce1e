"""On PostgreSQL the records table is partitioned by record set: each set's records in a table of their own.

A case that holds the leak's 13 million records and gets a 50,000-line payment export read every record seven times
to index the new set (each of its partial indexes was built by a scan of the whole table); reading a set for the
finder read every set's pages; removing a set deleted its rows one by one. With a partition a set, each of those
touches that set's rows alone (api/records/load.py).

The upgrade moves the records into a partition per set (one pass over the table) and builds each set's own indexes
again on its partition: on a database holding many records it takes about as long as reading them in again, with
the table locked meanwhile. The downgrade puts them back in one table, with each set's partial indexes. SQLite is
unchanged: it has no partitions.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 10:00:00.000000
"""

import re
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A set's own index, as api/records/load.py names them when this revision was written: ix_rs_<set hex>_<column>.
_OWN_INDEX = re.compile(r"^ix_rs_([0-9a-f]{32})_(k[1-6]|at)$")


def _own_indexes(table_pattern: str) -> list[tuple[str, str]]:
    """(set hex, column) of each set's own index on the tables named like `table_pattern`."""
    statement = sa.text(
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename LIKE :pattern"
    )
    rows = op.get_bind().execute(statement, {"pattern": table_pattern})
    return [match.groups() for (name,) in rows if (match := _OWN_INDEX.match(name))]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    bind = op.get_bind()
    indexes = _own_indexes("records")
    op.execute("ALTER TABLE records RENAME TO records_unpartitioned")
    op.execute("ALTER INDEX pk_records RENAME TO pk_records_unpartitioned")
    op.execute("CREATE TABLE records (LIKE records_unpartitioned INCLUDING DEFAULTS) PARTITION BY LIST (record_set_id)")
    op.execute('ALTER TABLE records ADD CONSTRAINT pk_records PRIMARY KEY (record_set_id, "row")')
    sets = bind.exec_driver_sql("SELECT DISTINCT record_set_id FROM records_unpartitioned").scalars().all()
    for set_id in sets:
        table = f"records_{uuid.UUID(str(set_id)).hex}"
        op.execute(f"CREATE TABLE {table} (LIKE records INCLUDING DEFAULTS)")
        op.execute(f"ALTER TABLE records ATTACH PARTITION {table} FOR VALUES IN ('{set_id}')")
    op.execute("INSERT INTO records SELECT * FROM records_unpartitioned")
    op.execute("DROP TABLE records_unpartitioned")  # and the sets' partial indexes with it
    for hexed, column in indexes:
        if bind.exec_driver_sql(f"SELECT to_regclass('records_{hexed}') IS NOT NULL").scalar_one():
            op.execute(
                f'CREATE INDEX ix_rs_{hexed}_{column} ON records_{hexed} ({column}, "row") WHERE {column} IS NOT NULL'
            )
    for set_id in sets:
        op.execute(f"ANALYZE records_{uuid.UUID(str(set_id)).hex}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    indexes = _own_indexes("records\\_%")
    op.execute("CREATE TABLE records_unpartitioned (LIKE records INCLUDING DEFAULTS)")
    op.execute("INSERT INTO records_unpartitioned SELECT * FROM records")
    op.execute("DROP TABLE records")  # and every partition
    op.execute("ALTER TABLE records_unpartitioned RENAME TO records")
    op.execute('ALTER TABLE records ADD CONSTRAINT pk_records PRIMARY KEY (record_set_id, "row")')
    for hexed, column in indexes:
        set_id = uuid.UUID(hexed)
        op.execute(
            f'CREATE INDEX ix_rs_{hexed}_{column} ON records ({column}, "row") '
            f"WHERE record_set_id = '{set_id}' AND {column} IS NOT NULL"
        )
    op.execute("ANALYZE records")
