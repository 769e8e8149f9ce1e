"""An events import between its two passes and in its second: the checked rows spooled in stored form, and
loaded into timeline_events with the driver's bulk path in one transaction, with the table statistics brought
up to date after a large load.
"""

import heapq
import logging
import marshal
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from api.db import engine_of, on_commit
from api.services.search import index as search_index
from api.services.timeline.stored import COLUMNS, WHEN, StoredForm

STORE_BATCH = 4096  # rows per executemany or COPY write (and ids made at once: at most 4096)
SQLITE_CACHE_KIB = 64 * 1024  # page cache for the load: a bigger one was no faster, and it stays in memory
# An import of this many rows or more brings the table's statistics up to date before it commits, so the
# timeline queries keep planning well; ANALYZE on SQLite looks at this many index rows per index.
STATISTICS_AFTER_ROWS = 10_000
SQLITE_ANALYSIS_LIMIT = 2000
# The statements that bring them up to date: the events and their tag rows (timeline_event_tags, which the
# triggers filled during the load and a tag filter walks).
STATISTICS = {
    "postgresql": ["ANALYZE timeline_events", "ANALYZE timeline_event_tags", "ANALYZE search_documents"],
    "sqlite": [
        f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}",
        "ANALYZE timeline_events",
        "ANALYZE timeline_event_tags",
        "ANALYZE search_documents",
        "PRAGMA analysis_limit=0",
    ],
}
# After such an import has committed, PostgreSQL's tables are also vacuumed: the new rows' visibility is settled
# once (the first reads would otherwise each write hint bits) and the visibility map is set, so a tag page reads
# its index alone; autovacuum would do the same later, at a moment of its choosing, while the case is in use.
# VACUUM cannot run in a transaction, hence after the commit. About a second for a million rows. It also merges the
# search index's pending entries into its GIN index (see api/services/search/index.py `bulk`).
UPKEEP_AFTER_COMMIT = {"postgresql": "VACUUM timeline_events, timeline_event_tags, search_documents"}
log = logging.getLogger("casebinder.import")


_when = itemgetter(WHEN)
TITLE, DESCRIPTION = COLUMNS.index("title"), COLUMNS.index("description")


class Spool:
    """The checked rows of one import in stored form (without their ids), in an unnamed temporary file.

    Rows are written in sorted runs, and read back merged, in time order, each given its id then: a file comes
    in any order, and rows stored in time order with ascending ids go into each of the table's indexes in
    order rather than at random places, which is most of what a bulk load costs. Memory holds one run while
    the file is read, and a few hundred rows of each run while they are merged."""

    RUN = 20_000  # rows sorted in memory at a time
    BATCH = 250  # rows per record in a run: what the merge holds of each run

    def __init__(self, form: StoredForm, directory: Path | None):
        self.form = form
        self.directory = directory
        self.file = tempfile.TemporaryFile(dir=directory)
        self.count = 0
        self._pending: list[tuple] = []
        self._runs: list[tuple[int, int]] = []  # (start, end) offsets of each run in the file

    def add(self, row: tuple) -> None:
        self._pending.append(row)
        self.count += 1
        if len(self._pending) >= self.RUN:
            self._write_run()

    def _write_run(self) -> None:
        if not self._pending:
            return
        self._pending.sort(key=_when)
        start = self.file.tell()
        for i in range(0, len(self._pending), self.BATCH):
            marshal.dump(self._pending[i : i + self.BATCH], self.file)
        self._runs.append((start, self.file.tell()))
        self._pending = []

    def _run(self, start: int, end: int) -> Iterator[tuple]:
        while start < end:
            self.file.seek(start)
            batch = marshal.load(self.file)
            start = self.file.tell()
            yield from batch

    def rows(self) -> Iterator[tuple]:
        """Every row, in time order."""
        self._write_run()
        runs = [self._run(start, end) for start, end in self._runs]
        return runs[0] if len(runs) == 1 else heapq.merge(*runs, key=_when)

    def batches(self) -> Iterator[list[tuple]]:
        """The rows with their ids, in blocks for the driver: lists of tuples in COLUMNS order."""
        rows, form = self.rows(), self.form
        while block := list(islice(rows, STORE_BATCH)):
            yield [(i, *row) for i, row in zip(form.new_ids(len(block)), block, strict=True)]

    def close(self) -> None:
        self.file.close()


@dataclass
class Parsed:
    kind: str  # csv | jsonl
    spool: Spool

    @property
    def count(self) -> int:
        return self.spool.count


def _searchable(block: list[tuple]) -> list[tuple]:
    """(id, title, description) of each row of a block: what the search index takes of an event."""
    return [(row[0], row[TITLE], row[DESCRIPTION]) for row in block]


def store(session: Session, parsed: Parsed, *, tick: Callable[[], None] | None = None) -> None:
    """Pass 2: every spooled row into timeline_events with the driver's bulk load, in the session's transaction
    (COPY on PostgreSQL, executemany on SQLite with a larger page cache for the load), each block indexed for
    search (on PostgreSQL once the COPY is done: see `_index_later`); then the table's statistics, in the same
    transaction, once the import is big enough to change the query plans (and, on PostgreSQL, a VACUUM once it has
    committed: UPKEEP_AFTER_COMMIT)."""
    raw = session.connection().connection.driver_connection
    assert raw is not None, "a connection just checked out has its driver's connection"
    names = ", ".join(COLUMNS)
    form = parsed.spool.form
    if form.postgres:
        if parsed.count >= STATISTICS_AFTER_ROWS:
            search_index.bulk(session)
        with raw.cursor() as cursor, tempfile.TemporaryFile(dir=parsed.spool.directory) as searchable:
            with cursor.copy(f"COPY timeline_events ({names}) FROM STDIN") as copy:
                for block in parsed.spool.batches():
                    copy.write("".join([form.line(row) for row in block]).encode("utf-8"))
                    marshal.dump(_searchable(block), searchable)
                    if tick:
                        tick()
            _index_later(session, searchable, tick)
            if parsed.count >= STATISTICS_AFTER_ROWS:
                for statement in STATISTICS["postgresql"]:
                    cursor.execute(statement)
                engine = engine_of(session)
                on_commit(session, lambda: _upkeep(engine))
        return
    cursor = raw.cursor()
    try:
        (cache,) = cursor.execute("PRAGMA cache_size").fetchone()
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        try:
            sql = f"INSERT INTO timeline_events ({names}) VALUES ({', '.join('?' * len(COLUMNS))})"
            for batch in parsed.spool.batches():
                cursor.executemany(sql, batch)
                search_index.index_events(session, _searchable(batch))
                if tick:
                    tick()
            if parsed.count >= STATISTICS_AFTER_ROWS:
                for statement in STATISTICS["sqlite"]:
                    cursor.execute(statement)
        finally:
            cursor.execute(f"PRAGMA cache_size={int(cache)}")
    finally:
        cursor.close()


def _index_later(session: Session, searchable, tick: Callable[[], None] | None) -> None:
    """Index the events that one COPY has just loaded, block by block as they were spooled to `searchable`. One COPY
    for them all, not one per block: each COPY runs the table's statement triggers (tags, month counts) again,
    which made a load a fifth slower."""
    searchable.seek(0)
    while True:
        try:
            block = marshal.load(searchable)
        except EOFError:
            return
        search_index.index_events(session, block)
        if tick:
            tick()


def _upkeep(engine: Engine) -> None:
    """UPKEEP_AFTER_COMMIT on a connection of its own. The import has landed whatever happens here: a failure is
    logged, and autovacuum does the work later."""
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(UPKEEP_AFTER_COMMIT[engine.dialect.name])
    except SQLAlchemyError:
        log.warning("vacuum after a large import failed; autovacuum will do it later", exc_info=True)
