"""Text-like originals as the preview shows them: the start of a text, the first rows of a table, an e-mail's
headers and text. Read by the same rules as the bundle (api/originals); only how much is shown is the preview's
(the CASEBINDER_PREVIEW_* settings), and past it the preview says so (`truncated`, and a note)."""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from api.originals.csv_rows import csv_rows
from api.originals.email_parts import read_email
from api.originals.html_text import html_to_text
from api.originals.json_records import read_json
from api.originals.text import BYTES_PER_CHAR, CUT_MARK, cut, decode, read_head
from models.preview import EmailHeader, Preview, PreviewMode

# A cell or header longer than this is cut, marked CUT_MARK (the bundle's own limit is its own setting).
CELL_CHARS = 2_000


@dataclass(frozen=True)
class Limits:
    text_chars: int
    table_rows: int


def preview(kind: str, path: Path, media_type: str, limits: Limits) -> Preview:
    """The preview of a csv, json, email or text original (api/originals/kinds.py)."""
    if kind == "csv":
        return _csv(path, media_type, limits)
    data, size = read_head(path, limits.text_chars * BYTES_PER_CHAR)
    cut_short = len(data) < size
    if kind == "email":
        return _email(data, cut_short, media_type, limits)
    text, note = decode(data, cut_short)
    if kind == "json":
        found = read_json(text, cut_short, CELL_CHARS)
        if found.columns is not None and found.rows is not None:
            table = _table(found.columns, found.rows, media_type, limits, note)
            return table.model_copy(update={"truncated": table.truncated or cut_short})
        text = found.text or ""
    shown = text[: limits.text_chars]
    said = [note] if note else []
    if truncated := cut_short or len(shown) < len(text):
        said.append(f"Only the first {len(shown):,} characters are shown; download the original for the rest.")
    return Preview(
        mode=PreviewMode.text, media_type=media_type, text=shown, truncated=truncated, note=" ".join(said) or None
    )


def _csv(path: Path, media_type: str, limits: Limits) -> Preview:
    with csv_rows(path) as read:
        table = _table(read.columns, read.rows, media_type, limits, read.note)
    if read.broken_note:
        note = f"{table.note} " if table.note else ""
        table = table.model_copy(update={"note": f"{note}{read.broken_note[0].upper()}{read.broken_note[1:]}."})
    return table


def _table(
    columns: list[str], rows: Iterable[tuple[int, list[str]]], media_type: str, limits: Limits, note: str | None
) -> Preview:
    """The first rows, as many as the row limit allows and as long as their cells (and the column names) hold no
    more characters in all than the text limit: a table of very long or very many cells stays a screenful."""
    budget = limits.text_chars
    shown_columns = [cut(c, CELL_CHARS) for c in columns]
    budget -= sum(len(c) + 1 for c in shown_columns)
    kept: list[list[str]] = []
    numbers: list[int] = []
    truncated = cells_cut = False
    for number, cells in rows:
        if len(kept) == limits.table_rows or (kept and budget <= 0):
            truncated = True
            break
        shown = [cut(c, CELL_CHARS) for c in cells]
        cells_cut = cells_cut or any(len(a) != len(b) for a, b in zip(shown, cells, strict=True))
        budget -= sum(len(c) + 1 for c in shown)
        kept.append(shown)
        numbers.append(number)
    said = [note] if note else []
    if truncated:
        said.append(f"Only the first {len(kept):,} rows are shown; download the original for the rest.")
    if cells_cut or any(len(a) != len(b) for a, b in zip(shown_columns, columns, strict=True)):
        said.append(f"Cells longer than {CELL_CHARS:,} characters are cut, marked {CUT_MARK.strip()}.")
    return Preview(
        mode=PreviewMode.table,
        media_type=media_type,
        columns=shown_columns,
        rows=kept,
        row_numbers=numbers,
        truncated=truncated or cells_cut,
        note=" ".join(said) or None,
    )


def _email(data: bytes, cut_short: bool, media_type: str, limits: Limits) -> Preview:
    """Headers, and the message text: its plain-text part, else the words of its HTML part (the sender's HTML is
    never passed on), else any other text part as it is."""
    message = read_email(data)
    plain = next((p.body for p in message.parts if p.subtype == "plain"), None)
    html = next((p.body for p in message.parts if p.subtype == "html"), None)
    if plain is not None:
        body, note = plain, None
    elif html is not None:
        body, note = html_to_text(html), "The message has no plain-text part: this is the text of its HTML part."
    else:
        body = message.parts[0].body if message.parts else ""
        note = None if message.parts else "The message has no text part."
    said = [note] if note else []
    if cut_short:
        said.append(f"Only the first {len(data):,} bytes of the message are read; download the original for all.")
    shown = body[: limits.text_chars]
    return Preview(
        mode=PreviewMode.email,
        media_type=media_type,
        headers=[EmailHeader(name=name, value=cut(value, CELL_CHARS)) for name, value in message.headers],
        text=shown,
        attachments=message.attachments,
        truncated=cut_short or len(shown) < len(body),
        note=" ".join(said) or None,
    )
