"""Records into the `records` table with each database's bulk path: COPY on PostgreSQL, executemany on SQLite, a
batch per transaction (with the record set's progress in the same one), so an SQLite write lock is never held
for long and a reader following the import sees its progress and its rows agree. A CSV file, or a small one, is
written batch by batch as it is read (`Batches`); a large JSON file is read by reader processes
(api/records/parallel.py), which use `RowMaker`, `made_rows` and `insert` too. (A writer thread beside the reading
one took turns with it for the interpreter lock: measured, the two overlapped little.)

A batch's commit does not wait for the disk (PostgreSQL's synchronous_commit off, SQLite's synchronous NORMAL, for
that transaction only): a crash may lose the last batches written, never leave a torn one, and an import that did
not finish is run again from its first line anyway. The record set's last commit, that says it is done, waits for
the disk as every other commit does.
"""

import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col

from api.db import bulk_insert, get_engine
from api.records.fields import Converter, RowProblem
from api.records.reading import SourceRecord
from models.record_set import KEY_COLUMNS, KEYS, NUMBER_FIELD, TIME_FIELD, RecordRole, RecordSet

COLUMNS = ("record_set_id", "row", "at", *KEY_COLUMNS, "number", "fields", "source_line", "decoded_as")
# On PostgreSQL records go by COPY's binary format: each value as its bytes with their length in front, which the
# server takes as they come, where the text format had it scan every 500-byte line for escapes and parse the set's id,
# the time and the number from text (300,000 leak lines: 2.2-2.4 s by text, 1.6-1.7 s by binary). The fields go as the
# JSON text they are, in the `text` type's binary form (its UTF-8 bytes), which is the `json` type's too: a "json"
# dumper would make a JSON string of that text.
COPY_TYPES = ["uuid", "int8", "timestamptz", *(["text"] * len(KEY_COLUMNS)), "float8", "text", "text", "text"]


class RowMaker:
    """A record as the row `insert` writes: a plain tuple, which COPY formats in psycopg's C code and executemany
    binds in sqlite3's."""

    def __init__(self, record_set_id: uuid.UUID, dialect: str, role: RecordRole):
        self.postgres = dialect == "postgresql"
        self._id: uuid.UUID | str = record_set_id if self.postgres else record_set_id.hex
        self._padding = (None,) * len(KEY_COLUMNS)
        self._number = NUMBER_FIELD.get(role)

    def __call__(
        self, row: int, at: datetime | None, keys: tuple[str | None, ...], fields: dict, text: str, decoded: str | None
    ) -> tuple:
        fields_json = orjson.dumps(fields).decode()
        if not self.postgres and at is not None:
            # As SQLAlchemy writes a DateTime on SQLite: "2021-03-04 17:30:00.000000" (UTC, no offset).
            at = at.isoformat(" ", "microseconds")[:26]  # type: ignore[assignment]
        number = fields.get(self._number) if self._number else None
        if number is not None:
            number = float(number)
        return (self._id, row, at, *keys, *self._padding[len(keys) :], number, fields_json, text, decoded)


def made_rows(
    records: Iterable[SourceRecord], converter: Converter, make: RowMaker, refuse: Callable[[int, str], None]
) -> Iterator[tuple]:
    """What each line read becomes: its row to write, or, told to `refuse` with its line and why, nothing."""
    convert = converter.convert
    for record in records:
        problem = record.problem
        if problem is None:
            try:
                fields, at, keys = convert(record.values)
            except RowProblem as exc:
                problem = str(exc)
            else:
                yield make(record.row, at, keys, fields, record.text, record.decoded_as)
                continue
        refuse(record.row, problem)


def insert(connection: Connection, rows: list[tuple]) -> None:
    """Rows made by a RowMaker into `records`, in the connection's transaction, by the database's bulk path."""
    bulk_insert(connection, "records", COLUMNS, rows, copy_types=COPY_TYPES, binary=True)


class Batches:
    """Rows of one record set, written a batch at a time on a connection kept for the import, each batch in a
    transaction of its own with the set's progress. Used as a context manager, which holds the connection."""

    def __init__(self, record_set_id: uuid.UUID, dialect: str, role: RecordRole):
        # Rows a batch: large enough that commits are few, small enough that a batch of leak-sized rows stays a
        # few MiB while it is held and sent.
        self.size = 5_000
        self.record_set_id = record_set_id
        self.make = RowMaker(record_set_id, dialect, role)
        self.rows: list[tuple] = []
        self._held = ExitStack()
        self._connection: Connection | None = None

    def __enter__(self) -> "Batches":
        connection = self._held.enter_context(get_engine().connect())
        self._held.enter_context(unhurried(connection))
        self._connection = connection
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        self._connection = None
        self._held.close()

    def add(self, row: tuple) -> bool:
        """Add a row made by `make`; True once a batch is full (then `write` it)."""
        self.rows.append(row)
        return len(self.rows) >= self.size

    def write(self, progress: dict[str, Any]) -> None:
        """Write the rows added since the last batch, with the record set's progress, in one transaction."""
        assert self._connection is not None, "batches are written inside their `with`"
        rows, self.rows = self.rows, []
        with self._connection.begin():
            if rows:
                insert(self._connection, rows)
            self._connection.execute(
                update(RecordSet).where(col(RecordSet.id) == self.record_set_id).values(**progress)
            )


# How each database is told not to wait for the disk at a commit, how it tells its setting, and how it is set back.
_UNHURRIED = {
    "postgresql": ("SHOW synchronous_commit", "SET synchronous_commit TO off", "SET synchronous_commit TO '{}'"),
    "sqlite": ("PRAGMA synchronous", "PRAGMA synchronous=NORMAL", "PRAGMA synchronous={}"),
}


@contextmanager
def unhurried(connection: Connection) -> Iterator[None]:
    """The connection's commits do not wait for the disk while the block runs (see the module's docstring); its
    own setting is set back after, before the pool hands it to anyone else (or it is dropped if that fails)."""
    show, relax, restore = _UNHURRIED[connection.dialect.name]
    setting = connection.exec_driver_sql(show).scalar_one()
    connection.exec_driver_sql(relax)
    connection.commit()
    try:
        yield
    finally:
        try:
            connection.rollback()
            connection.exec_driver_sql(restore.format(int(setting) if str(setting).isdigit() else setting))
            connection.commit()
        except Exception:  # noqa: BLE001 - a connection that cannot be set back is not given back
            connection.invalidate()


# Where each record set's records live. On PostgreSQL the records table is partitioned by record set: each set has a
# table of its own (`set_table`), made and attached when its import starts (`prepare`). A scan of a set then reads
# its own rows, not every set's (a join of a million reviews to a million payments read all 2.65M records of five
# sets, twice); its indexes are built over its rows alone; and its removal empties its table at once (`remove`).
# Partitions so emptied are dropped by the next import (`drop_emptied`), which may wait a moment for the lock that
# dropping one takes on the whole table; a removal must not.
#
# SQLite keeps one table. There a set's own indexes are partial (WHERE record_set_id = <that set>), so each is built
# in one sorted pass over that set's rows, and a lookup states the set as a literal (`set_clause`) for the planner to
# know which index covers it (on PostgreSQL the literal picks the set's partition). Building one reads the whole
# table, though, so a set of fewer rows than `records_indexed_from_rows` gets none: its lookups read its rows through
# the primary key, which keeps them together.

DROP_LOCK_WAIT = "1s"  # how long dropping an emptied partition waits for its lock on the records table


def set_literal(record_set_id: uuid.UUID, dialect: str) -> str:
    """The set's id as SQL text, as each database stores it (a UUID is only ever hex digits and dashes)."""
    return f"'{record_set_id}'" if dialect == "postgresql" else f"'{record_set_id.hex}'"


def set_clause(record_set_id: uuid.UUID, dialect: str, alias: str = "records") -> str:
    return f"{alias}.record_set_id = {set_literal(record_set_id, dialect)}"


def set_table(record_set_id: uuid.UUID, dialect: str) -> str:
    """The table holding the set's records: its partition on PostgreSQL, the records table on SQLite."""
    return f"records_{record_set_id.hex}" if dialect == "postgresql" else "records"


def index_name(record_set_id: uuid.UUID, column: str) -> str:
    """The name of the set's own index on `column` (a key column or its time)."""
    return f"ix_rs_{record_set_id.hex}_{column}"


def index_names(record_set_id: uuid.UUID) -> list[str]:
    return [index_name(record_set_id, column) for column in (*KEY_COLUMNS, "at")]


def index_statement(record_set_id: uuid.UUID, column: str, dialect: str) -> str:
    """The statement that builds the set's own index on `column` (a key column or its time)."""
    name, table = index_name(record_set_id, column), set_table(record_set_id, dialect)
    where = "" if dialect == "postgresql" else f"{set_clause(record_set_id, dialect)} AND "
    return f"CREATE INDEX {name} ON {table} ({column}, row) WHERE {where}{column} IS NOT NULL"


def _has_partition(connection: Connection, record_set_id: uuid.UUID) -> bool:
    table = set_table(record_set_id, "postgresql")
    return bool(connection.exec_driver_sql(f"SELECT to_regclass('{table}') IS NOT NULL").scalar_one())


def prepare(session: Session, record_set_id: uuid.UUID) -> None:
    """Make room for a set's import, in the session's transaction, with none of its records or own indexes left from
    an earlier run: on PostgreSQL its partition made and attached (attaching keeps other changes to the table's
    layout waiting, not its readers or writers), or emptied if an earlier run made it; on SQLite its rows deleted."""
    connection = session.connection()
    if connection.dialect.name != "postgresql" or _has_partition(connection, record_set_id):
        remove(session, record_set_id)
        return
    table = set_table(record_set_id, "postgresql")
    connection.exec_driver_sql(f"CREATE TABLE {table} (LIKE records INCLUDING DEFAULTS)")
    literal = set_literal(record_set_id, "postgresql")
    connection.exec_driver_sql(f"ALTER TABLE records ATTACH PARTITION {table} FOR VALUES IN ({literal})")


def remove(session: Session, record_set_id: uuid.UUID) -> None:
    """A set's records and its own indexes gone, in the session's transaction: on PostgreSQL its partition emptied
    at once (the empty table is dropped later, by `drop_emptied`), on SQLite its rows deleted."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        if _has_partition(connection, record_set_id):
            connection.exec_driver_sql(f"TRUNCATE {set_table(record_set_id, 'postgresql')}")
    else:
        connection.exec_driver_sql(f"DELETE FROM records WHERE {set_clause(record_set_id, 'sqlite')}")
    drop_indexes(session, record_set_id)


def drop_emptied(engine: Engine) -> int:
    """Drop the partitions of record sets that are gone (removed, or their original purged), each in a transaction
    of its own that waits at most DROP_LOCK_WAIT for its lock on the records table (readers queue behind it while it
    waits). When the lock is not to be had (a long read of the table is under way), the rest wait for the next
    import: one wait, not one a table. The number dropped. PostgreSQL only."""
    if engine.dialect.name != "postgresql":
        return 0
    dropped = 0
    with engine.connect() as connection:
        partitions = (
            connection.exec_driver_sql(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'records'::regclass"
            )
            .scalars()
            .all()
        )
        kept = {set_table(set_id, "postgresql") for set_id in connection.execute(select(col(RecordSet.id))).scalars()}
        gone = [table for table in partitions if table not in kept]
        connection.rollback()
        for table in gone:
            try:
                with connection.begin():
                    connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{DROP_LOCK_WAIT}'")
                    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
            except OperationalError:  # the lock was not to be had in time: the next import tries again
                break
            dropped += 1
    return dropped


def create_indexes(record_set_id: uuid.UUID, role: RecordRole) -> None:
    """Build the set's indexes, each committed as it is built. On PostgreSQL two connections build them side by
    side (CREATE INDEX takes a lock that lets another CREATE INDEX run); on SQLite, one at a time, its sorter
    helped by worker threads and kept to a small memory budget (a sort in one large block was a third slower)."""
    engine = get_engine()
    dialect = engine.dialect.name
    columns = [*KEY_COLUMNS[: len(KEYS[role])], *(["at"] if TIME_FIELD[role] else [])]
    statements = [index_statement(record_set_id, column, dialect) for column in columns]
    if dialect == "postgresql":
        shares = [statements[n::2] for n in range(2)]
        with ThreadPoolExecutor(len(shares), thread_name_prefix="records-index") as pool:
            for done in [pool.submit(_run, engine, share) for share in shares]:
                done.result()
        return
    with engine.connect() as connection:
        cache = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
        connection.exec_driver_sql("PRAGMA threads=2")
        connection.exec_driver_sql("PRAGMA cache_size=-2000")
        try:
            for statement in statements:
                connection.exec_driver_sql(statement)
                connection.commit()
        finally:
            connection.rollback()
            connection.exec_driver_sql("PRAGMA threads=0")
            connection.exec_driver_sql(f"PRAGMA cache_size={int(cache)}")


def _run(engine: Engine, statements: list[str]) -> None:
    with engine.connect() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
            connection.commit()


def drop_indexes(session: Session, record_set_id: uuid.UUID) -> None:
    connection = session.connection()
    for name in index_names(record_set_id):
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")


# The columns lookups and the finder's joins choose their plans by; the fields and lines are never a condition.
_STATISTICS_COLUMNS = f"record_set_id, at, {', '.join(KEY_COLUMNS)}"


def analyze(session: Session, record_set_id: uuid.UUID) -> None:
    """Bring the statistics up to date after a large load, so lookups by key keep using their indexes: on
    PostgreSQL the set's partition's (a query names its set, so it is planned on that partition alone; the whole
    table's would sample every set's), on SQLite the table's."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"ANALYZE {set_table(record_set_id, 'postgresql')} ({_STATISTICS_COLUMNS})")
        return
    for statement in ("PRAGMA analysis_limit=2000", "ANALYZE records", "PRAGMA analysis_limit=0"):
        connection.exec_driver_sql(statement)
