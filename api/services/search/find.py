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
from datetime import datetime

from sqlalchemy import ColumnElement, and_, bindparam, case, exists, func, or_, select, union_all
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from api import dates
from api.errors import BadRequest, NotFound, UnprocessableEntity
from api.pagination import check_limit, decode_cursor, encode_cursor, parse_int
from api.search import query, snippets
from api.services.exhibits import has_tag
from api.services.search import engine
from api.services.search.documents import Metadata, event_text
from api.services.timeline.filter import tag_key
from models.case import Case, CaseMember
from models.common import UTCDateTime
from models.evidence import EvidenceItem, EvidenceKind
from models.exhibit import Designation, Exhibit
from models.inputs import FILTER_VALUES_MAX, TAG_CHARS, text_problem
from models.search import SearchSource
from models.text import EvidenceTextPage
from models.timeline import TimelineEvent, TimelineEventTag
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


@dataclass(frozen=True)
class _Bounds:
    """The range from/to names in each timezone of the caller's cases: (start, end) by zone, UTC, end exclusive.
    "2021-03" is March in each case's own timezone, as the case's timeline reads it."""

    by_zone: dict[str, tuple[datetime | None, datetime | None]]

    def _bound(self, zone, which: int):
        values = [(z, b[which]) for z, b in sorted(self.by_zone.items()) if b[which] is not None]
        if not values:
            return None
        params = [(z, bindparam(f"bound_{which}_{n}", v, type_=UTCDateTime())) for n, (z, v) in enumerate(values)]
        if len(params) == 1:
            return params[0][1]
        return case(*((zone == z, p) for z, p in params), else_=None)

    def start(self, zone):
        return self._bound(zone, 0)

    def end(self, zone):
        return self._bound(zone, 1)


def _bounds(session: Session, user: User, f: SearchFilter) -> _Bounds | None:
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
    return _Bounds(by_zone)


def _zone(case_id):
    return select(col(Case.timezone)).where(col(Case.id) == case_id).scalar_subquery()


def _member(user: User, case_id) -> ColumnElement[bool]:
    m = aliased(CaseMember)
    return exists().where(col(m.case_id) == case_id, col(m.user_id) == user.id)


def _columns(hits, case_id, evidence_id, label) -> tuple:
    return (
        hits.c.doc_id,
        hits.c.score,
        case_id.label("case_id"),
        evidence_id.label("evidence_id"),
        hits.c.event_id,
        hits.c.source,
        hits.c.page,
        hits.c.body_start,
        hits.c.body_end,
        label.label("label"),
    )


def _evidence_branches(session: Session, hits, user: User, f: SearchFilter, bounds: _Bounds | None) -> list:
    """An item is a hit in the case it was uploaded into, and in every case it is linked into as an exhibit."""
    E = EvidenceItem

    def where(case_id, designation) -> list:
        out = [col(E.deleted_at).is_(None), _member(user, case_id)]
        if f.case_id is not None:
            out.append(case_id == f.case_id)
        if f.kinds:
            out.append(col(E.kind).in_(f.kinds))
        if f.tags:
            out.append(or_(*[has_tag(session, t) for t in f.tags]))
        if f.designation is not None:
            out.append(designation == f.designation)
        if bounds is not None:
            when, zone = func.coalesce(E.occurred_at, E.captured_at), _zone(case_id)
            out += [when >= b for b in [bounds.start(zone)] if b is not None]
            out += [when < b for b in [bounds.end(zone)] if b is not None]
        return out

    home, linked = aliased(Exhibit), aliased(Exhibit)
    in_home = hits.join(E, col(E.id) == hits.c.evidence_id).outerjoin(
        home, and_(col(home.case_id) == E.case_id, col(home.evidence_id) == E.id)
    )
    in_linked = hits.join(E, col(E.id) == hits.c.evidence_id).join(
        linked, and_(col(linked.evidence_id) == E.id, col(linked.case_id) != E.case_id)
    )
    return [
        select(*_columns(hits, col(E.case_id), col(E.id), col(home.label)))
        .select_from(in_home)
        .where(*where(col(E.case_id), func.coalesce(home.designation, Designation.none.value))),
        select(*_columns(hits, col(linked.case_id), col(E.id), col(linked.label)))
        .select_from(in_linked)
        .where(*where(col(linked.case_id), col(linked.designation))),
    ]


def _event_branch(hits, user: User, f: SearchFilter, bounds: _Bounds | None):
    """An event is a hit in its case. The evidence filters (kind, designation) ask about the evidence it cites; its
    own tags and its span (overlapping from/to) are its own."""
    V, cited = TimelineEvent, aliased(Exhibit)
    where: list = [_member(user, col(V.case_id))]
    if f.case_id is not None:
        where.append(col(V.case_id) == f.case_id)
    if f.kinds:
        item = aliased(EvidenceItem)
        where.append(exists().where(col(item.id) == V.evidence_id, col(item.kind).in_(f.kinds)))
    if f.tags:
        T = TimelineEventTag
        where.append(exists().where(col(T.event_id) == V.id, col(T.tag_key).in_([tag_key(t) for t in f.tags])))
    if f.designation is not None:
        where.append(func.coalesce(cited.designation, Designation.none.value) == f.designation)
    if bounds is not None:
        zone = _zone(col(V.case_id))
        where += [col(V.occurred_until) > b for b in [bounds.start(zone)] if b is not None]
        where += [col(V.occurred_at) < b for b in [bounds.end(zone)] if b is not None]
    joined = hits.join(V, col(V.id) == hits.c.event_id).outerjoin(
        cited, and_(col(cited.case_id) == V.case_id, col(cited.evidence_id) == V.evidence_id)
    )
    return (
        select(*_columns(hits, col(V.case_id), col(V.evidence_id), col(cited.label))).select_from(joined).where(*where)
    )


def _statement(session: Session, user: User, f: SearchFilter, bounds: _Bounds | None, offset: int, limit: int):
    hits = engine.hits(session).cte("hits")
    branches = []
    if f.type in (None, "evidence"):
        branches += _evidence_branches(session, hits, user, f, bounds)
    if f.type in (None, "event"):
        branches.append(_event_branch(hits, user, f, bounds))
    found = union_all(*branches).subquery("found")
    order = (found.c.score, found.c.doc_id, found.c.case_id)
    # The page is cut first, and only its rows are joined to what a hit shows (titles, the page's text).
    page = select(found).order_by(*order).offset(offset).limit(limit + 1).subquery("page")
    P = EvidenceTextPage
    return (
        select(
            page,
            col(Case.title).label("case_title"),
            col(EvidenceItem.title).label("item_title"),
            col(EvidenceItem.kind).label("item_kind"),
            col(EvidenceItem.description).label("item_description"),
            col(EvidenceItem.facts).label("item_facts"),
            col(TimelineEvent.title).label("event_title"),
            col(TimelineEvent.description).label("event_description"),
            col(TimelineEvent.kind).label("event_kind"),
            col(P.text).label("page_text"),
        )
        .select_from(
            page.join(Case, col(Case.id) == page.c.case_id)
            .outerjoin(EvidenceItem, col(EvidenceItem.id) == page.c.evidence_id)
            .outerjoin(TimelineEvent, col(TimelineEvent.id) == page.c.event_id)
            .outerjoin(P, and_(col(P.evidence_id) == page.c.evidence_id, col(P.page) == page.c.page))
        )
        .order_by(page.c.score, page.c.doc_id, page.c.case_id)
    )


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
    node = f.node
    statement = _statement(session, user, f, _bounds(session, user, f), offset, limit)
    rows = session.execute(statement, {"match": engine.match_text(session, node)}).all()
    phrases = query.positives(node)
    items = [_hit(row, phrases) for row in rows[:limit]]
    return items, encode_cursor(kind, [offset + limit]) if len(rows) > limit else None
