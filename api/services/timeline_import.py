"""Importing events from CSV or JSON Lines: streamed, checked row by row, then stored all at once or not at all.

Pass 1 reads the file as it arrives, checks every row and spools the valid ones in the form the columns store
(api/services/timeline_stored.py) to a temporary file, so memory stays flat and a bad file never touches the
database. Pass 2 loads the spool with the driver's bulk path (COPY on PostgreSQL, executemany on SQLite) in one
transaction, which holds SQLite's write lock only for the load itself.
"""

import codecs
import csv
import heapq
import json
import logging
import marshal
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from api.config import get_settings
from api.db import on_commit, release_connection
from api.errors import DomainError, PayloadTooLarge, UnprocessableEntity
from api.services import audit
from api.services.timeline import case_evidence_ids
from api.services.timeline_rows import FieldError, header_problems
from api.services.timeline_stored import (
    ALIAS_NAMES,
    COLUMNS,
    FAST_COLUMNS,
    WHEN,
    RowBuilder,
    StoredForm,
    fast_layout,
)
from api.storage import full_disk_refused
from models.case import Case
from models.common import utcnow
from models.safe_json import JSONRefused, load_json
from models.timeline import MAX_TEXT
from models.user import User

MAX_IMPORT_BYTES = 512 * 1024 * 1024
TOO_LARGE = f"an import is at most {MAX_IMPORT_BYTES // 2**20} MiB; split the file"
MAX_LINE_CHARS = 1024 * 1024
MAX_ERRORS = 100
PROGRESS_ROWS = 20_000  # rows between progress reports while a file is read
STORE_BATCH = 4096  # rows per executemany or COPY write (and ids made at once: at most 4096)
SQLITE_CACHE_KIB = 64 * 1024  # page cache for the load: a bigger one was no faster, and it stays in memory
# An import of this many rows or more brings the table's statistics up to date before it commits, so the
# timeline queries keep planning well; ANALYZE on SQLite looks at this many index rows per index.
STATISTICS_AFTER_ROWS = 10_000
SQLITE_ANALYSIS_LIMIT = 2000
# The statements that bring them up to date: the events and their tag rows (timeline_event_tags, which the
# triggers filled during the load and a tag filter walks).
STATISTICS = {
    "postgresql": ["ANALYZE timeline_events", "ANALYZE timeline_event_tags"],
    "sqlite": [
        f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}",
        "ANALYZE timeline_events",
        "ANALYZE timeline_event_tags",
        "PRAGMA analysis_limit=0",
    ],
}
# After such an import has committed, PostgreSQL's tables are also vacuumed: the new rows' visibility is settled
# once (the first reads would otherwise each write hint bits) and the visibility map is set, so a tag page reads
# its index alone; autovacuum would do the same later, at a moment of its choosing, while the case is in use.
# VACUUM cannot run in a transaction, hence after the commit. About a second for a million rows.
UPKEEP_AFTER_COMMIT = {"postgresql": "VACUUM timeline_events, timeline_event_tags"}
log = logging.getLogger("casebinder.import")
CSV_TYPES = {"text/csv", "application/csv", "text/comma-separated-values"}
JSONL_TYPES = {
    "application/jsonl",
    "application/x-jsonlines",
    "application/jsonlines",
    "application/json-lines",
    "application/x-ndjson",
    "application/ndjson",
    "application/json",
}


class _Abort(Exception):
    """The file cannot be read any further (bad encoding, an endless line)."""

    def __init__(self, error: FieldError):
        self.error = error


def _text(chunks: Iterable[bytes], counter: dict) -> Iterator[str]:
    """UTF-8 (a BOM allowed) decoded incrementally; a bad byte stops the import with its line number."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    for chunk in chunks:
        counter["bytes"] += len(chunk)
        if counter["bytes"] > MAX_IMPORT_BYTES:
            raise PayloadTooLarge(TOO_LARGE)
        if counter["bytes"] == len(chunk) and chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise _Abort(FieldError(1, None, "the file is UTF-16; save it as UTF-8 and import it again"))
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            line = counter["newlines"] + exc.object[: exc.start].count(b"\n") + 1
            bad = exc.object[exc.start : exc.start + 1].hex().upper()
            raise _Abort(
                FieldError(
                    line,
                    None,
                    f"line {line} is not UTF-8 (byte 0x{bad}): the file mixes encodings or is not UTF-8; "
                    "save it as UTF-8 and import it again",
                )
            ) from None
        counter["newlines"] += text.count("\n")
        if text:
            yield text
    tail = decoder.decode(b"", final=True) if counter["bytes"] else ""
    if tail:
        yield tail


def _lines(pieces: Iterator[str], fmt: str, header: list[str] | None) -> Iterator[str]:
    """Split on \\n only (the CSV reader rejoins quoted newlines); a line past MAX_LINE_CHARS stops the import."""
    pending, line = "", 1

    def too_long(text: str) -> _Abort:
        column = _open_column(text, header) if fmt == "csv" else None
        message = f"line {line} is longer than {MAX_LINE_CHARS:,} characters; a field may hold at most {MAX_TEXT:,}"
        return _Abort(FieldError(line, column, message))

    for piece in pieces:
        parts = (pending + piece).split("\n")
        pending = parts.pop()
        for part in parts:
            if len(part) > MAX_LINE_CHARS:
                raise too_long(part)
            yield part + "\n"
            line += 1
        if len(pending) > MAX_LINE_CHARS:
            raise too_long(pending)
    if pending:
        yield pending


def _open_column(partial: str, header: list[str] | None) -> str | None:
    """Which CSV column an over-long line is in: count the delimiters outside quotes."""
    quoted, index = False, 0
    for ch in partial[: MAX_LINE_CHARS + 1]:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            index += 1
    return header[index] if header and index < len(header) else None


def _records(fmt: str, pieces: Iterator[str], header: list[str]) -> Iterator[tuple[int, list | dict | None, list]]:
    """(row number, values, problems) for each record; for CSV the header is row 1 (read into `header`) and the
    values are the record's fields, for JSON Lines the row is the line and the values its object."""
    if fmt == "csv":
        reader = csv.reader(_lines(pieces, fmt, header))
        row = 0
        try:
            for record in reader:
                row += 1
                if row == 1:
                    header[:] = [h.strip().lower() for h in record]
                    if problems := header_problems(header):
                        yield 1, None, problems
                        return
                elif record and record != [""]:
                    if len(record) != len(header):
                        problem = f"has {len(record)} fields but the header has {len(header)}"
                        yield row, None, [FieldError(row, None, problem)]
                    else:
                        yield row, record, []
        except csv.Error as exc:
            problem = f"is not valid CSV ({exc}); a field may hold at most {MAX_TEXT:,} characters"
            yield row + 1, None, [FieldError(row + 1, None, problem)]
        return
    for row, line in enumerate(_lines(pieces, fmt, None), start=1):
        if not line.strip():
            continue
        try:
            values = load_json(line)
        except json.JSONDecodeError as exc:
            yield row, None, [FieldError(row, None, f"is not valid JSON ({exc.msg} at column {exc.colno})")]
            continue
        except JSONRefused as exc:
            column = str(exc.path[0]).strip().lower() if exc.path else None
            yield row, None, [FieldError(row, column, f"{exc.where() or 'the line'} {exc.message}")]
            continue
        if not isinstance(values, dict):
            yield row, None, [FieldError(row, None, "is not a JSON object; JSON Lines needs one object per line")]
            continue
        yield row, {str(k).strip().lower(): v for k, v in values.items()}, []


def _format(fmt: str | None, content_type: str | None, first: str) -> str:
    if fmt:
        if fmt.lower() not in ("csv", "jsonl"):
            raise UnprocessableEntity("format must be csv or jsonl")
        return fmt.lower()
    media = (content_type or "").split(";")[0].strip().lower()
    if media in CSV_TYPES:
        return "csv"
    if media in JSONL_TYPES:
        return "jsonl"
    if media not in ("", "application/octet-stream", "text/plain"):
        raise DomainError(f"cannot import {media}: send text/csv or application/x-ndjson (JSON Lines)", 415)
    return "jsonl" if first.lstrip().startswith("{") else "csv"


def detect_format(fmt: str | None, content_type: str | None, head: bytes, size: int) -> str:
    """csv or jsonl for a staged body, from its first bytes; 415 or 422 as a synchronous import would answer."""
    text = head.decode("utf-8", errors="ignore").removeprefix("\ufeff")
    if size <= len(head) and not text.strip():
        raise UnprocessableEntity({"message": "nothing was imported: the file is empty", "errors": []})
    return _format(fmt, content_type, text)


def _reject(errors: list[FieldError], more: bool = False) -> UnprocessableEntity:
    listed = [e.as_dict() for e in sorted(errors, key=lambda e: e.row)[:MAX_ERRORS]]
    rows = len({e.row for e in errors})
    message = f"nothing was imported: {rows}{'+' if more else ''} row{'s' if rows != 1 else ''} with errors"
    return UnprocessableEntity({"message": message, "errors": listed, "truncated": more})


_when = itemgetter(WHEN)


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

    def batches(self) -> Iterator:
        """The rows with their ids, in blocks for the driver: lists of tuples in COLUMNS order (SQLite), or COPY
        text (PostgreSQL)."""
        rows, form = self.rows(), self.form
        while block := list(islice(rows, STORE_BATCH)):
            ids = form.new_ids(len(block))
            if form.postgres:
                yield "".join([form.line((i, *row)) for i, row in zip(ids, block, strict=True)]).encode("utf-8")
            else:
                yield [(i, *row) for i, row in zip(ids, block, strict=True)]

    def close(self) -> None:
        self.file.close()


@dataclass
class Parsed:
    kind: str  # csv | jsonl
    spool: Spool

    @property
    def count(self) -> int:
        return self.spool.count


def scratch_dir() -> Path:
    """Where imports keep their files (staged bodies, spools): under the data dir, not in a RAM-backed /tmp."""
    path = Path(get_settings().data_dir) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _jsonl_record(values: dict) -> tuple | None:
    """A JSON Lines object as FAST_COLUMNS strings, when it has only plain string (or null) values and no
    Timesketch names; None otherwise."""
    record = []
    for key, value in values.items():
        if not (value is None or type(value) is str) or key in ALIAS_NAMES:
            return None
        if value is not None and len(value) > MAX_TEXT:
            return None
    for name in FAST_COLUMNS:
        record.append(values.get(name) or "")
    return tuple(record)


@full_disk_refused("the import")  # 507 if the disk fills up while the rows are spooled
def parse(
    chunks: Iterable[bytes],
    *,
    case: Case,
    actor_id: uuid.UUID,
    known_evidence: set[str],
    postgres: bool,
    fmt: str | None,
    content_type: str | None,
    scratch: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Parsed:
    """Pass 1: read and check the whole file, spooling the rows in stored form; 422 with every problem (by row
    and column) if any row is bad, and then nothing has touched the database."""
    counter = {"bytes": 0, "newlines": 0}
    pieces = _text(chunks, counter)
    errors: list[FieldError] = []
    missing: dict[str, list[int]] = {}  # evidence not in the case -> rows citing it
    form = StoredForm(postgres)
    spool = Spool(form, scratch or scratch_dir())
    try:
        first = next(pieces, "")
        if not first.strip():
            raise UnprocessableEntity({"message": "nothing was imported: the file is empty", "errors": []})
        kind = _format(fmt, content_type, first)
        builder = RowBuilder(case, actor_id, form, known_evidence, now=utcnow(), strict_text=kind == "jsonl")
        header: list[str] = []
        pick = None  # the fast path's columns of a CSV record, once the header is known
        seen = 0
        for row, values, problems in _records(kind, _chain(first, pieces), header):
            if problems:
                errors += problems
            if values is not None:
                stored = None
                if kind == "csv":
                    if pick is None:
                        layout = fast_layout(header)
                        pick = itemgetter(*(-1 if i is None else i for i in layout)) if layout else False
                    if pick and max(map(len, values)) <= MAX_TEXT:
                        values.append("")  # what an absent column reads as
                        stored = builder.fast(pick(values))
                else:
                    record = _jsonl_record(values)
                    stored = builder.fast(record) if record else None
                if stored is None:
                    stored, row_errors, cited = builder.slow(
                        dict(zip(header, values, strict=False)) if kind == "csv" else values, row
                    )
                    errors += row_errors
                    if cited is not None:
                        missing.setdefault(cited, []).append(row)
                if stored is not None and not errors and not missing:  # after the first error, rows are only checked
                    spool.add(stored)
            if len(errors) >= MAX_ERRORS:
                raise _reject(errors, more=True)
            seen += 1
            if progress and not seen % PROGRESS_ROWS:
                progress(seen, counter["bytes"])
        if progress:
            progress(seen, counter["bytes"])
    except _Abort as abort:
        spool.close()
        raise _reject([*errors, abort.error]) from None
    except BaseException:
        spool.close()
        raise
    for evidence_id in sorted(missing):
        problem = f"no evidence {evidence_id} in this case"
        errors += [FieldError(r, "evidence_id", problem) for r in missing[evidence_id]]
    if errors or not spool.count:
        spool.close()
        if errors:
            raise _reject(errors)
        raise UnprocessableEntity({"message": "nothing was imported: the file holds no events", "errors": []})
    return Parsed(kind, spool)


def store(session: Session, parsed: Parsed, *, tick: Callable[[], None] | None = None) -> None:
    """Pass 2: every spooled row into timeline_events with the driver's bulk load, in the session's transaction
    (COPY on PostgreSQL, executemany on SQLite with a larger page cache for the load); then the table's
    statistics, in the same transaction, once the import is big enough to change the query plans (and, on
    PostgreSQL, a VACUUM once it has committed: UPKEEP_AFTER_COMMIT)."""
    raw = session.connection().connection.driver_connection
    names = ", ".join(COLUMNS)
    if parsed.spool.form.postgres:
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY timeline_events ({names}) FROM STDIN") as copy:
                for block in parsed.spool.batches():
                    copy.write(block)
                    if tick:
                        tick()
            if parsed.count >= STATISTICS_AFTER_ROWS:
                for statement in STATISTICS["postgresql"]:
                    cursor.execute(statement)
                bind = session.get_bind()
                on_commit(session, lambda: _upkeep(bind))
        return
    cursor = raw.cursor()
    try:
        (cache,) = cursor.execute("PRAGMA cache_size").fetchone()
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        try:
            sql = f"INSERT INTO timeline_events ({names}) VALUES ({', '.join('?' * len(COLUMNS))})"
            for batch in parsed.spool.batches():
                cursor.executemany(sql, batch)
                if tick:
                    tick()
            if parsed.count >= STATISTICS_AFTER_ROWS:
                for statement in STATISTICS["sqlite"]:
                    cursor.execute(statement)
        finally:
            cursor.execute(f"PRAGMA cache_size={int(cache)}")
    finally:
        cursor.close()


def _upkeep(engine: Engine) -> None:
    """UPKEEP_AFTER_COMMIT on a connection of its own. The import has landed whatever happens here: a failure is
    logged, and autovacuum does the work later."""
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(UPKEEP_AFTER_COMMIT[engine.dialect.name])
    except SQLAlchemyError:
        log.warning("vacuum after a large import failed; autovacuum will do it later", exc_info=True)


def record_import(session: Session, *, case: Case, actor: User, count: int, kind: str, **more) -> dict:
    """One audit event for the whole import: the rows themselves are in the case's timeline, marked `imported`."""
    details = {"imported": count, "format": kind} | more
    audit.record_case(session, "events.import", case.id, actor=actor, details=details)
    return {"imported": count, "format": kind}


def import_events(
    session: Session,
    *,
    case: Case,
    actor: User,
    chunks: Iterable[bytes],
    fmt: str | None,
    content_type: str | None,
    scratch: Path | None = None,
) -> dict:
    """Read the whole file; if every row is valid, add them all as imported events, else add none (422)."""
    known = case_evidence_ids(session, case)
    release_connection(session)  # the body may take a while to arrive
    parsed = parse(
        chunks,
        case=case,
        actor_id=actor.id,
        known_evidence=known,
        postgres=session.get_bind().dialect.name == "postgresql",
        fmt=fmt,
        content_type=content_type,
        scratch=scratch,
    )
    try:
        store(session, parsed)
    finally:
        parsed.spool.close()
    return record_import(session, case=case, actor=actor, count=parsed.count, kind=parsed.kind)
