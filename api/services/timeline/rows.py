"""One imported row -> one event, or the list of what is wrong with it (row, column, message).

Columns: occurred_at, title, kind, description, tags, evidence_id, and optionally precision, page, disputed.
Timesketch's message, datetime (or timestamp, microseconds since the epoch) and timestamp_desc stand in for
title, occurred_at and description. Other columns (including those a CSV export adds) are ignored.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api import dates
from api.services.timeline.events import clean_tags, clean_text
from models.inputs import PAGE_MAX
from models.timeline import MAX_TEXT, EventKind, Precision

ALIASES = {
    "occurred_at": ("occurred_at", "datetime", "timestamp"),
    "title": ("title", "message"),
    "description": ("description", "timestamp_desc"),
    "tags": ("tags", "tag"),
}
REQUIRED = ("occurred_at", "title")
_TRUE, _FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0", ""}
# Exports put a ' before text starting with these so spreadsheets show it rather than run it; undo that.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class FieldError:
    row: int
    column: str | None
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}


def header_problems(header: list[str]) -> list[FieldError]:
    """What is wrong with a CSV header: a required column missing, a name given twice."""
    problems = []
    for name in dict.fromkeys(h for h in header if h and header.count(h) > 1):
        problems.append(FieldError(1, name, f"the header names column {name!r} more than once"))
    for name in REQUIRED:
        if not any(alias in header for alias in ALIASES[name]):
            also = " or ".join(a for a in ALIASES[name] if a != name)
            problems.append(FieldError(1, name, f"the header has no {name} column (or Timesketch's {also})"))
    return problems


def _pick(values: dict, name: str) -> tuple[str, object]:
    """(column used, value) for a field, taking the first alias that has a value."""
    for alias in ALIASES.get(name, (name,)):
        value = values.get(alias)
        if value not in (None, ""):
            return alias, value
    return name, None


def unescape_formula(text: str) -> str:
    return text[1:] if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_START else text


def _when(column: str, value, tz: str, precision: Precision | None) -> dates.Span:
    if column == "timestamp":  # Timesketch: microseconds since the epoch, UTC
        try:
            micros = int(str(value).strip())
            start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
        except (ValueError, OverflowError):
            raise ValueError(f"{str(value)[:64]!r} is not a count of microseconds since 1970") from None
        return dates.parse_when(start.isoformat(), tz, precision)
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date or datetime written as a string")
    return dates.parse_when(value, tz, precision)


def normalize_row(values: dict, row: int, tz: str) -> tuple[dict | None, list[FieldError]]:
    """Check one row; returns (event fields ready to store, []) or (None, its errors)."""
    errors: list[FieldError] = []

    def fail(column: str, message: str) -> None:
        errors.append(FieldError(row, column, message))

    for column, value in values.items():
        if isinstance(value, str) and len(value) > MAX_TEXT:
            fail(column, f"is {len(value):,} characters long; a field may hold at most {MAX_TEXT:,}")
    if errors:
        return None, errors
    out: dict = {}
    precision = None
    _, raw_precision = _pick(values, "precision")
    if raw_precision is not None:
        try:
            precision = Precision(str(raw_precision).strip().lower())
        except ValueError:
            fail("precision", f"unknown precision {str(raw_precision)[:40]!r}; use year, month, day, minute or second")
    column, value = _pick(values, "occurred_at")
    if value is None:
        fail("occurred_at", "is required (or Timesketch's datetime or timestamp)")
    elif raw_precision is None or precision is not None:
        try:
            span = _when(column, value, tz, precision)
            out |= {"occurred_at": span.start, "occurred_until": span.until, "precision": span.precision.value}
        except ValueError as exc:
            fail(column, str(exc))
    for name in ("title", "description"):
        column, value = _pick(values, name)
        if value is not None and not isinstance(value, str):
            value = json.dumps(value) if isinstance(value, list | dict) else str(value)
        try:
            out[name] = clean_text(unescape_formula(value) if value else None, name, required=name == "title")
        except ValueError as exc:
            fail(column, str(exc) + (" (or Timesketch's message)" if name == "title" else ""))
    _, kind = _pick(values, "kind")
    try:
        out["kind"] = EventKind(str(kind).strip().lower()).value if kind is not None else EventKind.other.value
    except ValueError:
        fail("kind", f"unknown kind {str(kind)[:40]!r}; use one of " + ", ".join(k.value for k in EventKind))
    column, tags = _pick(values, "tags")
    try:
        if isinstance(tags, str):
            tags = unescape_formula(tags.strip())
            tags = json.loads(tags) if tags.startswith("[") else tags.split(",")
        if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
            raise ValueError("tags must be a list of strings, or text separated by commas")
        out["tags"] = clean_tags(tags or [])
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        fail(column, str(exc) if "tags" in str(exc) else f"is not a JSON list of strings ({exc})")
    _, evidence_id = _pick(values, "evidence_id")
    try:
        out["evidence_id"] = str(uuid.UUID(str(evidence_id).strip())) if evidence_id is not None else None
    except ValueError:
        fail("evidence_id", f"{str(evidence_id)[:64]!r} is not an evidence id (a UUID)")
    _, page = _pick(values, "page")
    try:
        out["page"] = int(str(page).strip()) if page is not None else None
        if out["page"] is not None and not 1 <= out["page"] <= PAGE_MAX:
            raise ValueError
    except ValueError:
        fail("page", f"{str(page)[:20]!r} is not a page number (1 to {PAGE_MAX:,})")
    if out.get("page") is not None and evidence_id is None:
        fail("page", "a page needs evidence_id")
    _, disputed = _pick(values, "disputed")
    flag = str(disputed).strip().lower() if disputed is not None else ""
    if flag in _TRUE | _FALSE:
        out["disputed"] = flag in _TRUE
    else:
        fail("disputed", f"{str(disputed)[:20]!r} is not true or false")
    return (None, errors) if errors else (out, [])
