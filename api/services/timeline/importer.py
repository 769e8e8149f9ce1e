"""Importing events from CSV or JSON Lines: streamed, checked row by row, then stored all at once or not at all.

Pass 1 reads the file as it arrives, checks every row and spools the valid ones in the form the columns store
(api/services/timeline/stored.py) to a temporary file, so memory stays flat and a bad file never touches the
database. Pass 2 loads the spool with the driver's bulk path (COPY on PostgreSQL, executemany on SQLite) in one
transaction, which holds SQLite's write lock only for the load itself.

Reading the file into records is timeline.records; the spool and the load are timeline.bulk_load. This module is
pass 1's checks (the fast path for rows in plain form, RowBuilder for the rest) and the import as a whole.
"""

import uuid
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

import anyio
from sqlmodel import Session

from api.config import get_settings
from api.db import release_connection
from api.errors import UnprocessableEntity
from api.services import audit
from api.services.timeline.bulk_load import STATISTICS_AFTER_ROWS, Parsed, Spool, store
from api.services.timeline.events import case_evidence_ids
from api.services.timeline.records import (
    MAX_IMPORT_BYTES,
    TOO_LARGE,
    Unreadable,
    choose_format,
    decode,
    detect_format,
    records,
)
from api.services.timeline.rows import FieldError
from api.services.timeline.stored import (
    ALIAS_NAMES,
    FAST_COLUMNS,
    RowBuilder,
    StoredForm,
    fast_layout,
)
from api.storage import full_disk_refused
from models.case import Case
from models.common import utcnow
from models.timeline import MAX_TEXT
from models.user import User

# The importer is what routes and the import job call; the body limit, the format check and the bulk load they
# use live with the step they belong to.
__all__ = [
    "IMPORT_THREADS",
    "MAX_IMPORT_BYTES",
    "STATISTICS_AFTER_ROWS",
    "TOO_LARGE",
    "Parsed",
    "detect_format",
    "import_events",
    "parse",
    "record_import",
    "scratch_dir",
    "store",
]

MAX_ERRORS = 100
# Imports parsed at once in this process (the API's and the web pages' alike); more wait their turn without
# holding a thread.
IMPORT_THREADS = anyio.CapacityLimiter(8)
PROGRESS_ROWS = 20_000  # rows between progress reports while a file is read


def _reject(errors: list[FieldError], more: bool = False) -> UnprocessableEntity:
    listed = [e.as_dict() for e in sorted(errors, key=lambda e: e.row)[:MAX_ERRORS]]
    rows = len({e.row for e in errors})
    message = f"nothing was imported: {rows}{'+' if more else ''} row{'s' if rows != 1 else ''} with errors"
    return UnprocessableEntity({"message": message, "errors": listed, "truncated": more})


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
    pieces = decode(chunks, counter)
    errors: list[FieldError] = []
    missing: dict[str, list[int]] = {}  # evidence not in the case -> rows citing it
    form = StoredForm(postgres)
    spool = Spool(form, scratch or scratch_dir())
    try:
        first = next(pieces, "")
        if not first.strip():
            raise UnprocessableEntity({"message": "nothing was imported: the file is empty", "errors": []})
        kind = choose_format(fmt, content_type, first)
        builder = RowBuilder(case, actor_id, form, known_evidence, now=utcnow(), strict_text=kind == "jsonl")
        header: list[str] = []
        pick: itemgetter[Any] | Literal[False] | None = None  # the fast path's columns of a CSV record, once known
        seen = 0
        for row, values, problems in records(kind, _chain(first, pieces), header):
            if problems:
                errors += problems
            if values is not None:
                stored = None
                if isinstance(values, list):  # a CSV record (a JSON Lines one is a dict)
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
                        dict(zip(header, values, strict=False)) if isinstance(values, list) else values, row
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
    except Unreadable as abort:
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
