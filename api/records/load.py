"""Records into the `records` table with each database's bulk path: COPY on PostgreSQL, executemany on SQLite, a
batch per transaction (with the record set's progress in the same one), so an SQLite write lock is never held
for long and a reader following the import sees its progress and its rows agree. A writer thread writes each
batch while the next is read and made: the database's work and Python's overlap."""

import queue
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import update
from sqlmodel import Session, col

from api.db import session_scope
from models.record_set import KEY_COLUMNS, KEYS, TIME_FIELD, RecordRole, RecordSet

COLUMNS = ("record_set_id", "row", "at", *KEY_COLUMNS, "fields", "source_line", "decoded_as")


def _copy_text(value: str) -> str:
    """A value in COPY's text format: backslash, tab and line ends escaped (four passes in C: str.translate with a
    table looks each character up in Python, twenty times slower on a 500-byte line)."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class Batches:
    """Rows of one record set, made in each database's form and written a batch at a time."""

    def __init__(self, record_set_id: uuid.UUID, dialect: str):
        self.postgres = dialect == "postgresql"
        # Rows a batch: small enough that the batches waiting for the writer stay a few MiB (a COPY block of 20,000
        # leak-sized rows was 20 MiB, twice over while it was joined and encoded), large enough that commits are few.
        self.size = 5_000
        self.record_set_id = record_set_id
        self._id = str(record_set_id) if self.postgres else record_set_id.hex
        self.rows: list[Any] = []
        # Batches made and not yet written: at most two wait, so at most four are held (one being made, two
        # waiting, one being written).
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def add(
        self, row: int, at: datetime | None, keys: tuple[str | None, ...], fields: dict, text: str, decoded: str | None
    ) -> bool:
        """Add a record; True once a batch is full (then `write` it)."""
        padded = keys + (None,) * (len(KEY_COLUMNS) - len(keys))
        fields_json = orjson.dumps(fields).decode()
        if self.postgres:
            cells = [self._id, str(row), at.isoformat() if at else "\\N"]
            cells += ["\\N" if k is None else _copy_text(k) for k in padded]
            cells += [_copy_text(fields_json), _copy_text(text), decoded or "\\N"]
            self.rows.append("\t".join(cells))
        else:
            self.rows.append(
                (
                    self._id,
                    row,
                    # As SQLAlchemy writes a DateTime on SQLite: "2021-03-04 17:30:00.000000" (UTC, no offset).
                    at.isoformat(" ", "microseconds")[:26] if at else None,
                    *padded,
                    fields_json,
                    text,
                    decoded,
                )  # fmt: skip
            )
        return len(self.rows) >= self.size

    def write(self, progress: dict[str, Any], on_write: Callable[[], None]) -> None:
        """Hand the batch, with the record set's progress, to the writer thread, which writes them in one
        transaction while the next batch is read and made; waits when two batches are already waiting. A failure
        of the writer is raised here, at the next batch or at `close`."""
        rows, self.rows = self.rows, []
        self._raise()
        if self._thread is None:
            self._thread = threading.Thread(target=self._writing, name="records-writer")
            self._thread.start()
        self._queue.put((rows, progress))
        on_write()

    def close(self) -> None:
        """Wait for every batch handed over to be written (or the writer to fail: raised here)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._raise()

    def __enter__(self) -> "Batches":
        return self

    def __exit__(self, kind, exc, tb) -> None:
        """The writer has ended when the import goes on, whatever way it does: a failed import's records are
        removed after, never while a batch is still being written. The first failure is the one raised."""
        if kind is None:
            self.close()
            return
        try:
            self.close()
        except BaseException:  # noqa: BLE001 - the import's own failure is the one that goes on
            pass

    def _raise(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def _writing(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._failure is not None:
                continue  # drain what is handed over until `close`; the failure is raised there
            rows, progress = item
            try:
                with session_scope() as session:
                    if rows:
                        self._insert(session, rows)
                    session.execute(update(RecordSet).where(col(RecordSet.id) == self.record_set_id).values(**progress))
            except BaseException as exc:  # noqa: BLE001 - handed to the reading thread, which raises it
                self._failure = exc

    def _insert(self, session: Session, rows: list[Any]) -> None:
        raw = session.connection().connection.driver_connection
        assert raw is not None, "a connection just checked out has its driver's connection"
        if self.postgres:
            with raw.cursor() as cursor, cursor.copy(f"COPY records ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                copy.write(("\n".join(rows) + "\n").encode("utf-8"))
            return
        cursor = raw.cursor()
        try:
            names, marks = ", ".join(f'"{c}"' for c in COLUMNS), ", ".join("?" * len(COLUMNS))
            cursor.executemany(f"INSERT INTO records ({names}) VALUES ({marks})", rows)
        finally:
            cursor.close()


# Each record set's own indexes, made once its import is done: one per key column its role uses, and one on its
# time. Partial (WHERE record_set_id = <that set>), so each is built in one sorted pass over that set's rows, and a
# lookup states the set as a literal (`set_clause`) for the planner to know which index covers it.


def set_literal(record_set_id: uuid.UUID, dialect: str) -> str:
    """The set's id as SQL text, as each database stores it (a UUID is only ever hex digits and dashes)."""
    return f"'{record_set_id}'" if dialect == "postgresql" else f"'{record_set_id.hex}'"


def set_clause(record_set_id: uuid.UUID, dialect: str, alias: str = "records") -> str:
    return f"{alias}.record_set_id = {set_literal(record_set_id, dialect)}"


def index_names(record_set_id: uuid.UUID) -> list[str]:
    return [f"ix_rs_{record_set_id.hex}_{column}" for column in (*KEY_COLUMNS, "at")]


def create_indexes(session: Session, record_set_id: uuid.UUID, role: RecordRole) -> None:
    dialect = session.get_bind().dialect.name
    where = set_clause(record_set_id, dialect)
    columns = [*KEY_COLUMNS[: len(KEYS[role])], *(["at"] if TIME_FIELD[role] else [])]
    connection = session.connection()
    for column in columns:
        name = f"ix_rs_{record_set_id.hex}_{column}"
        connection.exec_driver_sql(
            f"CREATE INDEX {name} ON records ({column}, row) WHERE {where} AND {column} IS NOT NULL"
        )


def drop_indexes(session: Session, record_set_id: uuid.UUID) -> None:
    connection = session.connection()
    for name in index_names(record_set_id):
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")


STATISTICS = {
    "postgresql": ["ANALYZE records"],
    "sqlite": ["PRAGMA analysis_limit=2000", "ANALYZE records", "PRAGMA analysis_limit=0"],
}


def analyze(session: Session) -> None:
    """Bring the table's statistics up to date after a large load, so lookups by key keep using their indexes."""
    for statement in STATISTICS[session.get_bind().dialect.name]:
        session.connection().exec_driver_sql(statement)
