"""Keyset pagination with opaque cursors; one implementation for every list endpoint."""

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import literal, tuple_
from sqlalchemy.sql import Select

from api.errors import BadRequest, UnprocessableEntity
from models.safe_json import load_json

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def _encode_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def encode_cursor(kind: str, values: Sequence[Any]) -> str:
    raw = json.dumps([kind, *map(_encode_value, values)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, kind: str, parsers: Sequence[Callable[[Any], Any]]) -> list[Any]:
    """Decode a cursor made by encode_cursor for the same list; anything else (a forged one with numbers no
    column holds, say) is a 400."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = load_json(raw)
        if not isinstance(data, list) or data[0] != kind or len(data) != len(parsers) + 1:
            raise ValueError
        return [parse(v) for parse, v in zip(parsers, data[1:], strict=True)]
    except (ValueError, TypeError, IndexError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("invalid cursor: pass back the next_cursor of a previous page of this list") from None


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise UnprocessableEntity(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def keyset_page(
    session,
    stmt: Select,
    *,
    kind: str,
    columns: Sequence[Any],
    parsers: Sequence[Callable[[Any], Any]],
    key: Callable[[Any], Sequence[Any]],
    limit: int,
    cursor: str | None,
    descending: bool = False,
) -> tuple[list[Any], str | None]:
    """Run `stmt` ordered by `columns` ascending (or all descending: newest first), starting after `cursor`;
    return rows and the next cursor."""
    check_limit(limit)
    if cursor:
        after = decode_cursor(cursor, kind, parsers)
        # Bind each value with its column's type, so SQLite compares stored forms (UTC datetimes, UUIDs).
        bound = tuple_(*(literal(v, c.type) for c, v in zip(columns, after, strict=True)))
        stmt = stmt.where(tuple_(*columns) < bound if descending else tuple_(*columns) > bound)
    order = [c.desc() for c in columns] if descending else columns
    rows = list(session.exec(stmt.order_by(*order).limit(limit + 1)).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(kind, key(rows[-1]))
    return rows, next_cursor


def in_batches(session, stmt: Select, column: Any, *, size: int = 1000) -> Iterator[Any]:
    """Every row of `stmt` (an ORM select of one entity) in the order of its integer `column`, a batch of `size` at
    a time: a listing as long as it likes, with no cursor held open between batches."""
    after = 0
    while True:
        batch = list(session.scalars(stmt.where(column > after).order_by(column).limit(size)))
        yield from batch
        if len(batch) < size:
            return
        after = getattr(batch[-1], column.key)


def parse_uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))


def parse_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("not an int")
    return value


def parse_datetime(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))
