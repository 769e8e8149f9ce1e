"""An events import's file read as records: UTF-8 decoded as it arrives, split into lines no longer than
MAX_LINE_CHARS, and read as CSV (the header is row 1) or JSON Lines, each record with its row number and the
problems that stop it being read. The size limit and the format (from the content type or the first bytes) are
decided here too, so a route can refuse a body before it is read.
"""

import codecs
import csv
import json
from collections.abc import Iterable, Iterator

from api.errors import PayloadTooLarge, UnprocessableEntity, UnsupportedMediaType
from api.services.timeline.rows import FieldError, header_problems
from models.safe_json import JSONRefused, load_json
from models.timeline import MAX_TEXT

MAX_IMPORT_BYTES = 512 * 1024 * 1024
TOO_LARGE = f"an import is at most {MAX_IMPORT_BYTES // 2**20} MiB; split the file"
MAX_LINE_CHARS = 1024 * 1024
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


class Unreadable(Exception):
    """The file cannot be read any further (bad encoding, an endless line)."""

    def __init__(self, error: FieldError):
        self.error = error


def decode(chunks: Iterable[bytes], counter: dict) -> Iterator[str]:
    """UTF-8 (a BOM allowed) decoded incrementally; a bad byte stops the import with its line number."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    for chunk in chunks:
        counter["bytes"] += len(chunk)
        if counter["bytes"] > MAX_IMPORT_BYTES:
            raise PayloadTooLarge(TOO_LARGE)
        if counter["bytes"] == len(chunk) and chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise Unreadable(FieldError(1, None, "the file is UTF-16; save it as UTF-8 and import it again"))
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            line = counter["newlines"] + exc.object[: exc.start].count(b"\n") + 1
            bad = exc.object[exc.start : exc.start + 1].hex().upper()
            raise Unreadable(
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

    def too_long(text: str) -> Unreadable:
        column = _open_column(text, header) if fmt == "csv" else None
        message = f"line {line} is longer than {MAX_LINE_CHARS:,} characters; a field may hold at most {MAX_TEXT:,}"
        return Unreadable(FieldError(line, column, message))

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


def records(fmt: str, pieces: Iterator[str], header: list[str]) -> Iterator[tuple[int, list | dict | None, list]]:
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


def choose_format(fmt: str | None, content_type: str | None, first: str) -> str:
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
        raise UnsupportedMediaType(f"cannot import {media}: send text/csv or application/x-ndjson (JSON Lines)")
    return "jsonl" if first.lstrip().startswith("{") else "csv"


def detect_format(fmt: str | None, content_type: str | None, head: bytes, size: int) -> str:
    """csv or jsonl for a staged body, from its first bytes; 415 or 422 as a synchronous import would answer."""
    text = head.decode("utf-8", errors="ignore").removeprefix("\ufeff")
    if size <= len(head) and not text.strip():
        raise UnprocessableEntity({"message": "nothing was imported: the file is empty", "errors": []})
    return choose_format(fmt, content_type, text)
