"""Engine and sessions. The request's session commits once, so a change lands whole or not at all."""

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Engine, Result, event
from sqlmodel import Session, create_engine

from api.config import get_settings


def make_engine(url: str) -> Engine:
    settings = get_settings()
    pool = {
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_max_overflow,
        "pool_timeout": settings.database_pool_timeout_seconds,
    }
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)
        busy_ms, cache_kib = settings.sqlite_busy_timeout_ms, settings.sqlite_cache_mib * 1024

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # durability over speed: evidence must survive a crash
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            cur.execute(f"PRAGMA cache_size=-{int(cache_kib)}")  # negative: KiB, not pages
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


def get_session() -> Iterator[Session]:
    """One unit of work: committed when the block (or request handler) ends without error, else rolled back."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            for undo in session.info.pop(_ON_ROLLBACK, []):
                undo()
            raise
        for follow_up in session.info.pop(_ON_COMMIT, []):
            follow_up()


session_scope = contextmanager(get_session)


def engine_of(session: Session) -> Engine:
    """The engine a session runs on. casebinder makes every session on an engine, never on a connection, which
    `Session.get_bind` cannot promise; a connection here is a mistake, and said so."""
    bind = session.get_bind()
    if not isinstance(bind, Engine):
        raise TypeError(f"the session is bound to {type(bind).__name__}, not to an engine")
    return bind


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched. `Session.execute` runs them as a cursor result, but its stubs
    promise only a `Result`, which has no row count."""
    return cast(CursorResult[Any], result).rowcount


def bulk_insert(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[tuple],
    *,
    copy_types: Sequence[str] | None = None,
    binary: bool = False,
) -> None:
    """Rows (plain tuples, in `columns`' order) into `table`, in the connection's transaction, by the database's
    bulk path: COPY on PostgreSQL (its values formatted in psycopg's C code; `copy_types` names their types when
    the table's are not what psycopg would guess; `binary`, in COPY's binary format, which needs them), executemany on
    SQLite. Names are ours, never a user's."""
    raw = connection.connection.driver_connection
    assert raw is not None, "a connection in use has its driver's connection"
    names = ", ".join(f'"{c}"' for c in columns)
    if connection.dialect.name == "postgresql":
        form = " (FORMAT BINARY)" if binary else ""
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN{form}") as copy:
            if copy_types is not None:
                copy.set_types(list(copy_types))
            for row in rows:
                copy.write_row(row)
        return
    cursor = raw.cursor()
    try:
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)
    finally:
        cursor.close()


def driver_rows(connection: Connection, statement: str, *, chunk: int = 2_000) -> Iterator[tuple]:
    """The rows of a statement without parameters, as the driver's plain tuples, for reads of hundreds of thousands
    of rows where making a SQLAlchemy row of each costs more than the reading. On PostgreSQL they stream a chunk at
    a time as the database makes them, so the caller's work overlaps the database's (a parallel plan stays
    parallel: a server-side cursor's never is); on SQLite, sqlite3 steps through them as they are asked for. The
    statement is ours, never built from a user's text."""
    raw = connection.connection.driver_connection
    assert raw is not None, "a connection in use has its driver's connection"
    if connection.dialect.name == "postgresql":
        with raw.cursor() as cursor:
            yield from cursor.stream(statement, size=chunk)
        return
    cursor = raw.cursor()
    try:
        cursor.execute(statement)
        while batch := cursor.fetchmany(chunk):
            yield from batch
    finally:
        cursor.close()


def release_connection(session: Session) -> None:
    """Give the session's connection back to the pool before slow work that needs no database (a body arriving,
    a PDF laid out). Ends the read transaction; with expire_on_commit=False the loaded rows stay usable, and the
    session checks a connection out again when it next queries."""
    session.commit()


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Session]:
    """A read-only session that sees the whole database as of one moment, so what it reads never mixes a row
    with another that changed meanwhile (PostgreSQL's default isolation reads each statement afresh; pysqlite
    begins no transaction for reads). Keep it short: it holds its snapshot until it ends."""
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    with Session(engine) as snap:
        if engine.dialect.name == "sqlite":
            snap.connection().exec_driver_sql("BEGIN")
        try:
            yield snap
        finally:
            snap.rollback()


_ON_COMMIT, _ON_ROLLBACK = "casebinder.on_commit", "casebinder.on_rollback"


def on_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` once the unit of work has committed (for files that must follow the rows)."""
    session.info.setdefault(_ON_COMMIT, []).append(action)


def on_rollback(session: Session, action: Callable[[], None]) -> None:
    """Run `action` if the unit of work rolls back (to undo file changes made before the commit)."""
    session.info.setdefault(_ON_ROLLBACK, []).append(action)
