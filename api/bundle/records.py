"""Text-like originals (CSV exports, JSON, JSON Lines, e-mail, plain text) turned into something a judge can read.

Nothing is left off without a word: each view lists in `losses` what it does not print (rows past the page limit
for a table, text past the character limit, cells cut short, attachments), and the exhibit is then "truncated".
The limits are the CASEBINDER_BUNDLE_* settings (RecordLimits)."""

from pathlib import Path

from api.bundle.record_table import FILE_LINES, SPREADSHEET_ROWS, table_view
from api.bundle.record_text import email_view, text_view
from api.bundle.spec import RecordLimits
from api.originals import text as text_reading
from api.originals.csv_rows import csv_rows
from api.originals.json_records import read_json
from api.originals.kinds import classify  # noqa: F401 - re-exported: the build asks here how an original goes in
from api.originals.text import BYTES_PER_CHAR, decode, line_count, read_head

# Why a text-like original that could not be read at all has a placeholder page (see completeness.not_reproduced).
UNREADABLE = f"{text_reading.UNREADABLE}, so it cannot be reproduced"


def view(kind: str, path: Path, limits: RecordLimits | None = None) -> dict:
    """A template-ready view of a text-like original. Every string stays text: the template escapes it."""
    limits = limits or RecordLimits()
    if kind == "csv":
        return _csv_view(path, limits)
    data, size = read_head(path, limits.text_chars * BYTES_PER_CHAR)
    if kind == "email":
        return _noted(email_view(data, size, limits), None)
    cut_short = len(data) < size
    text, encoding_note = decode(data, cut_short)
    if kind == "json":
        found = _json_view(text, cut_short, limits)
        if cut_short:
            first, lines = data.count(b"\n") + 1, line_count(path)
            found["losses"].insert(
                0,
                f"only the first {len(data):,} of its {size:,} bytes are read: lines {first:,} to {lines:,} of "
                f"{lines:,} are not printed",
            )
    else:
        found = text_view(text, limits, line_count(path) if cut_short else None)
    return _noted(found, encoding_note)


def _csv_view(path: Path, limits: RecordLimits) -> dict:
    """Read row by row: rows past the page limit are counted, not kept, so a file of any length costs what the
    printed pages cost."""
    with csv_rows(path) as read:
        found = table_view(read.columns, read.rows, limits, SPREADSHEET_ROWS, noted=read.note is not None)
    if read.broken_note:
        found["losses"].append(read.broken_note)
    return _noted(found, read.note)


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
    """A JSON document pretty-printed; JSON Lines as a table of its records, or one block per record (see
    api/originals/json_records.py for which)."""
    found = read_json(text, cut_short, limits.cell_chars)
    if found.columns is not None and found.rows is not None:
        return table_view(found.columns, found.rows, limits, FILE_LINES, noted=cut_short)
    return text_view(found.text or "", limits)


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
