"""Text-like originals (CSV exports, JSON, e-mail, plain text) turned into something a judge can read."""

import csv
import io
import json
from email import policy
from email.parser import BytesParser
from pathlib import Path

MAX_BYTES = 4 * 1024 * 1024
MAX_ROWS = 2000
MAX_CELL = 500
MAX_TEXT = 200_000

IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff", "image/bmp", "image/x-ms-bmp"}


def classify(media_type: str, filename: str) -> str:
    """How an original goes into the bundle: pdf, image, csv, json, email, text, or native (a placeholder)."""
    name = filename.lower()
    if media_type == "application/pdf":
        return "pdf"
    if media_type in IMAGE_TYPES:
        return "image"
    if media_type == "text/csv" or (media_type.startswith("text/") and name.endswith(".csv")):
        return "csv"
    if (
        media_type == "application/json"
        or name.endswith((".json", ".jsonl", ".ndjson"))
        and media_type.startswith(("text/", "application/json"))
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


def _cell(value: str) -> str:
    return value if len(value) <= MAX_CELL else value[:MAX_CELL] + " [...]"


def view(kind: str, path: Path) -> dict:
    """A template-ready view of a text-like original. Every string stays text: the template escapes it."""
    data, cut = _read(path)
    text = data.decode("utf-8-sig", errors="replace")
    if kind == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        headers, body = (rows[0], rows[1:]) if rows else ([], [])
        shown = body[:MAX_ROWS]
        cut = cut or len(body) > MAX_ROWS
        return {
            "type": "csv",
            "headers": [_cell(h) for h in headers],
            "rows": [[_cell(c) for c in row] for row in shown],
            "widths": _column_widths(headers, shown),
            # Exports with many columns read better across the page.
            "wide": len(headers) > 6,
            "note": _truncated_note(cut, f"{len(shown):,} rows"),
        }
    if kind == "json":
        return {"type": "text", "text": _pretty_json(text)[:MAX_TEXT], "note": _truncated_note(cut, "4 MiB")}
    if kind == "email":
        return _email_view(data, cut)
    return {
        "type": "text",
        "text": text[:MAX_TEXT],
        "note": _truncated_note(cut or len(text) > MAX_TEXT, f"{MAX_TEXT:,} characters"),
    }


def _column_widths(headers: list[str], rows: list[list[str]], sample: int = 200) -> list[float]:
    """Percent widths: short columns (amounts, dates, codes) keep room for their values on one line; long
    ones (e-mail addresses, notes) share what is left in proportion to their length."""
    longest = [min(max(len(h), 5), 30) for h in headers]
    for row in rows[:sample]:
        for i, cell in enumerate(row[: len(longest)]):
            longest[i] = max(longest[i], min(len(cell), 30))
    page = 705.0 if len(headers) > 6 else 526.0  # points across a landscape or portrait content area
    natural = [n * 4.3 + 8 for n in longest]  # about 4.3 pt a character at 7.5 pt, plus cell padding
    if sum(natural) > page:
        short = [w if n <= 10 else 0.0 for w, n in zip(natural, longest, strict=True)]
        room = max(page - sum(short), page * 0.3)
        long_total = sum(w for w, n in zip(natural, longest, strict=True) if n > 10) or 1.0
        natural = [w if n <= 10 else w * room / long_total for w, n in zip(natural, longest, strict=True)]
    total = sum(natural) or 1.0
    return [round(100 * w / total, 2) for w in natural]


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        pass
    lines = []
    for line in text.splitlines():  # JSON Lines: one record per block
        try:
            lines.append(json.dumps(json.loads(line), indent=2, ensure_ascii=False))
        except ValueError:
            lines.append(line)
    return "\n".join(lines)


def _email_view(data: bytes, cut: bool) -> dict:
    message = BytesParser(policy=policy.default).parsebytes(data)
    headers = [
        (name, str(message[name])) for name in ("From", "To", "Cc", "Date", "Subject", "Message-ID") if message[name]
    ]
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
    return {"type": "email", "headers": headers, "parts": parts, "note": _truncated_note(cut, "4 MiB")}
