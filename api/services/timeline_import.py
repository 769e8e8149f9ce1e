"""Importing events from CSV or JSON Lines: streamed, checked row by row, then stored all at once or not at all.

Valid rows are spooled to a temporary file while the body arrives, so memory stays flat and the database
write (one transaction) starts only once the whole file has been read and found clean.
"""

import codecs
import csv
import json
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlmodel import Session

from api.errors import DomainError, PayloadTooLarge, UnprocessableEntity
from api.services import audit
from api.services.timeline import evidence_ids_in_case
from api.services.timeline_rows import FieldError, header_problems, normalize_row
from models.case import Case
from models.common import utcnow
from models.safe_json import JSONRefused, load_json
from models.timeline import MAX_TEXT, EventSource, TimelineEvent
from models.user import User

MAX_IMPORT_BYTES = 512 * 1024 * 1024
MAX_LINE_CHARS = 1024 * 1024
MAX_ERRORS = 100
INSERT_BATCH = 1000
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
            raise PayloadTooLarge(f"an import is at most {MAX_IMPORT_BYTES // 2**20} MiB; split the file")
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


def _records(fmt: str, pieces: Iterator[str], header: list[str]) -> Iterator[tuple[int, dict | None, list]]:
    """(row number, values, problems) for each record; for CSV the header is row 1, for JSON Lines the line."""
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
                        yield row, dict(zip(header, record, strict=True)), []
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


def _reject(errors: list[FieldError], more: bool = False) -> UnprocessableEntity:
    listed = [e.as_dict() for e in sorted(errors, key=lambda e: e.row)[:MAX_ERRORS]]
    rows = len({e.row for e in errors})
    message = f"nothing was imported: {rows}{'+' if more else ''} row{'s' if rows != 1 else ''} with errors"
    return UnprocessableEntity({"message": message, "errors": listed, "truncated": more})


def import_events(
    session: Session, *, case: Case, actor: User, chunks: Iterable[bytes], fmt: str | None, content_type: str | None
) -> dict:
    """Read the whole file; if every row is valid, add them all as imported events, else add none (422)."""
    pieces = _text(chunks, {"bytes": 0, "newlines": 0})
    errors: list[FieldError] = []
    evidence_rows: dict[str, list[int]] = {}
    count = 0
    with tempfile.SpooledTemporaryFile(max_size=16 * 2**20, mode="w+", encoding="utf-8") as spool:
        try:
            first = next(pieces, "")
            if not first.strip():
                raise UnprocessableEntity({"message": "nothing was imported: the file is empty", "errors": []})
            kind = _format(fmt, content_type, first)
            for row, values, problems in _records(kind, _chain(first, pieces), []):
                errors += problems
                if values is not None:
                    event, row_errors = normalize_row(values, row, case.timezone)
                    errors += row_errors
                    if event and event["evidence_id"] is not None:
                        evidence_rows.setdefault(event["evidence_id"], []).append(row)
                    if event and not errors:  # after the first error, rows are only checked
                        spool.write(json.dumps(event, default=str) + "\n")
                        count += 1
                if len(errors) >= MAX_ERRORS:
                    raise _reject(errors, more=True)
        except _Abort as abort:
            raise _reject([*errors, abort.error]) from None
        known = {str(e) for e in evidence_ids_in_case(session, case, {uuid.UUID(e) for e in evidence_rows})}
        for evidence_id in sorted(set(evidence_rows) - known):
            errors += [
                FieldError(r, "evidence_id", f"no evidence {evidence_id} in this case")
                for r in evidence_rows[evidence_id]
            ]
        if errors:
            raise _reject(errors)
        if count == 0:
            raise UnprocessableEntity({"message": "nothing was imported: the file holds no events", "errors": []})
        spool.seek(0)
        _store(session, case, actor, spool)
    # One event for the whole import: the rows themselves are in the case's timeline, marked `imported`.
    details = {"imported": count, "format": kind}
    audit.record(
        session, "events.import", actor=actor, case_id=case.id, object_type="case", object_id=case.id, details=details
    )
    return {"imported": count, "format": kind}


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _store(session: Session, case: Case, actor: User, spool) -> None:
    now, batch = utcnow(), []
    for line in spool:
        event = json.loads(line)
        batch.append(
            event
            | {
                "id": uuid.uuid4(),
                "case_id": case.id,
                "occurred_at": datetime.fromisoformat(event["occurred_at"]).astimezone(UTC),
                "occurred_until": datetime.fromisoformat(event["occurred_until"]).astimezone(UTC),
                "evidence_id": uuid.UUID(event["evidence_id"]) if event["evidence_id"] else None,
                "source": EventSource.imported.value,
                "created_by": actor.id,
                "created_at": now,
                "updated_at": now,
            }
        )
        if len(batch) >= INSERT_BATCH:
            session.execute(insert(TimelineEvent.__table__), batch)
            batch = []
    if batch:
        session.execute(insert(TimelineEvent.__table__), batch)
    session.flush()
