"""The SQL of a search page. Its structure depends only on which filters are present (the `Shape`), never on their
values, which are named bind parameters (`values`), so each structure is built once and compiled once: building
this statement anew cost a search ten times what running it did.

One SELECT per way a document is a hit in a case, joined by UNION ALL: an item in the case it was uploaded into;
an item in each other case it is linked into as an exhibit; an event in its case. Each keeps only cases the caller
is a member of and live (undeleted) items. The page is cut from their union first, in the engine's rank order, and
only its rows are then joined to what a hit shows (titles, the page's text).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import JSONB

from api.services.search import engine
from api.services.timeline.filter import tag_key
from models.case import Case, CaseMember
from models.common import UTCDateTime
from models.evidence import EvidenceItem
from models.exhibit import Designation, Exhibit
from models.text import EvidenceTextPage
from models.timeline import TimelineEvent, TimelineEventTag


def _table(model) -> Table:
    return model.metadata.tables[model.__tablename__]


CASES, MEMBERS, ITEMS, EXHIBITS = _table(Case), _table(CaseMember), _table(EvidenceItem), _table(Exhibit)
EVENTS, TAGS, PAGES = _table(TimelineEvent), _table(TimelineEventTag), _table(EvidenceTextPage)
NONE = Designation.none.value


@dataclass(frozen=True)
class Shape:
    postgres: bool
    evidence: bool  # items are hits (the type filter allows them)
    events: bool
    case: bool  # a case_id filter
    kinds: bool
    tags: int  # how many tags
    designation: bool
    starts: int  # zones the start bound is given for (0: no start), as `values` binds them
    ends: int


@dataclass(frozen=True)
class Bounds:
    """A date range in each timezone of the caller's cases: (start, end) by zone name, UTC, end exclusive."""

    by_zone: dict[str, tuple[datetime | None, datetime | None]]

    def given(self, which: int) -> list[tuple[str, datetime]]:
        """(zone, bound) of each zone with a start (which=0) or end (1) bound."""
        out = []
        for zone, bounds in sorted(self.by_zone.items()):
            if (bound := bounds[which]) is not None:
                out.append((zone, bound))
        return out


def _bound(zone, which: str, count: int) -> ColumnElement | None:
    """The `which` bound ("start", "end") in the timezone `zone` names: one value, or one per zone."""
    if count == 0:
        return None
    if count == 1:
        return bindparam(f"{which}_0", type_=UTCDateTime())
    return case(
        *(
            (zone == bindparam(f"{which}_zone_{n}"), bindparam(f"{which}_{n}", type_=UTCDateTime()))
            for n in range(count)
        )
    )


def _zone(case_id) -> ColumnElement:
    return select(CASES.c.timezone).where(CASES.c.id == case_id).scalar_subquery()


def _member(case_id) -> ColumnElement[bool]:
    """The caller is a member of the case: a lookup of the membership's primary key for each hit. OFFSET 0 keeps
    PostgreSQL from turning it into a join, which it would drive from the memberships, reading every item of the
    caller's cases to find the few hits among them."""
    m = MEMBERS.alias()
    return exists(
        select(literal(1)).where(m.c.case_id == case_id, m.c.user_id == bindparam("user_id")).offset(literal(0))
    )


def _has_tag(postgres: bool, n: int) -> ColumnElement[bool]:
    """The item's tags (a JSON list) include the n-th tag of the filter."""
    if postgres:
        return sql_cast(ITEMS.c.tags, JSONB).contains(bindparam(f"tag_{n}", type_=JSONB))
    value = func.json_each(ITEMS.c.tags).table_valued("value")
    return exists(select(literal(1)).select_from(value).where(value.c.value == bindparam(f"tag_{n}")))


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


def _dated(zone, shape: Shape) -> ColumnElement[bool]:
    """The item's date, occurred_at or else captured_at, in the range. Written on the two columns rather than on
    coalesce() of them, which the planner has no statistics for: it guessed such a range held 1 item in 200 and
    hashed every item of the kind asked for rather than look up the few hits."""
    start, end = _bound(zone, "start", shape.starts), _bound(zone, "end", shape.ends)

    def within(column) -> list:
        return ([column >= start] if start is not None else []) + ([column < end] if end is not None else [])

    occurred, captured = ITEMS.c.occurred_at, ITEMS.c.captured_at
    return or_(and_(*within(occurred)), and_(occurred.is_(None), *within(captured)))


def _evidence(shape: Shape, matches) -> list[Select]:
    def where(case_id, designation) -> list:
        out = [ITEMS.c.deleted_at.is_(None), _member(case_id)]
        if shape.case:
            out.append(case_id == bindparam("case_id"))
        if shape.kinds:
            out.append(ITEMS.c.kind.in_(bindparam("kinds", expanding=True)))
        if shape.tags:
            out.append(or_(*[_has_tag(shape.postgres, n) for n in range(shape.tags)]))
        if shape.designation:
            out.append(designation == bindparam("designation"))
        if shape.starts or shape.ends:
            out.append(_dated(_zone(case_id), shape))
        return out

    home, linked = EXHIBITS.alias("home"), EXHIBITS.alias("linked")
    home_hits, linked_hits = matches(), matches()
    in_home = home_hits.join(ITEMS, ITEMS.c.id == home_hits.c.evidence_id).outerjoin(
        home, and_(home.c.case_id == ITEMS.c.case_id, home.c.evidence_id == ITEMS.c.id)
    )
    in_linked = linked_hits.join(ITEMS, ITEMS.c.id == linked_hits.c.evidence_id).join(
        linked, and_(linked.c.evidence_id == ITEMS.c.id, linked.c.case_id != ITEMS.c.case_id)
    )
    return [
        select(*_columns(home_hits, ITEMS.c.case_id, ITEMS.c.id, home.c.label))
        .select_from(in_home)
        .where(*where(ITEMS.c.case_id, func.coalesce(home.c.designation, NONE))),
        select(*_columns(linked_hits, linked.c.case_id, ITEMS.c.id, linked.c.label))
        .select_from(in_linked)
        .where(*where(linked.c.case_id, linked.c.designation)),
    ]


def _events(shape: Shape, hits) -> Select:
    """The evidence filters (kind, designation) ask about the evidence an event cites; its tags and its span
    (which overlaps the range) are its own."""
    cited = EXHIBITS.alias("cited")
    where: list = [_member(EVENTS.c.case_id)]
    if shape.case:
        where.append(EVENTS.c.case_id == bindparam("case_id"))
    if shape.kinds:
        item = ITEMS.alias("cited_item")
        where.append(
            exists().where(item.c.id == EVENTS.c.evidence_id, item.c.kind.in_(bindparam("kinds", expanding=True)))
        )
    if shape.tags:
        where.append(
            exists().where(TAGS.c.event_id == EVENTS.c.id, TAGS.c.tag_key.in_(bindparam("tag_keys", expanding=True)))
        )
    if shape.designation:
        where.append(func.coalesce(cited.c.designation, NONE) == bindparam("designation"))
    zone = _zone(EVENTS.c.case_id)
    if (start := _bound(zone, "start", shape.starts)) is not None:
        where.append(EVENTS.c.occurred_until > start)
    if (end := _bound(zone, "end", shape.ends)) is not None:
        where.append(EVENTS.c.occurred_at < end)
    joined = hits.join(EVENTS, EVENTS.c.id == hits.c.event_id).outerjoin(
        cited, and_(cited.c.case_id == EVENTS.c.case_id, cited.c.evidence_id == EVENTS.c.evidence_id)
    )
    return (
        select(*_columns(hits, EVENTS.c.case_id, EVENTS.c.evidence_id, cited.c.label)).select_from(joined).where(*where)
    )


def _hits(shape: Shape):
    """The matching documents, for each branch: on PostgreSQL one CTE they share, materialized, as the engine ranks
    every match once; on SQLite each branch's own match, inlined. A CTE SQLite materializes for several branches
    is one it cannot size, so it guesses it large and builds a Bloom filter of every item and exhibit for the joins
    after it: 70 ms a search at 200,000 documents, whatever the hits."""
    if shape.postgres:
        shared = engine.hits(True).cte("hits")
        return lambda: shared
    return lambda: engine.hits(False).subquery()


@lru_cache(maxsize=512)
def statement(shape: Shape) -> Select:
    """A page of hits of this shape, best first: `limit` rows from `offset` on, with what each shows."""
    hits = _hits(shape)
    branches = (_evidence(shape, hits) if shape.evidence else []) + ([_events(shape, hits())] if shape.events else [])
    found = union_all(*branches).subquery("found")
    page = (
        select(found)
        .order_by(found.c.score, found.c.doc_id, found.c.case_id)
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
        .subquery("page")
    )
    return (
        select(
            page,
            CASES.c.title.label("case_title"),
            ITEMS.c.title.label("item_title"),
            ITEMS.c.kind.label("item_kind"),
            ITEMS.c.description.label("item_description"),
            ITEMS.c.facts.label("item_facts"),
            EVENTS.c.title.label("event_title"),
            EVENTS.c.description.label("event_description"),
            EVENTS.c.kind.label("event_kind"),
            PAGES.c.text.label("page_text"),
        )
        .select_from(
            page.join(CASES, CASES.c.id == page.c.case_id)
            .outerjoin(ITEMS, ITEMS.c.id == page.c.evidence_id)
            .outerjoin(EVENTS, EVENTS.c.id == page.c.event_id)
            .outerjoin(PAGES, and_(PAGES.c.evidence_id == page.c.evidence_id, PAGES.c.page == page.c.page))
        )
        .order_by(page.c.score, page.c.doc_id, page.c.case_id)
    )


def values(
    *,
    postgres: bool,
    match: str,
    user_id: uuid.UUID,
    case_id: uuid.UUID | None,
    kinds: tuple[str, ...],
    tags: tuple[str, ...],
    designation: str | None,
    bounds: Bounds | None,
    offset: int,
    limit: int,
) -> dict:
    """The bind parameters of `statement`: `limit` + 1 rows are asked for, to know whether another page follows."""
    out: dict = {"match": match, "user_id": user_id, "offset": offset, "limit": limit + 1}
    out |= {"case_id": case_id, "kinds": list(kinds), "designation": designation}
    out |= {f"tag_{n}": [t] if postgres else t for n, t in enumerate(tags)}  # JSONB @> a list; json_each's values
    out["tag_keys"] = [tag_key(t) for t in tags]
    for which, index in (("start", 0), ("end", 1)):
        for n, (zone, value) in enumerate(bounds.given(index) if bounds else []):
            out |= {f"{which}_zone_{n}": zone, f"{which}_{n}": value}
    return out
