"""A search across every case the caller is a member of.

The engine finds the matching documents (engine.hits); each becomes a hit in every case of the caller's that holds
its subject: an item in the case it was uploaded into and in each case it is linked into as an exhibit (never once
deleted), an event in its case. Hits are ranked by the engine's score, then by document and case (a stable order),
and paged by an opaque cursor holding how many hits came before (a score moves when other documents are indexed,
which a cursor holding one would trip over). Nothing is counted: a page says only whether another follows.
"""

import hashlib
import html
import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from api import dates
from api.errors import BadRequest, NotFound, UnprocessableEntity
from api.pagination import check_limit, decode_cursor, encode_cursor, parse_int
from api.search import query, snippets
from api.services.search import engine, sql
from api.services.search.documents import Metadata, event_text
from models.case import Case, CaseMember
from models.evidence import EvidenceKind
from models.exhibit import Designation
from models.inputs import FILTER_VALUES_MAX, TAG_CHARS, text_problem
from models.search import SearchSource
from models.user import User

DEFAULT_LIMIT = 20
HIT_TYPES = ("evidence", "event")


@dataclass(frozen=True)
class SearchFilter:
    q: str
    kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    case_id: uuid.UUID | None = None
    start: str | None = None  # as written: read in each case's own timezone
    end: str | None = None  # inclusive: "2021-03" ends with March
    designation: str | None = None
    type: str | None = None

    @property
    def node(self) -> query.Node:
        return query.parse(self.q)

    def fingerprint(self) -> str:
        """Short hash of the search a cursor belongs to: a cursor from another search is refused."""
        raw = json.dumps(asdict(self), default=str, sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()[:12]


def _kinds(values: Sequence[str] | None) -> tuple[str, ...]:
    out = set()
    for value in values or ():
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            try:
                out.add(EvidenceKind(part).value)
            except ValueError:
                raise UnprocessableEntity(
                    f"kind: unknown value {part[:64]!r}; use one of " + ", ".join(k.value for k in EvidenceKind)
                ) from None
    return tuple(sorted(out))


def parse_filter(
    q: str | None,
    *,
    kind: Sequence[str] | None = None,
    tag: Sequence[str] | None = None,
    case_id: uuid.UUID | None = None,
    start: str | None = None,
    end: str | None = None,
    designation: Designation | None = None,
    type: str | None = None,
) -> SearchFilter:
    """Check the search's parameters (422 naming the one at fault); the query itself is read here too."""
    words = (q or "").strip()
    if not words:
        raise UnprocessableEntity('q is required: the words to search for, such as refund or "five star"')
    tags = tuple(sorted({t.strip() for t in tag or () if t.strip()}))
    for name, value in [("q", words), ("from", start or ""), ("to", end or "")] + [("tag", t) for t in tags]:
        if problem := text_problem(value):
            raise UnprocessableEntity(f"{name} {problem}")
    if len(tags) > FILTER_VALUES_MAX or any(len(t) > TAG_CHARS for t in tags):
        raise UnprocessableEntity(f"tag: at most {FILTER_VALUES_MAX} tags of at most {TAG_CHARS} characters")
    if type is not None and type not in HIT_TYPES:
        raise UnprocessableEntity("type must be evidence or event")
    for name, bound in (("from", start), ("to", end)):
        if bound:
            try:
                dates.parse_when(bound, "UTC")
            except ValueError as exc:
                raise UnprocessableEntity(f"{name}: {exc}") from None
    f = SearchFilter(
        q=words,
        kinds=_kinds(kind),
        tags=tags,
        case_id=case_id,
        start=start.strip() if start and start.strip() else None,
        end=end.strip() if end and end.strip() else None,
        designation=designation.value if designation is not None else None,
        type=type,
    )
    try:
        f.node  # noqa: B018 - read now, so a query that cannot be read is a 422 before anything is searched
    except query.QueryError as exc:
        raise UnprocessableEntity(f"q: {exc}") from None
    return f


def _bounds(session: Session, user: User, f: SearchFilter) -> sql.Bounds | None:
    """from/to as the start and end of what they name in each timezone of the caller's cases (of the case asked
    for): "2021-03" is March in each case's own timezone, as its timeline reads it; `to` includes what it names."""
    if not (f.start or f.end):
        return None
    zones = (
        select(col(Case.timezone))
        .join(CaseMember, col(CaseMember.case_id) == Case.id)
        .where(col(CaseMember.user_id) == user.id)
    )
    if f.case_id is not None:
        zones = zones.where(col(Case.id) == f.case_id)
    by_zone = {}
    for zone in sorted(set(session.execute(zones.distinct()).scalars())):
        start = dates.parse_when(f.start, zone).start if f.start else None
        end = dates.parse_when(f.end, zone).until if f.end else None
        if start is not None and end is not None and end <= start:
            raise UnprocessableEntity(f"to ({f.end}) is before from ({f.start}): both days are included")
        by_zone[zone] = (start, end)
    return sql.Bounds(by_zone)


def _part(text: str, start: int | None, end: int | None) -> str:
    return text if start is None else text[start:end]


def _hit(row, phrases: list[query.Phrase]) -> dict:
    """One row as the API shows it, with its snippet."""
    evidence = row.source != SearchSource.event
    if row.source == SearchSource.text:
        field, (snippet, _) = "text", snippets.render(_part(row.page_text or "", row.body_start, row.body_end), phrases)
    elif row.source == SearchSource.meta:
        field, snippet = _metadata_snippet(row, phrases)
    else:
        text = _part(event_text(row.event_title, row.event_description), row.body_start, row.body_end)
        field, (snippet, _) = "event", snippets.render(text, phrases)
    return {
        "type": "evidence" if evidence else "event",
        "evidence_id": row.evidence_id,
        "event_id": None if evidence else row.event_id,
        "exhibit_label": row.label,
        "title": row.item_title if evidence else row.event_title,
        "case": {"id": row.case_id, "title": row.case_title},
        "page": row.page if row.source == SearchSource.text else None,
        "field": field,
        "kind": row.item_kind if evidence else row.event_kind,
        "snippet": snippet,
    }


def _metadata_snippet(row, phrases: list[query.Phrase]) -> tuple[str, str]:
    """(field, snippet) of the part of the item's metadata with the most hits: its title, description or facts."""
    meta = Metadata.of(row.item_title, row.item_description, row.item_facts)
    lo, hi = row.body_start or 0, row.body_end if row.body_end is not None else len(meta.text)
    best: tuple[str, str, int] | None = None
    for name, start, end in meta.fields:
        start, end = max(start, lo), min(end, hi)
        if start < end:
            snippet, marked = snippets.render(meta.text[start:end], phrases)
            if best is None or marked > best[2]:
                best = (name, snippet, marked)
    return (best[0], best[1]) if best else ("title", html.escape(row.item_title, quote=False))


def search(
    session: Session, user: User, f: SearchFilter, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
) -> tuple[list[dict], str | None]:
    """A page of hits, best first, and the cursor of the next page (None on the last). 404 for a case_id the
    caller is not a member of, as for a missing case."""
    check_limit(limit)
    kind = f"search-{f.fingerprint()}"
    offset = decode_cursor(cursor, kind, [parse_int])[0] if cursor else 0
    if offset < 0:
        raise BadRequest("invalid cursor: pass back the next_cursor of a previous page of this list")
    if f.case_id is not None and session.get(CaseMember, (f.case_id, user.id)) is None:
        raise NotFound("case not found")
    memberships = select(col(CaseMember.case_id)).where(col(CaseMember.user_id) == user.id).limit(1)
    if f.case_id is None and session.execute(memberships).first() is None:
        return [], None  # a member of no case finds nothing, without asking the engine
    node, bounds, on_postgres = f.node, _bounds(session, user, f), engine.postgres(session)
    shape = sql.Shape(
        postgres=on_postgres,
        evidence=f.type in (None, "evidence"),
        events=f.type in (None, "event"),
        case=f.case_id is not None,
        kinds=bool(f.kinds),
        tags=len(f.tags),
        designation=f.designation is not None,
        starts=len(bounds.given(0)) if bounds else 0,
        ends=len(bounds.given(1)) if bounds else 0,
    )
    values = sql.values(
        postgres=on_postgres,
        match=engine.match_text(session, node),
        user_id=user.id,
        case_id=f.case_id,
        kinds=f.kinds,
        tags=f.tags,
        designation=f.designation,
        bounds=bounds,
        offset=offset,
        limit=limit,
    )
    rows = session.execute(sql.statement(shape), values).all()
    phrases = query.positives(node)
    items = [_hit(row, phrases) for row in rows[:limit]]
    return items, encode_cursor(kind, [offset + limit]) if len(rows) > limit else None
