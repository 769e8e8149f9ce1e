"""Exhibits: labels handed out once from the case's counter, never reused, never renumbered."""

import uuid
from collections.abc import Collection
from typing import Any, cast

from sqlalchemy import cast as cast_
from sqlalchemy import exists, func, literal, update
from sqlalchemy import select as sql_select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import InstrumentedAttribute
from sqlmodel import Session, col, select

from api.db import engine_of
from api.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from api.pagination import keyset_page, parse_datetime, parse_int, parse_uuid
from api.services import audit, exhibit_order, holds
from api.services.timeline import derived as timeline_derived
from models.case import Case, CaseMember, Role, exhibit_label
from models.evidence import EvidenceItem
from models.exhibit import Designation, Exhibit, ExhibitEvidence, ExhibitPublic, ExhibitUpdate
from models.timeline import TimelineEvent
from models.user import User


class EvidenceAlreadyExhibit(Conflict):
    """The evidence is already an exhibit in this case."""

    code = "evidence_already_exhibit"


class ExhibitLabelTaken(Conflict):
    """Another exhibit in the case has this label."""

    code = "exhibit_label_taken"


class ExhibitStillCited(Conflict):
    """The exhibit is evidence from another case that this case's timeline cites: remove the citation first."""

    code = "exhibit_still_cited"


def _next_number(session: Session, case: Case) -> int:
    """Take the case's next exhibit number. The UPDATE locks the case row until commit, so concurrent
    requests queue here (a row lock on PostgreSQL, the write lock on SQLite) and never share a number."""
    taken = session.execute(
        update(Case)
        .where(col(Case.id) == case.id)
        .values(next_exhibit_number=Case.next_exhibit_number + 1)
        .returning(col(Case.next_exhibit_number))
        .execution_options(synchronize_session=False)
    ).scalar_one()
    return taken - 1


def _label_taken(session: Session, case_id: uuid.UUID, label: str) -> bool:
    return (
        session.exec(select(Exhibit.id).where(Exhibit.case_id == case_id, Exhibit.label == label)).first() is not None
    )


def link(
    session: Session, *, case: Case, evidence: EvidenceItem, actor: User, designation: Designation = Designation.none
) -> Exhibit:
    """Link an evidence item into a case under the next free label, at the end of the exhibit order.

    Into a case other than its home (the case it was uploaded into), only an owner of its home may link it:
    the owners decide what leaves a case, and a link lets every member of the other case read the item for as
    long as it stays, whoever leaves either case meanwhile. The caller must be an editor of `case` as well.
    """
    if evidence.case_id != case.id:
        home = session.get(CaseMember, (evidence.case_id, actor.id))
        if home is None or Role(home.role) != Role.owner:
            raise Forbidden(
                "linking evidence into another case needs the owner role in the case it was uploaded into: "
                "its owners decide what leaves it"
            )
    existing = session.exec(
        select(Exhibit).where(Exhibit.case_id == case.id, Exhibit.evidence_id == evidence.id)
    ).first()
    if existing:
        raise EvidenceAlreadyExhibit(f"this evidence is already exhibit {existing.label} in the case")
    while True:  # skip numbers whose label someone already gave an exhibit by hand
        number = _next_number(session, case)
        try:
            label = exhibit_label(case.exhibit_label_template, number)
        except ValueError as exc:
            raise UnprocessableEntity(f"{exc}: change the case's exhibit_label_template to link exhibits") from None
        if not _label_taken(session, case.id, label):
            break
    exhibit = Exhibit(
        case_id=case.id,
        evidence_id=evidence.id,
        number=number,
        label=label,
        position=exhibit_order.last_position(session, case.id) + 1,
        designation=designation,
        created_by=actor.id,
    )
    session.add(exhibit)
    session.flush()
    timeline_derived.sync_exhibit(session, case=case, exhibit=exhibit, item=evidence)
    _record(session, "exhibit.link", actor, exhibit, {"label": label, "position": exhibit.position})
    return exhibit


def _record(session: Session, action: str, actor: User, exhibit: Exhibit, details: dict) -> None:
    audit.record(
        session,
        action,
        actor=actor,
        case_id=exhibit.case_id,
        evidence_id=exhibit.evidence_id,
        object_type="exhibit",
        object_id=exhibit.id,
        details=details,
    )


def get(session: Session, case: Case, exhibit_id: uuid.UUID) -> Exhibit:
    exhibit = session.get(Exhibit, exhibit_id)
    if exhibit is None or exhibit.case_id != case.id:
        raise NotFound("exhibit not found in this case")
    return exhibit


def lock_case(session: Session, case: Case) -> None:
    """Serialise changes to a case's exhibits (labels, order, duplicate checks) on the case row until commit."""
    session.execute(update(Case).where(col(Case.id) == case.id).values(next_exhibit_number=Case.next_exhibit_number))


def count(session: Session, case: Case) -> int:
    return session.exec(select(func.count()).select_from(Exhibit).where(Exhibit.case_id == case.id)).one()


def update_exhibit(session: Session, case: Case, exhibit: Exhibit, data: ExhibitUpdate, *, actor: User) -> Exhibit:
    """Move, relabel, designate or annotate an exhibit. Other exhibits keep their labels."""
    changes = data.model_dump(exclude_unset=True)
    before = {name: getattr(exhibit, name) for name in ("label", "position", "designation", "note")}
    if changes.get("label") is not None and changes["label"] != exhibit.label:
        label = changes["label"].strip()
        if not label:
            raise UnprocessableEntity("label cannot be blank")
        if _label_taken(session, case.id, label):
            raise ExhibitLabelTaken(f"label {label} is already used by another exhibit in this case")
        exhibit.label = label
    if changes.get("position") is not None:
        lock_case(session, case)
        session.refresh(exhibit)
        exhibit_order.move(session, exhibit, changes["position"])
    if changes.get("designation") is not None:
        exhibit.designation = changes["designation"]
    if "note" in changes:
        exhibit.note = changes["note"]
    session.add(exhibit)
    session.flush()
    old, new = audit.changed(exhibit, before)
    if old:  # `changed` compares the exhibit now with `before`, so "old" holds the new values
        action = "exhibit.relabel" if "label" in old else "exhibit.update"
        _record(session, action, actor, exhibit, {"before": new, "after": old})
    return exhibit


def move_by(session: Session, case: Case, exhibit: Exhibit, places: int, *, actor: User) -> Exhibit:
    """Move an exhibit `places` earlier (negative) or later in the order, counted from where it is once the case
    is locked, so two people pressing Move up at once move it two places rather than one place twice."""
    lock_case(session, case)
    session.refresh(exhibit)
    target = max(1, exhibit.position + places)
    return update_exhibit(session, case, exhibit, ExhibitUpdate(position=target), actor=actor)


def unlink(session: Session, case: Case, exhibit: Exhibit, *, actor: User, details: dict | None = None) -> None:
    """Remove an exhibit from the case; later exhibits move up one place but keep their labels.

    Refused (409) while the case is on legal hold. A hold on another case the evidence is linked into does
    not stop it: that case keeps its own exhibit, and the evidence stays. `details` go into the audit event
    (why it was unlinked, when another action did it).
    """
    lock_case(session, case)
    session.refresh(exhibit)
    holds.refuse_if_held(
        session,
        case_id=case.id,
        attempted="exhibit.unlink",
        target=f"unlink exhibit {exhibit.label}",
        actor=actor,
        details={"exhibit_id": exhibit.id, "label": exhibit.label, "evidence_id": exhibit.evidence_id},
    )
    _refuse_if_cited_here(session, case, exhibit)
    position = exhibit.position
    _record(session, "exhibit.unlink", actor, exhibit, {"label": exhibit.label, "position": position} | (details or {}))
    timeline_derived.drop_for_exhibit(session, exhibit)
    session.delete(exhibit)
    session.flush()
    exhibit_order.close_gap(session, case.id, position)


MAX_NAMED = 10


def _refuse_if_cited_here(session: Session, case: Case, exhibit: Exhibit) -> None:
    """409 while a manual event of the case cites the exhibit's evidence and the case is not its home: a case's
    timeline cites only evidence in the case, which its members can read and its export carries."""
    evidence = session.get(EvidenceItem, exhibit.evidence_id)
    assert evidence is not None  # exhibits.evidence_id is a foreign key to evidence_items
    if evidence.case_id == case.id:
        return  # unlinked, it is still evidence of its own case
    events = session.exec(
        select(TimelineEvent.id, TimelineEvent.title)
        .where(
            TimelineEvent.case_id == case.id,
            TimelineEvent.evidence_id == exhibit.evidence_id,
            col(TimelineEvent.exhibit_id).is_(None),
        )
        .order_by(col(TimelineEvent.occurred_at), col(TimelineEvent.id))
        .limit(MAX_NAMED + 1)
    ).all()
    if not events:
        return
    named = "; ".join(f"{title!r} ({event_id})" for event_id, title in events[:MAX_NAMED])
    more = "; and more" if len(events) > MAX_NAMED else ""
    raise ExhibitStillCited(
        f"exhibit {exhibit.label} is evidence from another case that this case's timeline cites: {named}{more}. "
        "Remove the citation from those events (or delete them) first"
    )


def to_public(exhibit: Exhibit, evidence: EvidenceItem | None = None) -> ExhibitPublic:
    public = ExhibitPublic.model_validate(exhibit)
    if evidence is not None:
        public.evidence = ExhibitEvidence.model_validate(evidence)
    return public


# Class attributes of a table model are its columns (InstrumentedAttribute), which sqlmodel types as the values.
_EXHIBIT_COLUMNS = cast(
    tuple[InstrumentedAttribute[Any], ...],
    (
        Exhibit.id,
        Exhibit.case_id,
        Exhibit.evidence_id,
        Exhibit.label,
        Exhibit.position,
        Exhibit.designation,
        Exhibit.note,
        Exhibit.created_at,
    ),
)
_SUMMARY_COLUMNS = cast(
    tuple[InstrumentedAttribute[Any], ...],
    (
        EvidenceItem.title,
        EvidenceItem.kind,
        EvidenceItem.media_type,
        EvidenceItem.sha256,
        EvidenceItem.size_bytes,
        EvidenceItem.original_filename,
        EvidenceItem.occurred_at,
        EvidenceItem.page_count,
    ),
)


# The orders a case's exhibits can be listed in: each a keyset of columns that ends with the exhibit's id.
ORDERS = ("position", "label", "title", "date")


def _order(order: str):
    if order == "label":
        return [Exhibit.label, Exhibit.id], [str, parse_uuid]
    if order == "title":
        return [EvidenceItem.title, Exhibit.id], [str, parse_uuid]
    if order == "date":  # undated evidence sorts by when it arrived
        when = func.coalesce(EvidenceItem.occurred_at, EvidenceItem.created_at)
        return [when, Exhibit.id], [parse_datetime, parse_uuid]
    return [Exhibit.position, Exhibit.id], [parse_int, parse_uuid]


def has_tag(session: Session, tag: str):
    """A condition: the evidence's tags (a JSON list) include `tag`."""
    if engine_of(session).dialect.name == "postgresql":
        return cast_(EvidenceItem.tags, JSONB).contains([tag])
    value = func.json_each(EvidenceItem.tags).table_valued("value")
    return exists(sql_select(literal(1)).select_from(value).where(value.c.value == tag))


def list_exhibits(
    session: Session,
    case: Case,
    *,
    limit: int,
    cursor: str | None,
    order: str = "position",
    descending: bool = False,
    kind: str | None = None,
    tag: str | None = None,
    ids: Collection[uuid.UUID] | None = None,
) -> tuple[list[dict], str | None]:
    """The case's exhibits in `order` (one of ORDERS), each with a summary of its evidence, as ExhibitPublic-shaped
    dicts; only those of evidence `kind`, carrying `tag` or among `ids` when given."""
    # Plain columns and dicts, not ORM entities and models: on a page of 100, building and validating
    # objects twice cost more than the query. The route's response model validates them once.
    if order not in ORDERS:
        raise UnprocessableEntity(f"order must be one of {', '.join(ORDERS)}")
    columns, parsers = _order(order)
    stmt = (
        sql_select(*_EXHIBIT_COLUMNS, *_SUMMARY_COLUMNS, columns[0].label("sort_key"))
        .join(EvidenceItem, col(EvidenceItem.id) == Exhibit.evidence_id)
        .where(col(Exhibit.case_id) == case.id)
    )
    if kind:
        stmt = stmt.where(col(EvidenceItem.kind) == kind)
    if tag:
        stmt = stmt.where(has_tag(session, tag))
    in_order = (order, descending) == ("position", False)
    list_kind = exhibit_order.LIST_KIND if in_order else f"{exhibit_order.LIST_KIND}-{order}-{descending:d}"
    if ids is not None:
        stmt = stmt.where(col(Exhibit.id).in_(ids))
    rows, next_cursor = keyset_page(
        session,
        stmt,
        kind=list_kind,
        columns=columns,
        parsers=parsers,
        key=lambda row: (row.sort_key, row.id),
        limit=limit,
        cursor=cursor,
        descending=descending,
    )
    summary_keys = [c.key for c in _SUMMARY_COLUMNS]
    items = []
    for row in rows:
        values = dict(row._mapping)
        del values["sort_key"]
        values["evidence"] = {key: values.pop(key) for key in summary_keys}
        items.append(values)
    return items, next_cursor
