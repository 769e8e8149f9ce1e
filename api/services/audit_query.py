"""Reading a case's audit trail: filters, and keyset pages on the chain's own order (seq)."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col, select

from api.dates import parse_instant
from api.errors import UnprocessableEntity
from api.pagination import check_limit, decode_cursor, encode_cursor, parse_int
from models.audit import AuditEvent
from models.case import Case
from models.evidence import EvidenceItem
from models.exhibit import Exhibit

Order = Literal["asc", "desc"]
MAX_ACTIONS = 50


@dataclass
class AuditFilter:
    actor_ids: list[uuid.UUID] = field(default_factory=list)
    actor_emails: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    object_id: str | None = None
    evidence_id: uuid.UUID | None = None
    start: datetime | None = None
    end: datetime | None = None
    order: Order = "asc"


def _instant(text: str | None, name: str) -> datetime | None:
    if text is None or not text.strip():
        return None
    try:
        return parse_instant(text, "UTC", field=name)  # the trail is kept in UTC: no offset means UTC
    except ValueError as exc:
        raise UnprocessableEntity(str(exc)) from None
    except OverflowError:  # e.g. 9999-12-31T23:59:59-05:00 is past the last representable instant
        raise UnprocessableEntity(f"{name}: {text[:100]!r} is out of range") from None


def _parse_seq(value) -> int:
    seq = parse_int(value)
    if not 0 <= seq < 2**63:
        raise ValueError("seq out of range")
    return seq


def parse_filter(
    *,
    actor: list[str] | None = None,
    action: list[str] | None = None,
    object_id: str | None = None,
    evidence_id: uuid.UUID | None = None,
    start: str | None = None,
    end: str | None = None,
    order: Order = "asc",
) -> AuditFilter:
    """Query parameters -> AuditFilter, with a 422 that names what is wrong.

    `actor` is a user id or an e-mail address. `action` is exact ("evidence.view"), or a prefix when it ends
    in "." or "*" ("evidence." and "evidence.*" both match every evidence action).
    """
    for name, values in (("actor", actor), ("action", action), ("object_id", [object_id] if object_id else [])):
        if any("\x00" in v for v in values or []):
            raise UnprocessableEntity(f"{name} must not contain NUL characters")
    f = AuditFilter(object_id=(object_id or "").strip() or None, evidence_id=evidence_id, order=order)
    for value in _split(actor):
        try:
            f.actor_ids.append(uuid.UUID(value))
        except ValueError:
            f.actor_emails.append(value.lower())
    actions = _split(action)
    if len(actions) > MAX_ACTIONS:
        raise UnprocessableEntity(f"action: at most {MAX_ACTIONS} values")
    for value in actions:
        if value.endswith("*") or value.endswith("."):
            prefix = value.rstrip("*")
            if not prefix:
                raise UnprocessableEntity("action: a prefix needs at least one character before '*'")
            f.prefixes.append(prefix)
        else:
            f.actions.append(value)
    f.start, f.end = _instant(start, "start"), _instant(end, "end")
    if f.start and f.end and f.start >= f.end:
        raise UnprocessableEntity("start must be before end (start is inclusive, end exclusive)")
    return f


def _split(values: list[str] | None) -> list[str]:
    """Repeated parameters, each of which may also hold a comma-separated list."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def _conditions(case: Case, f: AuditFilter) -> list[ColumnElement[bool]]:
    E = AuditEvent
    where: list[ColumnElement[bool]] = [col(E.case_id) == case.id]
    actors = ([col(E.actor_id).in_(f.actor_ids)] if f.actor_ids else []) + (
        [col(E.actor_email).in_(f.actor_emails)] if f.actor_emails else []
    )
    if actors:
        where.append(or_(*actors))
    # A prefix compares the leading characters exactly: LIKE would treat "_" as a wildcard and, on SQLite,
    # ignore case.
    actions = ([col(E.action).in_(f.actions)] if f.actions else []) + [
        func.substr(E.action, 1, len(p)) == p for p in f.prefixes
    ]
    if actions:
        where.append(or_(*actions))
    if f.object_id is not None:
        where.append(col(E.object_id) == f.object_id)
    if f.evidence_id is not None:
        where.append(col(E.evidence_id) == f.evidence_id)
    if f.start is not None:
        where.append(col(E.at) >= f.start)
    if f.end is not None:
        where.append(col(E.at) < f.end)
    return where


def page(
    session: Session, case: Case, f: AuditFilter, *, limit: int, cursor: str | None
) -> tuple[list[AuditEvent], str | None]:
    """One page of the case's events in chain order (or its reverse), and the cursor of the next page.

    The cursor is the last seq returned; it is bound to the order, so a cursor from an ascending walk is
    refused by a descending one instead of silently skipping events.
    """
    check_limit(limit)
    kind = f"audit-{f.order}"
    stmt = select(AuditEvent).where(*_conditions(case, f))
    if cursor:
        [after] = decode_cursor(cursor, kind, [_parse_seq])
        stmt = stmt.where(AuditEvent.seq > after if f.order == "asc" else AuditEvent.seq < after)
    key = col(AuditEvent.seq) if f.order == "asc" else col(AuditEvent.seq).desc()
    rows = list(session.exec(stmt.order_by(key).limit(limit + 1)).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(kind, [rows[-1].seq])
    return rows, next_cursor


@dataclass
class Subjects:
    """What a page of events is about, as it is now: evidence items by id (deleted ones too: rows are kept),
    and which exhibits are still in their case."""

    evidence: dict[uuid.UUID, EvidenceItem] = field(default_factory=dict)
    live_exhibits: set[str] = field(default_factory=set)


def subjects(session: Session, events: list[AuditEvent]) -> Subjects:
    """The evidence and exhibits `events` name, in two queries, so a reader of the trail can be shown (and sent
    to) what an event was about when it still exists."""
    evidence_ids = {e.evidence_id for e in events if e.evidence_id is not None}
    exhibit_ids = set()
    for e in events:
        if e.object_type == "exhibit" and e.object_id:
            try:
                exhibit_ids.add(uuid.UUID(e.object_id))
            except ValueError:
                continue
    found = Subjects()
    if evidence_ids:
        items = session.exec(select(EvidenceItem).where(col(EvidenceItem.id).in_(evidence_ids))).all()
        found.evidence = {item.id: item for item in items}
    if exhibit_ids:
        live = session.exec(select(Exhibit.id).where(col(Exhibit.id).in_(exhibit_ids))).all()
        found.live_exhibits = {str(exhibit_id) for exhibit_id in live}
    return found
