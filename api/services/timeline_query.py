"""Reading a case's chronology: keyset pages in either order, export chunks, events shaped for the API.

Rows are read as the database driver returns them (see EVENT_COLUMNS), and each statement structure is
built once (timeline_filter explains the two groups a range is read as).
"""

import json
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import Integer, Select, Text, and_, bindparam, cast, select, union, union_all
from sqlmodel import Session, col

from api.db import session_scope
from api.errors import BadRequest
from api.pagination import check_limit, decode_cursor, encode_cursor, parse_uuid
from api.services import timeline_dates as dates
from api.services.timeline_citations import (
    CitedBundle,
    bates_cite,
    citation_bates,
    cited_bundle,
    exhibit_refs,
    placements,
)
from api.services.timeline_filter import (
    PRECISIONS,
    T,
    TimelineFilter,
    after_conditions,
    bind_values,
    body_range,
    driving,
    driving_branches,
    filter_conditions,
    parse_filter,
    straddling_range,
)
from api.services.timeline_sql import stored_utc_text, uuid_any_text
from models.case import Case
from models.exhibit import Exhibit
from models.timeline import TimelineEvent

__all__ = ["TimelineFilter", "parse_filter", "fetch", "page", "shape", "one", "iter_chunks"]

E = TimelineEvent
# Rows are the driver's own tuples, never converted column by column: that cost five times the query on a
# page of 1,000 or an export. Ids are selected as text (uuid_any_text: SQLite's 32 hex digits, PostgreSQL's
# canonical form; as_uuid_text reads both), times as UTC text in SQLite's stored form (stored_utc_text), tags
# as their JSON text, on both databases.
EVENT_COLUMNS = (
    E.id,
    E.case_id,
    E.occurred_at,
    E.occurred_until,
    E.precision,
    E.title,
    E.description,
    E.kind,
    E.source,
    cast(E.tags, Text).label("tags"),
    E.disputed,
    E.evidence_id,
    E.page,
    E.created_by,
    E.created_at,
    E.updated_at,
)
# The CSV export unpacks its rows in this order (timeline_csv.csv_block).
EXPORT_COLUMNS = (EVENT_COLUMNS[0],) + EVENT_COLUMNS[2:13]
_COLUMNS = {"event": EVENT_COLUMNS, "export": EXPORT_COLUMNS}
_IDS = {"id", "case_id", "evidence_id", "created_by", "exhibit_id"}
_TIMES = {"occurred_at", "occurred_until", "created_at", "updated_at"}
EXPORT_CHUNK = 5000  # rows per transaction and per block of the stream: bigger saves no time, costs memory


def _as_selected(columns) -> list:
    """The columns as selected: ids and times as text. Ordering and joins still use the columns themselves."""
    return [
        uuid_any_text(c).label(c.key) if c.key in _IDS else stored_utc_text(c).label(c.key) if c.key in _TIMES else c
        for c in columns
    ]


def as_utc(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite's stored text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_uuid_text(value) -> str | None:
    """Canonical text of an id: from 32 hex digits, the canonical text itself or a UUID object."""
    if value is None:
        return None
    if isinstance(value, str) and len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return str(value)


def _branch(f: TimelineFilter, group: str, branch, after: bool, columns) -> Select:
    """One SELECT: a straddling precision (`branch` names it), or one branch of the body's driving index (the
    branch-th tag or kind) read in the listing's order and cut to the `limit` parameter."""
    desc = f.order == "desc"
    if group == "straddling":
        extra = after_conditions(desc) if after else []
        return select(*columns).where(*filter_conditions(f), *straddling_range(branch), *extra)
    conditions, key = driving(f, branch)
    where = filter_conditions(f, driven=True) + conditions + body_range(f, key[0])
    if after:
        where += after_conditions(desc, key)
    ordered = (key[0].desc(), key[1].desc()) if desc else key
    part = select(*columns)
    if f.driver == "tag":
        part = part.select_from(T).join(E, col(E.id) == T.event_id)
    return part.where(*where).order_by(*ordered).limit(bindparam("limit", type_=Integer))


@lru_cache(maxsize=256)
def _statement(structure: tuple, group: str, after: bool, columns: str, labels: bool):
    """The SELECT of one group (see statement), built once per filter structure."""
    f = TimelineFilter(**_sample(structure))
    desc = f.order == "desc"
    branches = PRECISIONS if group == "straddling" else driving_branches(f)
    if group == "body" and len(branches) == 1 and not labels:  # one index walk: nothing to wrap
        return _branch(f, group, 0, after, _as_selected(_COLUMNS[columns]))
    parts = [_branch(f, group, branch, after, _COLUMNS[columns]) for branch in branches]
    # An event with two of the filter's tags comes up in both tags' branches: UNION keeps it once.
    combine = union if f.driver == "tag" and len(parts) > 1 and group == "body" else union_all
    both = (combine(*(p.subquery().select() for p in parts)) if len(parts) > 1 else parts[0]).subquery("events")
    selected = _as_selected(both.c)
    stmt = select(*selected)
    if labels:
        exhibit = [uuid_any_text(Exhibit.id).label("exhibit_id"), col(Exhibit.label).label("exhibit_label")]
        stmt = select(*selected, *exhibit).outerjoin(
            Exhibit, and_(col(Exhibit.case_id) == both.c.case_id, col(Exhibit.evidence_id) == both.c.evidence_id)
        )
    if group == "straddling":
        # Few (bounded by the spans) and left unordered: asked for an order, the planners walked the time index
        # back a year (SQLite) or to the case's first event (PostgreSQL). fetch() sorts them.
        return stmt
    ordered = (both.c.occurred_at.desc(), both.c.id.desc()) if desc else (both.c.occurred_at, both.c.id)
    return stmt.order_by(*ordered).limit(bindparam("limit", type_=Integer))


def _sample(structure: tuple) -> dict:
    """A filter with the given structure and placeholder values (the statement holds parameters only)."""
    order, tags, kinds, start, end, evidence_kinds, disputed, q = structure
    return {
        "order": order,
        "tags": ("",) * tags,
        "start": datetime.now(UTC) if start else None,
        "end": datetime.now(UTC) if end else None,
        "kinds": ("",) * kinds,
        "evidence_kinds": ("",) if evidence_kinds else (),
        "disputed": True if disputed else None,
        "q": "?" if q else None,
    }


def groups(f: TimelineFilter, after: tuple | None) -> list[str]:
    """The groups a page reads, in the listing's order, leaving out those the cursor has passed: straddling events
    sort before the body of the range."""
    desc = f.order == "desc"
    before_start = after is not None and f.start is not None and after[0] < f.start
    out = []
    if f.start is not None and (desc or after is None or before_start):
        out.append("straddling")
    if not (desc and before_start):
        out.append("body")
    return out[::-1] if desc else out


def statement(f: TimelineFilter, group: str, *, after: tuple | None, columns: str = "event", labels: bool = False):
    """The SELECT of one group: the straddling events (one precision-index range per precision, unordered), or
    the body of the range (a driving index walked in order and stopping at the `limit` parameter, per tag or
    kind, joined by UNION), optionally with each evidence's exhibit label."""
    return _statement(f.structure(), group, after is not None, columns, labels)


def fetch(
    session: Session,
    case_id: uuid.UUID,
    f: TimelineFilter,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    columns: str = "event",
    labels: bool = False,
) -> list[tuple]:
    """Up to `limit` driver rows in the filter's order after the key `after`; `labels` adds exhibit_id and
    exhibit_label (the evidence's exhibit in this case) after the EVENT_COLUMNS. Each group is its own
    statement, read in the listing's order until `limit` rows are in."""
    values, rows, at = bind_values(case_id, f, after), [], 2 if columns == "event" else 1
    connection = session.connection()
    for group in groups(f, after):
        stmt = statement(f, group, after=after, columns=columns, labels=labels)
        result = connection.execute(stmt, values | {"limit": limit - len(rows)})
        found = result.cursor.fetchall()
        result.close()
        if group == "straddling":  # stored UTC text and id text both sort as the values do
            found.sort(key=lambda row: (row[at], row[0]), reverse=f.order == "desc")
        rows += found[: limit - len(rows)]
        if len(rows) >= limit:
            break
    return rows


def _aware(value) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("cursor time without offset")
    return parsed


def key_of(row: tuple, at: int = 2) -> tuple[datetime, uuid.UUID]:
    """(occurred_at, id) of a row: the keyset position. EVENT_COLUMNS have occurred_at at 2, EXPORT_COLUMNS 1."""
    return as_utc(row[at]), uuid.UUID(as_uuid_text(row[0]))


def _bundle_of(value) -> uuid.UUID | None:
    return None if value is None else parse_uuid(value)


def page(
    session: Session, case: Case, f: TimelineFilter, *, limit: int, cursor: str | None, bundle_id: uuid.UUID | None
) -> tuple[list[dict], str | None, CitedBundle | None]:
    """One page of events as TimelineEventPublic-shaped dicts, the cursor of the next page, and the bundle cited.

    The cursor carries the bundle the first page cited (or that it cited none), so a listing read page by page
    cites one bundle throughout, even if another is filed or finished meanwhile."""
    check_limit(limit)
    kind = f"timeline.{f.order}.{f.fingerprint()}"
    after = None
    if cursor:
        at, event_id, pinned = decode_cursor(cursor, kind, [_aware, parse_uuid, _bundle_of])
        after = (at, event_id)
        if bundle_id is not None and bundle_id != pinned:
            cited = f"bundle {pinned}" if pinned else "no bundle"
            raise BadRequest(
                f"this cursor continues pages that cite {cited}: pass that bundle_id (or none) with it, "
                "or start again without a cursor to cite another"
            )
        bundle = None if pinned is None else cited_bundle(session, case, pinned)
    else:
        bundle = cited_bundle(session, case, bundle_id)
    rows = fetch(session, case.id, f, after=after, limit=limit + 1, labels=True)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(kind, (*key_of(rows[-1]), bundle.id if bundle else None))
    return shape(session, case, rows, bundle), next_cursor, bundle


def shape(session: Session, case: Case, rows: Sequence[tuple], bundle: CitedBundle | None) -> list[dict]:
    """Rows fetched with labels -> TimelineEventPublic-shaped dicts of JSON values, written as the API writes
    them (times in UTC with a Z, ids as canonical text), so a page is serialised without a model per event.
    Bates cites come from `bundle` alone (none without one)."""
    bates = citation_bates(session, bundle, {(r[16], r[12]) for r in rows if r[16] is not None})
    describe, utc_text, out = dates.page_clock(case.timezone).describe, dates.utc_text, []
    case_id_text = str(case.id)  # every row's: the rows are the case's
    # Few distinct ids (but the events'), tag lists and creation times per page: convert each once.
    ids: dict[str, str] = {}
    tag_lists: dict[str, list] = {}
    times: dict[str, str] = {}
    for (
        event_id, _case_id, at, until, precision, title, description, kind, source, tags, disputed, evidence_id,
        page_number, created_by, created_at, updated_at, exhibit_id, exhibit_label,
    ) in rows:  # fmt: skip
        utc, local, date = describe(at, until, precision)
        citation = None
        if evidence_id is not None:
            evidence_id = ids.get(evidence_id) or ids.setdefault(evidence_id, as_uuid_text(evidence_id))
            cite = bates.get((exhibit_id, page_number)) if exhibit_id is not None else None
            citation = {"exhibit_label": exhibit_label, "evidence_id": evidence_id, "page": page_number, "bates": cite}
        tag_list = tag_lists.get(tags)
        if tag_list is None:
            tag_list = tag_lists[tags] = json.loads(tags)
        created = times.get(created_at) or times.setdefault(created_at, utc_text(created_at))
        updated = times.get(updated_at) or times.setdefault(updated_at, utc_text(updated_at))
        out.append(
            {
                "id": as_uuid_text(event_id),
                "case_id": case_id_text,
                "occurred_at": utc,
                "occurred_until": utc_text(until),
                "occurred_at_local": local,
                "precision": precision,
                "date_display": date,
                "title": title,
                "description": description,
                "kind": kind,
                "source": source,
                "tags": list(tag_list),
                "disputed": bool(disputed),
                "evidence_id": evidence_id,
                "page": page_number,
                "citation": citation,
                "created_by": ids.get(created_by) or ids.setdefault(created_by, as_uuid_text(created_by)),
                "created_at": created,
                "updated_at": updated,
            }
        )
    return out


def one(session: Session, case: Case, event_id: uuid.UUID) -> dict:
    """One event of the case shaped like a timeline item, citation included (in the case's default bundle)."""
    result = session.connection().execute(
        select(*_as_selected(EVENT_COLUMNS), uuid_any_text(Exhibit.id).label("exhibit_id"), Exhibit.label)
        .outerjoin(Exhibit, and_(col(Exhibit.case_id) == E.case_id, col(Exhibit.evidence_id) == E.evidence_id))
        .where(E.id == event_id, E.case_id == case.id)
    )
    rows = result.cursor.fetchall()
    result.close()
    return shape(session, case, rows, cited_bundle(session, case, None))[0]


class ExportCitations(dict):
    """(evidence id as fetched, page) -> (evidence id text, exhibit label, Bates cite) for an export, worked out
    the first time a row asks, from the case's exhibits and their Bates placements read once at the start."""

    LIMIT = 100_000  # distinct (evidence, page) pairs kept: an export's memory stays flat

    def __init__(self, refs: dict, placed: dict):
        super().__init__()
        self.refs, self.placed = refs, placed

    def __missing__(self, key: tuple) -> tuple:
        raw, page_number = key
        text = as_uuid_text(raw)
        ref = self.refs.get(text)
        label, cite = None, None
        if ref is not None:
            label = ref.label
            placed = self.placed.get(ref.id)
            cite = bates_cite(placed, page_number) if placed is not None else None
        if len(self) >= self.LIMIT:
            self.clear()
        self[key] = value = (text, label, cite)
        return value


def _export_chunk(case: Case, f: TimelineFilter, after, chunk: int) -> list:
    with session_scope() as session:
        return fetch(session, case.id, f, after=after, limit=chunk, columns="export")


def iter_chunks(
    case: Case, f: TimelineFilter, bundle: CitedBundle | None, *, chunk: int | None = None
) -> Iterator[tuple[list, dict]]:
    """The whole filtered chronology as (EXPORT_COLUMNS driver rows, citations) chunks, each read in its own
    short transaction, so an export streams without holding a transaction or more than two chunks in memory.
    Every chunk comes with the same ExportCitations, whose Bates cites all come from `bundle`.

    The next chunk is read on a thread of its own while the caller formats this one: the database walk (scattered
    row reads, the driver's tuples) and the formatting each take about half an export, and overlap."""
    chunk = chunk or EXPORT_CHUNK
    with session_scope() as session:
        # Every exhibit of the case and its Bates placement at once: as many as the case has exhibits, however
        # many events cite them.
        cites = ExportCitations(exhibit_refs(session, case.id, None), placements(session, bundle, None))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-read") as reader:
        pending = reader.submit(_export_chunk, case, f, None, chunk)
        while True:
            rows = pending.result()
            if len(rows) == chunk:
                pending = reader.submit(_export_chunk, case, f, key_of(rows[-1], at=1), chunk)
            if rows:
                yield rows, cites
            if len(rows) < chunk:
                return
