"""Text-like originals (CSV exports, JSON, JSON Lines, e-mail, plain text) turned into something a judge can read."""

import csv
import io
import json
import re
import unicodedata
from email import policy
from email.parser import BytesParser
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont

from api.bundle.stamp import FONT_PATHS

MAX_BYTES = 4 * 1024 * 1024
MAX_ROWS = 2000
MAX_CELL = 500
MAX_TEXT = 200_000
# A header value longer than this is cut: a table cell holding a long unbroken string takes the renderer time that
# grows with the square of its length.
MAX_HEADER = 2_000
# JSON Lines whose records are objects with at most this many keys in all read best as a table, one row each.
MAX_COLUMNS = 16

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

# Table type, as bundle.css sets it: DejaVu Sans at 7.5 pt with 3 pt of padding each side, or (class "compact",
# when the columns need it) 6.5 pt with 1.5 pt; half-point rules. Per size: the points a column needs beside its
# text (padding, rule, a little room for rounding). The width a table has: the content area of a letter page
# with 0.6 in margins, less the body's default 8 px margin each side and the outer half-rules.
TABLE_SIZES = ((7.5, 7.0), (6.5, 4.0))
PAGE_WIDTHS = {False: 513.0, True: 693.0}  # portrait, landscape
WORD_SHARE = 0.25  # one word may claim up to this share of the page; a longer one wraps where it must
MEASURED_ROWS = 1000
MEASURED_CHARS = 120


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


def _read(path: Path) -> tuple[bytes, bool]:
    with open(path, "rb") as f:
        data = f.read(MAX_BYTES + 1)
    return data[:MAX_BYTES], len(data) > MAX_BYTES


def _truncated_note(truncated: bool, what: str) -> str | None:
    if not truncated:
        return None
    return f"Only the first {what} are reproduced here; the complete original is the exhibit (see its SHA-256)."


CUT_MARK = " [...]"


def _cell(value: str) -> str:
    return value if len(value) <= MAX_CELL else value[:MAX_CELL] + CUT_MARK


def view(kind: str, path: Path) -> dict:
    """A template-ready view of a text-like original. Every string stays text: the template escapes it."""
    data, cut = _read(path)
    text = data.decode("utf-8-sig", errors="replace")
    if kind == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        headers, body = (rows[0], rows[1:]) if rows else ([], [])
        if cut and body:
            body = body[:-1]  # the read stopped somewhere in the last row: show none of it rather than part
        shown = body[:MAX_ROWS]
        # Numbered as a spreadsheet shows the file (the column names are row 1), so a witness can be taken
        # to the same row on paper and on screen.
        key = ("Row", "the row's number when the file is opened in a spreadsheet (row 1 holds the column names)")
        return _table(
            [_cell(h) for h in headers],
            [[_cell(c) for c in row] for row in shown],
            cut or len(body) > MAX_ROWS,
            "rows",
            numbers=(key, range(2, len(shown) + 2)),
        )
    if kind == "json":
        return _json_view(text, cut)
    if kind == "email":
        return _email_view(data, cut)
    return {
        "type": "text",
        "text": text[:MAX_TEXT],
        "note": _truncated_note(cut or len(text) > MAX_TEXT, f"{MAX_TEXT:,} characters"),
    }


_NUMBER = re.compile(r"[-+(]?[$€£]?\d[\d,]*(\.\d+)?\)?%?")


def _numeric(rows: list[list[str]], columns: int) -> list[bool]:
    """Columns whose every filled cell is a number or an amount: set right-aligned, so digits line up."""
    out = []
    for i in range(columns):
        cells = [row[i].strip() for row in rows if i < len(row) and row[i].strip()]
        out.append(bool(cells) and all(_NUMBER.fullmatch(cell) for cell in cells))
    return out


def _table(
    headers: list[str], rows: list[list[str]], cut: bool, what: str, *, numbers: tuple[tuple[str, str], list[int]]
) -> dict:
    """A table view, its rows numbered in a first column (`numbers`: the column's name and meaning, and the
    numbers), its columns sized from their text and its numeric columns marked."""
    (label, meaning), numbering = numbers
    headers = [label, *headers]
    rows = [[str(n), *row] for n, row in zip(numbering, rows, strict=True)]
    widths, size, wide = _column_widths(headers, rows)
    note = _truncated_note(cut, f"{len(rows):,} {what}")
    if any(cell.endswith(CUT_MARK) for row in rows for cell in row):
        shortened = f"Cells longer than {MAX_CELL} characters are shortened here, marked {CUT_MARK.strip()}."
        note = f"{note} {shortened}" if note else f"{shortened} The complete original is the exhibit (see its SHA-256)."
    return {
        "type": "csv",
        "headers": headers,
        "rows": rows,
        "widths": widths,
        "numeric": _numeric(rows, len(headers)),
        "key": f"{label}: {meaning}.",
        "wide": wide,
        "compact": size < TABLE_SIZES[0][0],
        "note": note,
    }


@lru_cache
def _advances(bold: bool) -> dict[str, float]:
    """Advance widths (in em) of the face the record tables are set in, by character; empty if it is missing."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    path = next((p.with_name(name) for p in FONT_PATHS if p.with_name(name).exists()), None)
    if path is None:
        return {}
    font = TTFont(path, lazy=True)
    units, metrics = font["head"].unitsPerEm, font["hmtx"]
    return {chr(code): metrics[glyph][0] / units for code, glyph in font.getBestCmap().items()}


def _em(text: str, advances: dict[str, float]) -> float:
    width = 0.0
    for ch in text:
        found = advances.get(ch)
        if found is None:  # not in the face: a fallback font sets it, about an em wide if East Asian
            found = 1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 0.65
        width += found
    return width


# Where a line may break inside a cell besides at spaces: after a hyphen that is followed by a letter
# ("deals@acme-|store.example"), as the Unicode line-breaking rules the renderer follows allow; never after the
# minus of "-89.88" or inside "2021-03-04", where a digit follows.
_HYPHEN_BREAK = re.compile(r"(?<=-)(?=[^\W\d_])")


def _longest_piece(text: str, advances: dict[str, float]) -> float:
    return max((_em(piece, advances) for word in text.split() for piece in _HYPHEN_BREAK.split(word)), default=0.0)


def _longest_line(text: str, advances: dict[str, float]) -> float:
    return max((_em(line, advances) for line in text.splitlines()), default=0.0)


def _column_widths(headers: list[str], rows: list[list[str]]) -> tuple[list[float], float, bool]:
    """Percent widths, the type size and whether the table goes across a landscape page.

    Every column first gets room for its longest word (a date, an amount, a transaction ID, a header word),
    so cells wrap only between words; what is left goes to the columns whose text runs longer than that
    (names, e-mail addresses, notes), in proportion to the extra they need. Exports with many columns, or
    whose words do not fit across a portrait page, go across a landscape page; the smaller size is used
    when the words do not fit at the larger one. Only if they do not fit at that size either are the
    longest words made to wrap."""
    count = len(headers)
    if not count:
        return [], TABLE_SIZES[0][0], False
    regular, bold = _advances(False), _advances(True)
    words = [_longest_piece(h, bold) for h in headers]  # in em: the longest unbreakable run, the longest line
    lines = [_longest_line(h, bold) for h in headers]
    for row in rows[:MEASURED_ROWS]:
        for i, cell in enumerate(row[:count]):
            if cell:
                cell = cell[:MEASURED_CHARS]
                words[i] = max(words[i], _longest_piece(cell, regular))
                lines[i] = max(lines[i], _longest_line(cell, regular))

    def least(size: float, padding: float, page: float) -> list[float]:
        return [min(w * size, page * WORD_SHARE) + padding for w in words]

    wide = count > 6 or sum(least(*TABLE_SIZES[0], PAGE_WIDTHS[False])) > PAGE_WIDTHS[False]
    page = PAGE_WIDTHS[wide]
    size, padding = next((t for t in TABLE_SIZES if sum(least(*t, page)) <= page), TABLE_SIZES[-1])
    smallest = _level_down(least(size, padding, page), page)
    natural = [max(m, n * size + padding) for m, n in zip(smallest, lines, strict=True)]
    if sum(natural) <= page:  # every cell fits on one line: the spare width is shared in proportion
        widths = [w * page / sum(natural) for w in natural]
    else:
        spare = page - sum(smallest)
        wanted = [n - m for n, m in zip(natural, smallest, strict=True)]
        widths = [m + spare * w / sum(wanted) for m, w in zip(smallest, wanted, strict=True)]
    return [round(100 * w / page, 2) for w in widths], size, wide


def _level_down(widths: list[float], page: float) -> list[float]:
    """If the widths overrun the page, trim the widest ones to a common width until they fit, so the short
    columns (dates, amounts, IDs) stay whole and only the longest words wrap."""
    if sum(widths) <= page:
        return widths
    rest = page
    ordered = sorted(widths)
    for n, width in enumerate(ordered):
        level = rest / (len(ordered) - n)
        if width > level:
            return [min(w, level) for w in widths]
        rest -= width
    return widths


def _json_view(text: str, cut: bool) -> dict:
    """A JSON document pretty-printed; JSON Lines as a table of its records when they are objects with few
    keys in all and every value fits a cell whole, else one pretty-printed block per record."""
    if not cut:
        try:
            return _text(json.dumps(json.loads(text), indent=2, ensure_ascii=False), False, "4 MiB")
        except (ValueError, RecursionError):
            pass  # not one document: JSON Lines, or not JSON at all
    if cut:
        text = text[: text.rfind("\n") + 1]  # the last line was cut short: it is left out, not shown in half
    # Split on line feeds only: a JSON string may hold U+2028 and the like, which splitlines() would cut at.
    numbered = [(n, line.strip()) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    records = [line for _, line in numbered]
    values = [_loads(line) for line in records]
    if values and all(value is not _NOT_JSON for value in values):
        table = _json_lines_table(values, cut, [n for n, _ in numbered])
        if table is not None:
            return table
        return _text(
            "\n\n".join(_dumps(value, line) for line, value in zip(records, values, strict=True)), cut, "4 MiB"
        )
    # Not JSON Lines throughout: the text line by line as it is, with the lines that are JSON pretty-printed.
    lines = []
    for line in text.splitlines():
        value = _loads(line) if line.strip() else _NOT_JSON
        lines.append(line if value is _NOT_JSON else _dumps(value, line))
    return _text("\n".join(lines), cut, "4 MiB")


def _json_lines_table(values: list, cut: bool, lines: list[int]) -> dict | None:
    """One row per record, one column per key (in the order first seen), or None when that would hide
    something: a record that is not an object, too many keys, or a value too long for a cell."""
    if not all(isinstance(value, dict) for value in values):
        return None
    columns = list(dict.fromkeys(key for value in values for key in value))
    if not columns or len(columns) > MAX_COLUMNS:
        return None
    try:
        rows = [[_json_cell(value[key]) if key in value else "" for key in columns] for value in values[:MAX_ROWS]]
    except (ValueError, RecursionError):
        return None
    if any(len(cell) > MAX_CELL for cell in (*columns, *(c for row in rows for c in row))):
        return None
    key = ("Line", "the record's line in the file")
    return _table(columns, rows, cut or len(values) > MAX_ROWS, "records", numbers=(key, lines[: len(rows)]))


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


def _text(text: str, cut: bool, limit: str) -> dict:
    if len(text) > MAX_TEXT:
        cut, limit = True, f"{MAX_TEXT:,} characters"
    return {"type": "text", "text": text[:MAX_TEXT], "note": _truncated_note(cut, limit)}


def _email_view(data: bytes, cut: bool) -> dict:
    message = BytesParser(policy=policy.default).parsebytes(data)
    headers = [
        (name, str(message[name])) for name in ("From", "To", "Cc", "Date", "Subject", "Message-ID") if message[name]
    ]
    # A header shown whole in a table cell could take the renderer hours (see MAX_HEADER); the original keeps it all.
    long_headers = [name for name, value in headers if len(value) > MAX_HEADER]
    headers = [(name, value if len(value) <= MAX_HEADER else value[:MAX_HEADER] + CUT_MARK) for name, value in headers]
    parts, attachments = [], []
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.get_content_disposition() == "attachment":
            attachments.append(part.get_filename() or part.get_content_type())
            continue
        if part.get_content_maintype() == "text":
            try:
                body = part.get_content()
            except (LookupError, ValueError):
                body = part.get_payload(decode=True).decode("utf-8", errors="replace")
            label = "Message text" if part.get_content_subtype() == "plain" else "HTML part, shown as source"
            parts.append({"label": label, "text": body[:MAX_TEXT]})
    if attachments:
        parts.append({"label": "Attachments (not reproduced)", "text": "\n".join(attachments)})
    note = _truncated_note(cut, "4 MiB")
    if long_headers:
        shortened = f"Headers longer than {MAX_HEADER:,} characters ({', '.join(long_headers)}) are shortened here."
        note = f"{note} {shortened}" if note else f"{shortened} The complete original is the exhibit (see its SHA-256)."
    return {"type": "email", "headers": headers, "parts": parts, "note": note}
