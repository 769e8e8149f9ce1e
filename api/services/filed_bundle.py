"""The bundle a case has filed (or is about to): its chronology cites that bundle's Bates numbers by default, and
a rebuild of it is made beside it, so the bytes that were filed stay as they were."""

import uuid

from sqlmodel import Session, select

from api.errors import BundleNotDone, Conflict, NotFound
from api.services import audit, holds
from api.services.timeline.citations import not_done
from models.bundle import Bundle, BundleStatus
from models.case import Case
from models.common import utcnow
from models.user import User


class NoFiledBundle(Conflict):
    """The case has no filed bundle to clear."""

    code = "no_filed_bundle"


def mark(session: Session, case: Case, bundle_id: uuid.UUID, *, actor: User) -> Case:
    """Mark a done bundle of the case as the one filed, in place of any marked before.

    Another case's bundle is 404, as for one that does not exist; one that is not done is 409. The case row is
    locked first, as a rebuild locks it: a rebuild queued meanwhile has made the bundle not done, or waits and
    then finds it filed (and builds beside it)."""
    holds.case_hold(session, case.id)
    bundle = session.exec(select(Bundle).where(Bundle.id == bundle_id, Bundle.case_id == case.id)).first()
    if bundle is None:
        raise NotFound("bundle not found")
    session.refresh(bundle)
    session.refresh(case)
    if bundle.status != BundleStatus.done:
        raise BundleNotDone(not_done(BundleStatus(bundle.status), rebuilding=bundle.sha256 is not None))
    previous = case.filed_bundle_id
    if previous == bundle.id:
        return case
    case.filed_bundle_id, case.updated_at = bundle.id, utcnow()
    session.add(case)
    session.flush()
    details = {
        "title": bundle.title,
        "sha256": bundle.sha256,
        "bates": [bundle.bates_first, bundle.bates_last],
        "previous_bundle_id": previous,
    }
    _record(session, "filed_bundle.set", actor, case, bundle.id, details)
    return case


def clear(session: Session, case: Case, *, actor: User) -> Case:
    """Unmark the case's filed bundle (409 when none is marked): the chronology then cites the newest done one."""
    holds.case_hold(session, case.id)
    session.refresh(case)
    previous = case.filed_bundle_id
    if previous is None:
        raise NoFiledBundle("the case has no filed bundle to clear")
    case.filed_bundle_id, case.updated_at = None, utcnow()
    session.add(case)
    session.flush()
    _record(session, "filed_bundle.clear", actor, case, previous, None)
    return case


def is_filed(session: Session, bundle: Bundle) -> bool:
    """Whether the bundle is the one its case has filed (read from the case row as it is now)."""
    filed = session.exec(select(Case.filed_bundle_id).where(Case.id == bundle.case_id)).first()
    return filed == bundle.id


def _record(session: Session, action: str, actor: User, case: Case, bundle_id: uuid.UUID, details: dict | None):
    audit.record(
        session, action, actor=actor, case_id=case.id, object_type="bundle", object_id=bundle_id, details=details
    )
