"""Manual timeline events: create, edit, delete. Derived events change only through their evidence."""

import uuid
from typing import Literal, overload

from sqlmodel import Session, col, select

from api import dates
from api.errors import Conflict, NotFound, UnprocessableEntity
from api.services import audit, holds
from api.services.search import index as search_index
from api.services.timeline import query
from models.case import Case
from models.common import utcnow
from models.evidence import EvidenceItem
from models.exhibit import Exhibit
from models.inputs import TAG_CHARS, text_problem
from models.timeline import MAX_TAGS, EventCreate, EventSource, EventUpdate, TimelineEvent
from models.user import User


class EventDerived(Conflict):
    """The event is derived from an exhibit: it follows its evidence, and only `disputed` can be set on it."""

    code = "event_derived"


def record_export(session: Session, case: Case, actor: User, f: query.TimelineFilter, details: dict) -> None:
    """An export of the chronology (CSV or PDF, timeline.exports) in the case's audit trail: who took it, which
    selection, what."""
    audit.record_case(session, "timeline.export", case.id, actor=actor, details=details | {"filter": f.described()})


# What an event states: recorded whole when it is added or deleted, as before and after when it changes.
EVENT_FIELDS = (
    "occurred_at",
    "occurred_until",
    "precision",
    "title",
    "description",
    "kind",
    "tags",
    "disputed",
    "evidence_id",
    "page",
    "source",
)


def _stated(event: TimelineEvent) -> dict:
    return audit.jsonable({name: getattr(event, name) for name in EVENT_FIELDS})


def _record_change(session: Session, action: str, event: TimelineEvent, actor: User | None, details: dict) -> None:
    """A change to the case's chronology. Not tied to the cited evidence: an event citing an item changes the
    case's account of the facts, not the item, so it stays out of the item's custody report."""
    audit.record(
        session, action, actor=actor, case_id=event.case_id, object_type="event", object_id=event.id, details=details
    )


@overload
def clean_text(value: str | None, name: str, *, required: Literal[True]) -> str: ...
@overload
def clean_text(value: str | None, name: str, *, required: bool = False) -> str | None: ...
def clean_text(value: str | None, name: str, *, required: bool = False) -> str | None:
    """Trimmed text; NUL characters and unpaired surrogates are refused (no database stores them), blank required
    text too."""
    value = value.strip() if value is not None else None
    if required and not value:
        raise ValueError(f"{name} is required")
    if value and (problem := text_problem(value)):
        raise ValueError(f"{name} {problem}")
    return value or None


def clean_tags(tags: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(t.strip() for t in tags if t and t.strip()))
    for tag in cleaned:
        if problem := text_problem(tag):
            raise ValueError(f"tags: a tag {problem}")
    if len(cleaned) > MAX_TAGS or any(len(t) > TAG_CHARS for t in cleaned):
        raise ValueError(f"tags: at most {MAX_TAGS} tags of at most {TAG_CHARS} characters each")
    return cleaned


def evidence_ids_in_case(session: Session, case: Case, evidence_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """Those of the ids that are live evidence uploaded into the case or linked into it as an exhibit."""
    found: set[uuid.UUID] = set()
    ids = sorted(evidence_ids)
    for i in range(0, len(ids), 1000):  # an import may cite many; keep each IN list short
        batch = ids[i : i + 1000]
        found |= set(
            session.exec(
                select(EvidenceItem.id).where(
                    col(EvidenceItem.id).in_(batch),
                    col(EvidenceItem.case_id) == case.id,
                    col(EvidenceItem.deleted_at).is_(None),
                )
            )
        )
        found |= set(
            session.exec(
                select(Exhibit.evidence_id).where(col(Exhibit.evidence_id).in_(batch), col(Exhibit.case_id) == case.id)
            )
        )
    return found


def case_evidence_ids(session: Session, case: Case) -> set[str]:
    """Every evidence id (as text) the case's events may cite: live evidence uploaded into it, and evidence
    linked into it as an exhibit. An import loads them once and checks each row against them."""
    uploaded = select(EvidenceItem.id).where(
        col(EvidenceItem.case_id) == case.id, col(EvidenceItem.deleted_at).is_(None)
    )
    linked = select(Exhibit.evidence_id).where(Exhibit.case_id == case.id)
    return {str(i) for i in session.exec(uploaded)} | {str(i) for i in session.exec(linked)}


def _check_evidence(session: Session, case: Case, evidence_id: uuid.UUID | None, page: int | None) -> None:
    if page is not None and evidence_id is None:
        raise UnprocessableEntity("page needs evidence_id: a page is a page of a piece of evidence")
    if evidence_id is not None and not evidence_ids_in_case(session, case, {evidence_id}):
        # The same answer whether the item is missing or only in a case the caller cannot see.
        raise UnprocessableEntity(f"evidence_id: no evidence {evidence_id} in this case")


def create_event(session: Session, *, case: Case, actor: User, data: EventCreate) -> TimelineEvent:
    """Add a manual event to the case's chronology."""
    try:
        span = dates.parse_when(data.occurred_at, case.timezone, data.precision)
        title = clean_text(data.title, "title", required=True)
        description = clean_text(data.description, "description")
        tags = clean_tags(data.tags)
    except ValueError as exc:
        raise UnprocessableEntity(str(exc)) from None
    _check_evidence(session, case, data.evidence_id, data.page)
    event = TimelineEvent(
        case_id=case.id,
        occurred_at=span.start,
        occurred_until=span.until,
        precision=span.precision,
        title=title,
        description=description,
        kind=data.kind,
        evidence_id=data.evidence_id,
        page=data.page,
        tags=tags,
        disputed=data.disputed,
        source=EventSource.manual,
        created_by=actor.id,
    )
    session.add(event)
    session.flush()
    search_index.index_event(session, event)
    _record_change(session, "event.create", event, actor, _stated(event))
    return event


def get_event(session: Session, case: Case, event_id: uuid.UUID) -> TimelineEvent:
    event = session.get(TimelineEvent, event_id)
    if event is None or event.case_id != case.id:
        raise NotFound("event not found in this case")
    return event


def update_event(
    session: Session, case: Case, event: TimelineEvent, data: EventUpdate, *, actor: User | None = None
) -> TimelineEvent:
    """Change the fields sent. On a derived event only `disputed` may change: the rest follows the evidence."""
    changes = data.model_dump(exclude_unset=True)
    was = _stated(event)
    if event.source == EventSource.derived and set(changes) - {"disputed"}:
        raise EventDerived(
            "this event is derived from an exhibit: edit its evidence (PATCH /api/v1/evidence/"
            f"{event.evidence_id}) to change it; only disputed can be set here"
        )
    for name in ("occurred_at", "title", "kind", "disputed"):
        if name in changes and changes[name] is None:
            raise UnprocessableEntity(f"{name} cannot be cleared")
    try:
        if "occurred_at" in changes or changes.get("precision"):
            text = changes.get("occurred_at") or dates.written_form(
                event.occurred_at, event.occurred_until, event.precision, case.timezone
            )
            span = dates.parse_when(text, case.timezone, changes.get("precision"))
            event.occurred_at, event.occurred_until, event.precision = span.start, span.until, span.precision
        if "title" in changes:
            event.title = clean_text(changes["title"], "title", required=True)
        if "description" in changes:
            event.description = clean_text(changes["description"], "description")
        if "tags" in changes:
            event.tags = clean_tags(changes["tags"] or [])
    except ValueError as exc:
        raise UnprocessableEntity(str(exc)) from None
    if "evidence_id" in changes or "page" in changes:
        # Checked before the event changes: the check's query would flush an unknown id into the row first.
        _check_evidence(session, case, changes.get("evidence_id", event.evidence_id), changes.get("page", event.page))
    for name in ("kind", "disputed", "evidence_id", "page"):
        if name in changes:
            setattr(event, name, changes[name])
    event.updated_at = utcnow()
    session.add(event)
    session.flush()
    now = _stated(event)
    changed = [name for name in EVENT_FIELDS if was[name] != now[name]]
    if "title" in changed or "description" in changed:
        search_index.index_event(session, event)
    if changed:
        before, after = {n: was[n] for n in changed}, {n: now[n] for n in changed}
        _record_change(session, "event.update", event, actor, {"before": before, "after": after})
    return event


def delete_event(session: Session, event: TimelineEvent, *, actor: User | None = None) -> None:
    """Remove a manual or imported event. A derived event goes only with its exhibit or evidence date.
    Refused (409) while the case is on legal hold."""
    if event.source == EventSource.derived:
        raise EventDerived(
            "this event is derived from an exhibit: unlink the exhibit, or clear its evidence's occurred_at, "
            "to remove it; or mark it disputed"
        )
    holds.refuse_if_held(
        session,
        case_id=event.case_id,
        attempted="event.delete",
        target=f"delete timeline event {event.id}",
        actor=actor,
        details={"event_id": event.id, "title": event.title},
    )
    _record_change(session, "event.delete", event, actor, _stated(event))
    session.delete(event)
    session.flush()


def citing(session: Session, case: Case, evidence_id: uuid.UUID, *, limit: int) -> list[TimelineEvent]:
    """The case's events that cite one evidence item, in time order (the first `limit`)."""
    return list(
        session.exec(
            select(TimelineEvent)
            .where(col(TimelineEvent.case_id) == case.id, col(TimelineEvent.evidence_id) == evidence_id)
            .order_by(col(TimelineEvent.occurred_at), col(TimelineEvent.id))
            .limit(limit)
        ).all()
    )


def to_public(session: Session, case: Case, event: TimelineEvent) -> dict:
    """One event shaped like a timeline item, citation included."""
    return query.one(session, case, event.id)
