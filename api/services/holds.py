"""Legal hold: the one place that answers "is this case, or this evidence item, under hold?".

A case is held while legal_hold_at is set. An evidence item is held when the case it was uploaded into, or
any case it is linked into as an exhibit, is held. While held, nothing linked to it may be deleted,
unlinked or purged, by any route or command, administrators included. Metadata edits and relabels stay
allowed: they destroy nothing and the audit trail keeps their before and after.

Every check locks the case rows it reads (in id order) before reading their hold columns, and setting or
releasing a hold updates the same row, so a hold set while a deletion is under way either lands first and
refuses it, or waits for it to finish.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlmodel import Session, col

from api.errors import Conflict
from api.services import audit, blob_holds
from api.storage import BlobStore
from models.case import Case, CaseMember, LegalHold, LegalHoldState
from models.common import utcnow
from models.evidence import EvidenceItem
from models.exhibit import Exhibit
from models.user import User


class CaseOnHold(Conflict):
    """The case, or a case the evidence is linked into, is on legal hold: nothing in it can be deleted,
    unlinked or purged until an owner releases the hold."""

    code = "case_on_hold"


class CaseAlreadyOnHold(Conflict):
    """The case is already on legal hold: release it first to set it again with another reason."""

    code = "case_already_on_hold"


class CaseNotOnHold(Conflict):
    """The case is not on legal hold, so there is no hold to release."""

    code = "case_not_on_hold"


@dataclass(frozen=True)
class Hold:
    case_id: uuid.UUID
    case_title: str
    reason: str
    set_at: datetime
    set_by: uuid.UUID | None
    set_by_email: str | None

    def describe(self) -> str:
        who = f" by {self.set_by_email}" if self.set_by_email else ""
        return (
            f"case {self.case_title!r} ({self.case_id}) is on legal hold since "
            f"{self.set_at:%Y-%m-%d %H:%M} UTC{who}: {self.reason}"
        )

    def details(self) -> dict:
        return {
            "case_id": self.case_id,
            "case_title": self.case_title,
            "reason": self.reason,
            "set_at": self.set_at,
            "set_by": self.set_by,
        }


def _lock(session: Session, case_ids: Iterable[uuid.UUID]) -> None:
    """Lock the case rows until commit (a row lock on PostgreSQL, the write lock on SQLite), in id order."""
    for case_id in sorted(set(case_ids)):
        session.execute(
            update(Case)
            .where(col(Case.id) == case_id)
            .values(legal_hold_at=Case.legal_hold_at)
            .execution_options(synchronize_session=False)
        )


def holds_on(session: Session, case_ids: Iterable[uuid.UUID], *, lock: bool = True) -> dict[uuid.UUID, Hold]:
    """The holds on those of the cases that are held, read from the rows (not from objects in the session)."""
    ids = sorted(set(case_ids))
    if not ids:
        return {}
    if lock:
        _lock(session, ids)
    rows = session.execute(
        select(
            col(Case.id),
            col(Case.title),
            col(Case.legal_hold_reason),
            col(Case.legal_hold_at),
            col(Case.legal_hold_by),
            col(User.email),
        )
        .outerjoin(User, col(User.id) == Case.legal_hold_by)
        .where(col(Case.id).in_(ids), col(Case.legal_hold_at).is_not(None))
    ).all()
    return {row[0]: Hold(*row) for row in rows}


def case_hold(session: Session, case_id: uuid.UUID, *, lock: bool = True) -> Hold | None:
    return holds_on(session, [case_id], lock=lock).get(case_id)


class Placed(Protocol):
    """What the hold rules read of an evidence item: an EvidenceItem, or a row of its id and upload case."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def case_id(self) -> uuid.UUID: ...


def cases_of(session: Session, items: Sequence[Placed]) -> dict[uuid.UUID, set[uuid.UUID]]:
    """For each item, the case it was uploaded into and every case it is linked into as an exhibit."""
    found = {item.id: {item.case_id} for item in items}
    ids = list(found)
    for i in range(0, len(ids), 1000):
        for evidence_id, case_id in session.execute(
            select(col(Exhibit.evidence_id), col(Exhibit.case_id)).where(
                col(Exhibit.evidence_id).in_(ids[i : i + 1000])
            )
        ):
            found[evidence_id].add(case_id)
    return found


def evidence_holds(session: Session, items: Sequence[Placed], *, lock: bool = True) -> dict[uuid.UUID, Hold]:
    """The hold that keeps each held item (the first by case id when several do); unheld items are absent."""
    cases = cases_of(session, items)
    holds = holds_on(session, set().union(*cases.values()) if cases else set(), lock=lock)
    found = {}
    for item_id, case_ids in cases.items():
        held = sorted((c for c in case_ids if c in holds), key=str)
        if held:
            found[item_id] = holds[held[0]]
    return found


def evidence_hold(session: Session, item: EvidenceItem, *, lock: bool = True) -> Hold | None:
    return evidence_holds(session, [item], lock=lock).get(item.id)


def record_refusal(
    session: Session,
    hold: Hold,
    *,
    attempted: str,
    target: str,
    actor: User | None = None,
    actor_email: str | None = None,
    evidence_id: uuid.UUID | None = None,
    details: dict | None = None,
) -> None:
    """A durable delete.refused event: written even though the request that was refused rolls back."""
    audit.record_case(
        session,
        "delete.refused",
        hold.case_id,
        actor=actor,
        actor_email=actor_email,
        evidence_id=evidence_id,
        details={"attempted": attempted, "target": target, "why": "legal hold", "hold": hold.details()}
        | (details or {}),
        durable=True,
    )


def refuse_if_held(
    session: Session,
    *,
    case_id: uuid.UUID | None = None,
    evidence: EvidenceItem | None = None,
    attempted: str,
    target: str,
    actor: User | None = None,
    actor_email: str | None = None,
    details: dict | None = None,
) -> None:
    """409, with a durable delete.refused event, if the case (or the evidence item) is under legal hold.

    `attempted` is the action refused (exhibit.unlink, evidence.delete...), `target` what it was aimed at,
    in words ("exhibit PX-003").
    """
    if evidence is not None and case_id is None:
        hold = evidence_hold(session, evidence)
    elif case_id is not None and evidence is None:
        hold = case_hold(session, case_id)
    else:
        raise ValueError("refuse_if_held needs a case_id or an evidence item, not both")
    if hold is None:
        return
    record_refusal(
        session,
        hold,
        attempted=attempted,
        target=target,
        actor=actor,
        actor_email=actor_email,
        evidence_id=evidence.id if evidence is not None else None,
        details=details,
    )
    if actor is not None and not _member(session, hold.case_id, actor):
        # The item is also an exhibit in a case the caller cannot see: say so without naming it.
        raise CaseOnHold(f"cannot {target}: it is an exhibit in a case you are not a member of, which is on legal hold")
    raise CaseOnHold(f"cannot {target}: {hold.describe()}. An owner of the case must release the hold first.")


def _member(session: Session, case_id: uuid.UUID, user: User) -> bool:
    return session.get(CaseMember, (case_id, user.id)) is not None


def public(case: Case) -> LegalHold | None:
    """The hold as CasePublic shows it."""
    if case.legal_hold_at is None:
        return None
    if case.legal_hold_reason is None:
        raise ValueError(f"case {case.id} is on legal hold without a reason on record")
    return LegalHold(reason=case.legal_hold_reason, set_at=case.legal_hold_at, set_by=case.legal_hold_by)


def state(case: Case) -> LegalHoldState:
    hold = public(case)
    return LegalHoldState(case_id=case.id, on_hold=hold is not None, **(hold.model_dump() if hold else {}))


def set_hold(session: Session, store: BlobStore, case: Case, reason: str, *, actor: User) -> Case:
    """Put the case on hold, and its blobs where the store enforces holds. Setting it again is a 409: the reason
    on record is never silently replaced."""
    _lock(session, [case.id])
    session.refresh(case)
    if case.on_hold:
        hold = case_hold(session, case.id, lock=False)
        assert hold is not None  # the row was just locked and re-read, and it is on hold
        raise CaseAlreadyOnHold(f"{hold.describe()}. Release the hold first to set it again with another reason.")
    case.legal_hold_at, case.legal_hold_by, case.legal_hold_reason = utcnow(), actor.id, reason
    session.add(case)
    session.flush()
    audit.record_case(session, "hold.set", case.id, actor=actor, details={"reason": reason})
    blob_holds.place(session, store, case.id)
    return case


def release_hold(session: Session, store: BlobStore, case: Case, *, actor: User) -> Case:
    """Lift the hold (and, once committed, the blobs' holds no other case's hold needs); the event keeps the
    reason and when and by whom it was set."""
    _lock(session, [case.id])
    session.refresh(case)
    if not case.on_hold:
        raise CaseNotOnHold(f"case {case.title!r} ({case.id}) is not on legal hold")
    released = {"reason": case.legal_hold_reason, "set_at": case.legal_hold_at, "set_by": case.legal_hold_by}
    case.legal_hold_at = case.legal_hold_by = case.legal_hold_reason = None
    session.add(case)
    session.flush()
    audit.record_case(session, "hold.release", case.id, actor=actor, details=released)
    blob_holds.lift(session, store, case.id)
    return case
