"""Text-like originals (CSV exports, JSON, JSON Lines, e-mail, plain text) turned into something a judge can read.

Nothing is left off without a word: each view lists in `losses` what it does not print (rows past the page limit
for a table, text past the character limit, cells cut short, attachments), and the exhibit is then "truncated".
The limits are the CASEBINDER_BUNDLE_* settings (RecordLimits)."""

import csv
import json
from itertools import chain, islice
from pathlib import Path

from api.bundle.record_table import FILE_LINES, SPREADSHEET_ROWS, table_view
from api.bundle.record_text import email_view, text_view
from api.bundle.spec import RecordLimits
from api.bundle.tables import MEASURED_ROWS

# JSON Lines whose records are objects with at most this many keys in all read best as a table, one row each.
MAX_COLUMNS = 16
# How much of a text-like original is read for the character limit: UTF-8 takes at most four bytes a character.
BYTES_PER_CHAR = 4
SNIFFED = 1 << 20  # the bytes a CSV's encoding is judged from
# A CSV field may be as long as this (Python's default, 128 KiB, fails on long notes); a longer one ends the table.
FIELD_LIMIT = 64 << 20

IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff", "image/bmp", "image/x-ms-bmp"}
# The names JSON Lines goes by (libmagic says application/x-ndjson); the records are plain UTF-8 text.
JSON_LINES_TYPES = {
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonl",
    "application/jsonlines",
    "application/x-jsonlines",
    "application/json-lines",
}
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
# Why a text-like original that could not be read at all has a placeholder page (see completeness.not_reproduced).
UNREADABLE = "the file could not be read: it is damaged, or not in the form its type says, so it cannot be reproduced"
NOT_UTF8 = "The file is not UTF-8 text; it is read as Windows-1252, the encoding spreadsheets on Windows save in."


def classify(media_type: str, filename: str) -> str:
    """How an original goes into the bundle: pdf, image, csv, json, email, text, or native (a placeholder)."""
    name = filename.lower()
    if media_type == "application/pdf":
        return "pdf"
    if media_type in IMAGE_TYPES:
        return "image"
    # A whole JSON document or JSON Lines are both "json": view() tells them apart by parsing. The name
    # decides only for text (a .jsonl sniffed as text/csv is still JSON Lines), never for binary content.
    if media_type in JSON_LINES_TYPES or (media_type.startswith("text/") and name.endswith(JSON_LINES_SUFFIXES)):
        return "json"
    if media_type == "text/csv" or (media_type.startswith("text/") and name.endswith(".csv")):
        return "csv"
    if media_type == "application/json" or (
        name.endswith((".json", *JSON_LINES_SUFFIXES)) and media_type.startswith(("text/", "application/json"))
    ):
        return "json"
    if media_type == "message/rfc822" or (media_type.startswith("text/") and name.endswith(".eml")):
        return "email"
    if media_type.startswith("text/"):
        return "text"
    return "native"


def view(kind: str, path: Path, limits: RecordLimits | None = None) -> dict:
    """A template-ready view of a text-like original. Every string stays text: the template escapes it."""
    limits = limits or RecordLimits()
    if kind == "csv":
        return _csv_view(path, limits)
    data, size = _read(path, limits.text_chars * BYTES_PER_CHAR)
    if kind == "email":
        return _noted(email_view(data, size, limits), None)
    cut_short = len(data) < size
    text, encoding_note = _decode(data, cut_short)
    if kind == "json":
        found = _json_view(text, cut_short, limits)
        if cut_short:
            first, lines = data.count(b"\n") + 1, _line_count(path)
            found["losses"].insert(
                0,
                f"only the first {len(data):,} of its {size:,} bytes are read: lines {first:,} to {lines:,} of "
                f"{lines:,} are not printed",
            )
    else:
        found = text_view(text, limits, _line_count(path) if cut_short else None)
    return _noted(found, encoding_note)


def _read(path: Path, limit: int) -> tuple[bytes, int]:
    """The first `limit` bytes of the file, and its size."""
    with open(path, "rb") as f:
        data = f.read(limit)
        size = f.seek(0, 2)
    return data, size


def _line_count(path: Path) -> int:
    with open(path, "rb") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
        if f.seek(0, 2):
            f.seek(-1, 2)
            lines += f.read(1) != b"\n"
    return lines


def _decode(data: bytes, cut_short: bool) -> tuple[str, str | None]:
    """UTF-8, else Windows-1252 (with a note saying so). A read cut inside a character loses only that character;
    text that is UTF-8 but for a few bad bytes stays UTF-8, those bytes shown as U+FFFD."""
    for trim in range(4 if cut_short else 1):
        try:
            return data[: len(data) - trim].decode("utf-8-sig"), None
        except UnicodeDecodeError:
            continue
    lenient = data.decode("utf-8-sig", errors="replace")
    bad = lenient.count("\ufffd")
    if sum(ord(ch) > 127 for ch in lenient) - bad > bad:  # more good multi-byte characters than bad bytes
        return lenient, None
    return data.decode("cp1252", errors="replace"), NOT_UTF8


def _sniff(path: Path) -> str:
    with open(path, "rb") as f:
        data = f.read(SNIFFED)
        more = bool(f.read(1))
    return "utf-8-sig" if _decode(data, more)[1] is None else "cp1252"


def _csv_view(path: Path, limits: RecordLimits) -> dict:
    """Read row by row: rows past the page limit are counted, not kept, so a file of any length costs what the
    printed pages cost."""
    encoding = _sniff(path)
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))
    broken: list[int] = []
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        reader = csv.reader(f)
        try:
            headers = next(reader, [])
        except csv.Error:
            headers, broken = [], [1]

        def numbered():
            number = 1
            while not broken:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error:
                    broken.append(number + 1)
                    return
                number += 1
                yield number, cells

        rows = _even(headers, numbered())
        found = table_view(next(rows), rows, limits, SPREADSHEET_ROWS, noted=encoding == "cp1252")
    if broken:
        found["losses"].append(f"from spreadsheet row {broken[0]:,} on, the file cannot be read as CSV")
    return _noted(found, NOT_UTF8 if encoding == "cp1252" else None)


def _even(headers: list[str], rows):
    """The column names, then each (number, cells) with as many cells as there are columns: a short row is padded,
    a long row's extra fields go into its last cell, separated by " | ". Columns without a name are named by
    their place. The column count is the header's, or the longest of the first rows', whichever is more."""
    first = list(islice(rows, MEASURED_ROWS))
    count = max([len(headers), *(len(cells) for _, cells in first)])
    yield [h or f"(column {i})" for i, h in enumerate([*headers, *[""] * (count - len(headers))], 1)]
    for number, cells in chain(first, rows):
        if len(cells) > count:
            cells = [*cells[: count - 1], " | ".join(cells[count - 1 :])]
        yield number, [*cells, *[""] * (count - len(cells))]


def _noted(found: dict, note: str | None) -> dict:
    found["note"] = " ".join(p for p in (note, _losses_note(found["losses"])) if p) or None
    return found


def _losses_note(losses: list[str]) -> str | None:
    if not losses:
        return None
    said = "; ".join(losses)
    return (
        f"Not all of this file is printed: {said}. The complete original is produced as a native file, "
        "identified on the page after these (see its SHA-256)."
    )


def _json_view(text: str, cut_short: bool, limits: RecordLimits) -> dict:
    """A JSON document pretty-printed; JSON Lines as a table of its records when they are objects with few
    keys in all and every value fits a cell whole, else one pretty-printed block per record."""
    if not cut_short:
        try:
            return text_view(json.dumps(json.loads(text), indent=2, ensure_ascii=False), limits)
        except (ValueError, RecursionError):
            pass  # not one document: JSON Lines, or not JSON at all
    if cut_short:
        text = text[: text.rfind("\n") + 1]  # the last line was cut short: it is left out, not shown in half
    # Split on line feeds only: a JSON string may hold U+2028 and the like, which splitlines() would cut at.
    numbered = [(n, line.strip()) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    records = [line for _, line in numbered]
    values = [_loads(line) for line in records]
    if values and all(value is not _NOT_JSON for value in values):
        table = _json_lines_table(values, [n for n, _ in numbered], limits, noted=cut_short)
        if table is not None:
            return table
        return text_view("\n\n".join(_dumps(value, line) for line, value in zip(records, values, strict=True)), limits)
    # Not JSON Lines throughout: the text line by line as it is, with the lines that are JSON pretty-printed.
    lines = []
    for line in text.splitlines():
        value = _loads(line) if line.strip() else _NOT_JSON
        lines.append(line if value is _NOT_JSON else _dumps(value, line))
    return text_view("\n".join(lines), limits)


def _json_lines_table(values: list, lines: list[int], limits: RecordLimits, *, noted: bool) -> dict | None:
    """One row per record, one column per key (in the order first seen), or None when that would hide
    something: a record that is not an object, too many keys, or a value too long for a cell."""
    if not all(isinstance(value, dict) for value in values):
        return None
    columns = list(dict.fromkeys(key for value in values for key in value))
    if not columns or len(columns) > MAX_COLUMNS or any(len(c) > limits.cell_chars for c in columns):
        return None
    try:
        rows = [[_json_cell(value[key]) if key in value else "" for key in columns] for value in values]
    except (ValueError, RecursionError):
        return None
    if any(len(c) > limits.cell_chars for row in rows for c in row):
        return None
    return table_view(columns, zip(lines, rows, strict=True), limits, FILE_LINES, noted=noted)


_NOT_JSON = object()


def _loads(line: str):
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _dumps(value, line: str) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return line


def _json_cell(value) -> str:
    """Strings as they are; numbers, true, false, null and nested values as JSON text."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def parts(record: dict, pages: int) -> list[dict]:
    """A long record in parts of about `pages` pages, for renders of their own, each part after the first marked
    "continued": a table by its runs of rows, a text by its blocks."""
    if record["type"] == "table":
        per_run = len(record["groups"])
        step = max(1, pages // per_run)
        runs = record["runs"]
        return [record | {"runs": runs[i : i + step], "continued": i > 0} for i in range(0, len(runs), step)]
    if record["type"] == "text":
        blocks = record["blocks"]
        step = max(1, len(blocks) * pages // max(1, record["pages"]))
        return [record | {"blocks": blocks[i : i + step], "continued": i > 0} for i in range(0, len(blocks), step)]
    return [record]
