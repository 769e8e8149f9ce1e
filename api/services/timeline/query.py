"""Reading a case's chronology: keyset pages in either order, the rows an export reads (timeline.csv reads
them in chunks), events shaped for the API.

Rows are read as the database driver returns them (see timeline.columns), and each statement structure is
built once (timeline.filter explains the two groups a range is read as).
"""

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import cast as type_cast

from sqlalchemy import Integer, Select, and_, bindparam, select, union, union_all
from sqlmodel import Session, col

from api import dates, event_clock
from api.errors import BadRequest
from api.pagination import check_limit, decode_cursor, encode_cursor, parse_uuid
from api.services.timeline.citations import CitedBundle, citation_bates, cited_bundle
from api.services.timeline.columns import (
    COLUMNS,
    EVENT_COLUMNS,
    EVENT_ROW,
    LABEL_COLUMNS,
    LABELLED_ROW,
    ROWS,
    E,
    Positions,
    as_selected,
    as_uuid_text,
)
from api.services.timeline.filter import (
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
from models.case import Case
from models.exhibit import Exhibit

__all__ = ["TimelineFilter", "parse_filter", "fetch", "page", "shape", "one"]


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
        return _branch(f, group, 0, after, as_selected(COLUMNS[columns]))
    parts = [_branch(f, group, branch, after, COLUMNS[columns]) for branch in branches]
    # An event with two of the filter's tags comes up in both tags' branches: UNION keeps it once.
    combine = union if f.driver == "tag" and len(parts) > 1 and group == "body" else union_all
    both = (combine(*(p.subquery().select() for p in parts)) if len(parts) > 1 else parts[0]).subquery("events")
    selected = as_selected(both.c)
    stmt = select(*selected)
    if labels:
        stmt = select(*selected, *LABEL_COLUMNS).outerjoin(
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
    values, fields = bind_values(case_id, f, after), ROWS[columns]
    rows: list[tuple] = []
    at, event_id = fields.occurred_at, fields.id
    connection = session.connection()
    for group in groups(f, after):
        stmt = statement(f, group, after=after, columns=columns, labels=labels)
        result = connection.execute(stmt, values | {"limit": limit - len(rows)})
        found = type_cast(list[tuple], result.cursor.fetchall())  # a list from either driver
        result.close()
        if group == "straddling":  # stored UTC text and id text both sort as the values do
            found.sort(key=lambda row: (row[at], row[event_id]), reverse=f.order == "desc")
        rows += found[: limit - len(rows)]
        if len(rows) >= limit:
            break
    return rows


def _aware(value) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("cursor time without offset")
    return parsed


def key_of(row: tuple, fields: Positions = EVENT_ROW) -> tuple[datetime, uuid.UUID]:
    """(occurred_at, id) of a row with the given fields: the keyset position."""
    return dates.stored_as_utc(row[fields.occurred_at]), uuid.UUID(as_uuid_text(row[fields.id]))


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
    col = LABELLED_ROW  # r[col.title] is the row's title, wherever the column list puts it
    exhibit_at, page_at = col.exhibit_id, col.page
    bates = citation_bates(session, bundle, {(r[exhibit_at], r[page_at]) for r in rows if r[exhibit_at] is not None})
    describe, utc_text, out = event_clock.page_clock(case.timezone).describe, event_clock.utc_text, []
    case_id_text = str(case.id)  # every row's: the rows are the case's
    # Few distinct ids (but the events'), tag lists and creation times per page: convert each once.
    ids: dict[str, str | None] = {}
    tag_lists: dict[str, list] = {}
    times: dict[str, str] = {}
    for r in rows:
        until, precision, evidence_id, tags = r[col.occurred_until], r[col.precision], r[col.evidence_id], r[col.tags]
        utc, local, date = describe(r[col.occurred_at], until, precision)
        citation = None
        page_number = r[page_at]
        if evidence_id is not None:
            evidence_id = ids.get(evidence_id) or ids.setdefault(evidence_id, as_uuid_text(evidence_id))
            exhibit_id = r[exhibit_at]
            cite = bates.get((exhibit_id, page_number)) if exhibit_id is not None else None
            citation = {
                "exhibit_label": r[col.exhibit_label],
                "evidence_id": evidence_id,
                "page": page_number,
                "bates": cite,
            }
        tag_list = tag_lists.get(tags)
        if tag_list is None:
            tag_list = tag_lists[tags] = json.loads(tags)
        created_at, updated_at, created_by = r[col.created_at], r[col.updated_at], r[col.created_by]
        created = times.get(created_at) or times.setdefault(created_at, utc_text(created_at))
        updated = times.get(updated_at) or times.setdefault(updated_at, utc_text(updated_at))
        out.append(
            {
                "id": as_uuid_text(r[col.id]),
                "case_id": case_id_text,
                "occurred_at": utc,
                "occurred_until": utc_text(until),
                "occurred_at_local": local,
                "precision": precision,
                "date_display": date,
                "title": r[col.title],
                "description": r[col.description],
                "kind": r[col.kind],
                "source": r[col.source],
                "tags": list(tag_list),
                "disputed": bool(r[col.disputed]),
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
        select(*as_selected(EVENT_COLUMNS), *LABEL_COLUMNS)
        .outerjoin(Exhibit, and_(col(Exhibit.case_id) == E.case_id, col(Exhibit.evidence_id) == E.evidence_id))
        .where(col(E.id) == event_id, col(E.case_id) == case.id)
    )
    rows = result.cursor.fetchall()
    result.close()
    return shape(session, case, rows, cited_bundle(session, case, None))[0]
