"""Timeline filters: query parameters checked into a TimelineFilter, and the SQL conditions for it.

The conditions use named bind parameters only, never values, so a statement's structure depends on which
filters are present, not on their values, and each structure is built and compiled once (timeline.query).

An event with a coarse precision matches a range its span overlaps, so a range [start, end) is two groups:
- straddling events began before `start` and their span reaches past it. Each precision can only start
  so long before (MAX_SPAN), so these are one short range of the (case_id, precision, occurred_at) index
  per precision, each its own SELECT: asked for all precisions at once (an OR), SQLite walked every event
  before `start` instead;
- the body, start <= occurred_at < end, read in time order through a driving index (see DRIVERS): a tag's
  rows of timeline_event_tags, a kind's or the disputed flag's range of their index, else the time index.
  Whatever the filter, a page reads about as many index entries as it returns, not every event between.
Every straddling event sorts before every body event.
"""

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BindParameter, ColumnElement, bindparam, exists, func, or_
from sqlmodel import col

from api import dates
from api.errors import UnprocessableEntity
from api.services.timeline.sql import unindexed
from models.case import Case
from models.evidence import EvidenceItem, EvidenceKind
from models.inputs import FILTER_VALUES_MAX, SEARCH_CHARS, TAG_CHARS, text_problem
from models.timeline import EventKind, TimelineEvent, TimelineEventTag

E, T = TimelineEvent, TimelineEventTag
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class TimelineFilter:
    start: datetime | None = None
    end: datetime | None = None
    kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    evidence_kinds: tuple[str, ...] = ()
    disputed: bool | None = None
    q: str | None = None
    order: str = "asc"
    texts: dict = field(default_factory=dict, compare=False)  # start/end as given, for captions

    def fingerprint(self) -> str:
        """Short hash of the query a cursor belongs to: a cursor from another filter or order is refused."""
        # The fields as they are (asdict's deep copy cost more than the rest of the hash).
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "texts"}
        raw = json.dumps(values, default=str, sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()[:12]

    def described(self) -> dict:
        """The filters in force as the caller wrote them (start and end as given), for the audit trail."""
        values = {
            "start": self.texts.get("start") if self.start else None,
            "end": self.texts.get("end") if self.end else None,
            "kind": list(self.kinds),
            "tag": list(self.tags),
            "evidence_kind": list(self.evidence_kinds),
            "disputed": self.disputed,
            "q": self.q,
        }
        return {k: v for k, v in values.items() if v not in (None, [])} | {"order": self.order}

    def structure(self) -> tuple:
        """What the SQL depends on: which filters are present (and how many tags and kinds), not their values."""
        present = (self.start, self.end, self.evidence_kinds, self.disputed, self.q)
        return (self.order, len(self.tags), len(self.kinds), *(value not in (None, ()) for value in present))

    @property
    def driver(self) -> str:
        """The index the body of a range is read through: the filter most likely to be selective that has one.
        A tag is chosen before a kind (there are nine kinds, and as many tags as a team makes up)."""
        if self.tags:
            return "tag"
        if self.kinds:
            return "kind"
        return "disputed" if self.disputed is not None else "time"


def _choices(values: Sequence[str] | None, allowed: type[StrEnum], name: str) -> tuple[str, ...]:
    out = []
    for value in values or ():
        for part in value.split(","):
            if not part.strip():
                continue
            try:
                out.append(allowed(part.strip()).value)
            except ValueError:
                raise UnprocessableEntity(
                    f"{name}: unknown value {part.strip()[:64]!r}; use one of " + ", ".join(k.value for k in allowed)
                ) from None
    return tuple(sorted(set(out)))


def parse_filter(
    case: Case,
    *,
    start: str | None = None,
    end: str | None = None,
    kind: Sequence[str] | None = None,
    tag: Sequence[str] | None = None,
    evidence_kind: Sequence[str] | None = None,
    disputed: bool | None = None,
    q: str | None = None,
    order: str = "asc",
) -> TimelineFilter:
    """Validate query parameters into a filter; 422 names the parameter at fault."""
    try:
        start_at = dates.parse_bound(start, case.timezone, field="start") if start else None
        end_at = dates.parse_bound(end, case.timezone, field="end") if end else None
    except ValueError as exc:
        raise UnprocessableEntity(str(exc)) from None
    if start_at and end_at and end_at <= start_at:
        raise UnprocessableEntity(f"end ({end}) must be after start ({start}): start is inclusive, end exclusive")
    if order not in ("asc", "desc"):
        raise UnprocessableEntity("order must be asc or desc")
    tags = tuple(sorted({t.strip() for t in tag or () if t.strip()}))
    for name, text in [("q", q or "")] + [("tag", t) for t in tags]:
        if problem := text_problem(text):
            raise UnprocessableEntity(f"{name} {problem}")
    if len(tags) > FILTER_VALUES_MAX or any(len(t) > TAG_CHARS for t in tags) or (q and len(q) > SEARCH_CHARS):
        raise UnprocessableEntity(
            f"tag: at most {FILTER_VALUES_MAX} tags of at most {TAG_CHARS} characters; "
            f"q: at most {SEARCH_CHARS} characters"
        )
    return TimelineFilter(
        start=start_at,
        end=end_at,
        kinds=_choices(kind, EventKind, "kind"),
        tags=tags,
        evidence_kinds=_choices(evidence_kind, EvidenceKind, "evidence_kind"),
        disputed=disputed,
        q=q.strip() if q and q.strip() else None,
        order=order,
        texts={"start": start, "end": end},
    )


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def filter_conditions(f: TimelineFilter, *, driven: bool = False) -> list:
    """Case and filters, as conditions on named parameters (see bind_values). `driven`: leave out the condition
    the body's driving index already applies (timeline.query puts it on each branch)."""
    where: list[ColumnElement[bool]] = [col(E.case_id) == bindparam("case_id")]
    skip = f.driver if driven else None
    # Kind and disputed have indexes of their own, used only when they drive the body (see driving): as mere
    # checks, SQLite would otherwise walk a year of a kind to find a few straddling events.
    if f.kinds and skip != "kind":
        where.append(unindexed(E.kind).in_(bindparam("kinds", expanding=True)))
    if f.tags and skip != "tag":
        # One of the filter's tags among the event's rows of timeline_event_tags (a primary-key lookup each).
        tag_keys = col(T.tag_key).in_(bindparam("tag_keys", expanding=True))
        where.append(exists().where(col(T.event_id) == E.id, tag_keys).correlate(E))
    if f.evidence_kinds:
        evidence_kind = col(EvidenceItem.kind).in_(bindparam("evidence_kinds", expanding=True))
        where.append(exists().where(col(EvidenceItem.id) == E.evidence_id, evidence_kind).correlate(E))
    if f.disputed is not None and skip != "disputed":
        where.append(unindexed(E.disputed) == bindparam("disputed"))
    if f.q:
        pattern: BindParameter[str] = bindparam("q")
        where.append(
            or_(func.lower(E.title).like(pattern, escape="\\"), func.lower(E.description).like(pattern, escape="\\"))
        )
    return where


def driving(f: TimelineFilter, branch: int) -> tuple[list, tuple]:
    """(conditions, (time column, id column)) of one branch of the body's driving index: the branch-th tag or
    kind of the filter; the disputed flag; or the time index alone."""
    if f.driver == "tag":
        return [T.case_id == bindparam("case_id"), T.tag_key == bindparam(f"tag_key_{branch}")], (
            T.occurred_at,
            T.event_id,
        )
    if f.driver == "kind":
        return [E.kind == bindparam(f"kind_{branch}")], (E.occurred_at, E.id)
    if f.driver == "disputed":
        return [E.disputed == bindparam("disputed")], (E.occurred_at, E.id)
    return [], (E.occurred_at, E.id)


def driving_branches(f: TimelineFilter) -> range:
    """The branches of the body's driving index: one per tag or kind of the filter, else one."""
    return range(len(f.tags) if f.driver == "tag" else len(f.kinds) if f.driver == "kind" else 1)


def after_conditions(desc: bool, key: tuple = (E.occurred_at, E.id)) -> list:
    """Keyset: strictly after (after_at, after_id) in the listing's order."""
    at_column, id_column = key
    at: BindParameter[datetime] = bindparam("after_at")
    event_id: BindParameter[uuid.UUID] = bindparam("after_id")
    if desc:
        return [at_column <= at, or_(at_column < at, id_column < event_id)]
    return [at_column >= at, or_(at_column > at, id_column > event_id)]


def body_range(f: TimelineFilter, at_column=E.occurred_at) -> list:
    return ([at_column >= bindparam("start")] if f.start else []) + ([at_column < bindparam("end")] if f.end else [])


def straddling_range(precision: str) -> list:
    """Events of one precision that began before `start` and whose span reaches past it: a short range of the
    precision index, since no span is longer than MAX_SPAN."""
    return [
        E.precision == precision,
        E.occurred_at >= bindparam(f"from_{precision}"),
        E.occurred_at < bindparam("start"),
        E.occurred_until > bindparam("start"),
    ]


PRECISIONS = tuple(p.value for p in dates.MAX_SPAN)


def tag_key(tag: str) -> str:
    """A tag as timeline_event_tags keys it: ASCII letters lower-cased (the triggers' lower() on SQLite)."""
    return tag.translate(ASCII_LOWER)


def bind_values(case_id: uuid.UUID, f: TimelineFilter, after: tuple | None = None) -> dict:
    """Values for every parameter the conditions above may use."""
    values: dict = {"case_id": case_id, "kinds": list(f.kinds), "evidence_kinds": list(f.evidence_kinds)}
    values |= {f"kind_{i}": kind for i, kind in enumerate(f.kinds)}
    values |= {f"tag_key_{i}": tag_key(t) for i, t in enumerate(f.tags)}
    values["tag_keys"] = [tag_key(t) for t in f.tags]
    values |= {"disputed": f.disputed, "q": _like(f.q.lower()) if f.q else None, "start": f.start, "end": f.end}
    if f.start is not None:
        values |= {f"from_{p.value}": f.start - span for p, span in dates.MAX_SPAN.items()}
    if after is not None:
        values |= {"after_at": after[0], "after_id": after[1]}
    return values
