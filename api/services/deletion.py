"""Deleting evidence: a soft delete that keeps the row and its custody, refused while a legal hold covers the item
or anything the caller cannot unlink still cites it; the original leaves the store only with a purge (purge.py)."""

import uuid

from sqlmodel import Session, col, select

from api.errors import Conflict, Forbidden, Gone, UnprocessableEntity
from api.services import evidence, holds
from api.services import exhibits as exhibit_service
from models.bundle import Bundle, BundleExhibit
from models.case import Case, CaseMember, Role
from models.common import utcnow
from models.evidence import EvidenceItem
from models.exhibit import Exhibit
from models.inputs import REASON_CHARS
from models.timeline import TimelineEvent
from models.user import User

DELETE_REASON_CHARS = REASON_CHARS


class EvidenceStillCited(Conflict):
    """A bundle, a timeline event, or an exhibit the caller cannot unlink still cites the evidence."""

    code = "evidence_still_cited"


def delete(session: Session, evidence_id: uuid.UUID, user: User, *, reason: str | None) -> EvidenceItem:
    """Soft delete: the row and its custody stay, marked deleted; the original goes only with an admin purge.

    Needs the editor role in the case the item was uploaded into and a reason. Refused (409) while the item
    is under legal hold. Its exhibits are unlinked in the same step (their derived timeline events go with
    them), each audited as unlinked by the delete; refused (409, naming them) while anything else cites it: a
    manual timeline event, an exhibit in a case where the caller is not an editor, a bundle built with it
    (whose exhibits only an explicit unlink removes). Timelines never cite a deleted item.
    """
    item = evidence.get_live(session, evidence_id, user)
    member = session.get(CaseMember, (item.case_id, user.id))
    if member is None or Role(member.role).rank < Role.editor.rank:
        raise Forbidden("deleting evidence needs the editor role in the case it was uploaded into")
    reason = (reason or "").strip()
    if not reason:
        raise UnprocessableEntity("reason is required: say why the evidence is deleted (it is kept in the audit trail)")
    if len(reason) > DELETE_REASON_CHARS or "\x00" in reason:
        raise UnprocessableEntity(f"reason must be at most {DELETE_REASON_CHARS} characters, without NUL characters")
    holds.refuse_if_held(
        session,
        evidence=item,
        attempted="evidence.delete",
        target=f"delete evidence {item.id}",
        actor=user,
        details={"deletion_reason": reason},
    )
    session.refresh(item)  # the case rows are locked now: a delete that got there first shows
    if item.deleted_at is not None:
        raise Gone(evidence.deleted_message(session, item))
    unlinked = []
    for exhibit, case in _refuse_if_cited(session, item, user):
        unlinked.append({"case_id": case.id, "exhibit_id": exhibit.id, "label": exhibit.label})
        why = {"unlinked_by": "evidence.delete", "reason": reason}
        exhibit_service.unlink(session, case, exhibit, actor=user, details=why)
    item.deleted_at, item.deleted_by, item.deleted_reason = utcnow(), user.id, reason
    session.add(item)
    session.flush()
    details = {"reason": reason, "sha256": item.sha256} | ({"unlinked": unlinked} if unlinked else {})
    evidence.record_access(session, "evidence.delete", item, user, details)
    return item


MAX_NAMED = 10


def _refuse_if_cited(session: Session, item: EvidenceItem, user: User) -> list[tuple[Exhibit, Case]]:
    """The item's exhibits, for the delete to unlink; 409 while anything else cites it, naming what the user can
    see: a manual timeline event, an exhibit in a case where the user is not an editor, or, while it has
    exhibits to unlink, a bundle whose placements name it (whatever the bundle's status)."""
    exhibits = session.exec(
        select(Exhibit, Case)
        .join(Case, col(Case.id) == Exhibit.case_id)
        .where(Exhibit.evidence_id == item.id)
        .order_by(Case.title, Exhibit.label)
    ).all()
    events = session.exec(
        select(TimelineEvent.id, TimelineEvent.title, Case.id, Case.title)
        .join(Case, col(Case.id) == TimelineEvent.case_id)
        .where(col(TimelineEvent.evidence_id) == item.id, col(TimelineEvent.exhibit_id).is_(None))
        .order_by(col(Case.title), col(TimelineEvent.occurred_at), col(TimelineEvent.id))
    ).all()
    bundles = session.exec(
        # sqlmodel's select() takes any number of columns, but its stubs only spell out up to four.
        select(Bundle.id, Bundle.title, Case.id, Case.title, Bundle.created_at)  # type: ignore[call-overload]
        .join(BundleExhibit, BundleExhibit.bundle_id == Bundle.id)
        .join(Case, Case.id == Bundle.case_id)
        .where(BundleExhibit.evidence_id == item.id)
        .distinct()
        .order_by(Case.title, Bundle.created_at, Bundle.id)
    ).all()
    cases = {case.id for _, case in exhibits} | {row[2] for row in events} | {row[2] for row in bundles}
    roles = dict(
        session.exec(
            select(CaseMember.case_id, CaseMember.role).where(
                col(CaseMember.user_id) == user.id, col(CaseMember.case_id).in_(cases)
            )
        ).all()
    )
    editor = {case_id for case_id, role in roles.items() if Role(role).rank >= Role.editor.rank}
    unlinkable = [(x, c) for x, c in exhibits if c.id in editor]
    # A bundle built with the item stops the delete from unlinking its exhibits; unlinked by hand, as a
    # deliberate act, they no longer stand in the way.
    bundles = bundles if unlinkable else []
    named = [
        f"bundle {title!r} ({bundle_id}) in case {case_title!r} was built with it"
        for bundle_id, title, case_id, case_title, _ in bundles
        if case_id in roles
    ]
    named += [
        f"event {title!r} ({event_id}) in case {case_title!r} cites it: remove the citation or delete the event"
        for event_id, title, case_id, case_title in events
        if case_id in roles
    ]
    named += [
        f"exhibit {x.label} in case {c.title!r} ({c.id}): unlinking it needs the editor role there"
        for x, c in exhibits
        if c.id in roles and c.id not in editor
    ]
    hidden = len(bundles) + len(events) + len(exhibits) - len(unlinkable) - len(named)
    if not named and not hidden:
        return unlinkable
    text = "; ".join(named[:MAX_NAMED])
    if len(named) > MAX_NAMED:
        text += f"; and {len(named) - MAX_NAMED} more"
    if hidden:
        text += f"{'; and ' if text else ''}{hidden} in cases you are not a member of"
    then = ", ".join(f"exhibit {x.label} in case {c.title!r}" for x, c in unlinkable)
    if bundles:
        then = f" A delete does not unlink the exhibits of a bundle that was built: to delete it anyway, unlink {then}."
    elif then:
        then = f" Once nothing else cites it, deleting it unlinks {then} with it."
    raise EvidenceStillCited(
        f"evidence {item.id} is still cited, so bundles and timelines would cite a deleted item: {text}.{then}"
    )
