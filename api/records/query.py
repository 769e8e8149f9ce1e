"""Finding records: by canonical field value (a key field through its indexed column, any other through the
fields), by words anywhere in the line (`q`), by time (`from` inclusive, `to` exclusive; without an offset in the
case's timezone), in row order, a page at a time. A filter's value is read as the import reads the file's (an
e-mail in any case, a phone in any notation, `Refund` for refund), so it finds what the import stored."""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import String, cast, text
from sqlmodel import Session, col, select

from api.config import get_settings
from api.dates import parse_instant
from api.errors import UnprocessableEntity
from api.pagination import in_batches, keyset_page, parse_int
from api.records import load
from api.records.fields import Converter, Mapping, RowProblem
from models.record_set import CANONICAL, KEY_COLUMNS, KEYS, TIME_FIELDS, Record, RecordFormat, RecordSet

VALUE_CHARS = 1000
Q_CHARS = 500


@dataclass(frozen=True)
class Filter:
    fields: dict[str, str]
    q: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.fields)
        if self.q:
            out["q"] = self.q
        if self.start:
            out["from"] = self.start.isoformat()
        if self.end:
            out["to"] = self.end.isoformat()
        return out


def fields_of(record_set: RecordSet) -> tuple[str, ...]:
    return CANONICAL[record_set.role] or tuple(record_set.mapping.values())


def parse_filter(record_set: RecordSet, sent: dict[str, str], *, timezone: str) -> Filter:
    """A filter from {field: value} (query parameters, or an extract's body), with `q`, `from` and `to`; 422
    naming a field the record set's role does not have or a value that cannot be one."""
    converter = Converter(
        Mapping.of(record_set.mapping, record_set.role, record_set.format), timezone=timezone,
        phone_region=get_settings().records_phone_region, date_order=record_set.date_order,
    )  # fmt: skip
    allowed = fields_of(record_set)
    fields, q, start, end = {}, None, None, None
    for name, value in sent.items():
        if not isinstance(value, str) or len(value) > VALUE_CHARS or "\x00" in value:
            raise UnprocessableEntity(f"{name}: a text of at most {VALUE_CHARS} characters, without NUL")
        if name == "q":
            q = value.strip()[:Q_CHARS] or None
        elif name in ("from", "to"):
            try:
                instant = parse_instant(value, timezone, field=name)
            except ValueError as exc:
                raise UnprocessableEntity(str(exc)) from None
            start, end = (instant, end) if name == "from" else (start, instant)
        elif name not in allowed:
            raise UnprocessableEntity(
                f"{name[:60]!r} is not a field of {record_set.role} records; filter by "
                f"{', '.join(allowed)}, q, from or to"
            )
        elif name in TIME_FIELDS:
            raise UnprocessableEntity(f"{name}: filter times with from and to")
        else:
            try:
                fields[name] = str(converter.canonical(name, value))
            except RowProblem as exc:
                raise UnprocessableEntity(str(exc)) from None
    return Filter(fields, q, start, end)


def _statement(session: Session, record_set: RecordSet, wanted: Filter):
    # The set as a literal: the planner then knows which of the set's own indexes cover the lookup.
    stmt = select(Record).where(text(load.set_clause(record_set.id, session.get_bind().dialect.name)))
    keys = KEYS[record_set.role]
    for name, value in wanted.fields.items():
        if name in keys:
            stmt = stmt.where(getattr(Record, KEY_COLUMNS[keys.index(name)]) == value)
        else:
            stmt = stmt.where(cast(col(Record.fields)[name].as_string(), String) == value)
    if wanted.q:
        stmt = stmt.where(col(Record.source_line).icontains(wanted.q, autoescape=True))
    if wanted.start:
        stmt = stmt.where(col(Record.at) >= wanted.start)
    if wanted.end:
        stmt = stmt.where(col(Record.at) < wanted.end)
    return stmt


def page(session: Session, record_set: RecordSet, wanted: Filter, *, limit: int, cursor: str | None):
    return keyset_page(
        session,
        _statement(session, record_set, wanted),
        kind="records",
        columns=[Record.row],
        parsers=[parse_int],
        key=lambda r: (r.row,),
        limit=limit,
        cursor=cursor,
    )


def every(session: Session, record_set: RecordSet, wanted: Filter, *, batch: int = 2000) -> Iterator[Record]:
    """Every matching record in row order, a batch at a time."""
    return in_batches(session, _statement(session, record_set, wanted), col(Record.row), size=batch)


def get(session: Session, record_set: RecordSet, row: int) -> Record | None:
    return session.get(Record, (record_set.id, row))


def unmapped(record_set: RecordSet, record: Record) -> dict[str, Any]:
    """The line's fields that the mapping does not take, as they are in the file."""
    mapping = Mapping.of(record_set.mapping, record_set.role, record_set.format)
    if record_set.format == RecordFormat.csv:
        cells = next(csv.reader(io.StringIO(record.source_line)), [])
        values: dict[str, Any] = {}
        for name, cell in zip(record_set.columns, cells, strict=False):
            values.setdefault(name, cell)
        return mapping.unmapped(values)
    try:
        value = orjson.loads(record.source_line)
    except orjson.JSONDecodeError:
        return {}
    return mapping.unmapped(value) if isinstance(value, dict) else {}


def citation(label: str, row: int) -> str:
    return f"{label}, record {row:,}"
