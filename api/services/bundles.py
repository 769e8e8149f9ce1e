"""Bundles on the database side: requests, visibility, Bates ranges, and recording a build's outcome."""

import uuid
from collections.abc import Callable

from sqlalchemy import func, update
from sqlmodel import Session, select

from api.errors import Conflict, NotFound, UnprocessableEntity
from api.pagination import keyset_page, parse_datetime, parse_uuid
from api.services import audit
from api.services import exhibits as exhibit_service
from models.bundle import BATES_PREFIX_RE, Bundle, BundleExhibit, BundleRequest, BundleStatus
from models.case import Case, CaseMember
from models.common import utcnow
from models.exhibit import Exhibit
from models.user import User

DEFAULT_PREFIX = "CB"


def default_prefix(case: Case) -> str:
    prefix = (case.bates_prefix or "").upper()
    return prefix if BATES_PREFIX_RE.match(prefix) else DEFAULT_PREFIX


def create_bundle(session: Session, *, case: Case, actor: User, data: BundleRequest) -> Bundle:
    """Queue a bundle of the given exhibits (default: all, in case order), with every option resolved and kept."""
    in_case = list(
        session.exec(select(Exhibit.id).where(Exhibit.case_id == case.id).order_by(Exhibit.position, Exhibit.id))
    )
    if data.exhibit_ids is None:
        if not in_case:
            raise UnprocessableEntity("the case has no exhibits to bundle")
        exhibit_ids = in_case
    else:
        known = set(in_case)
        foreign = [str(i) for i in data.exhibit_ids if i not in known]
        if foreign:
            raise UnprocessableEntity(f"exhibit_ids not in this case: {', '.join(foreign)}")
        exhibit_ids = data.exhibit_ids
    params = data.model_dump(mode="json") | {
        "exhibit_ids": [str(i) for i in exhibit_ids],
        "bates_prefix": data.bates_prefix or default_prefix(case),
    }
    bundle = Bundle(
        case_id=case.id,
        title=data.title or "Exhibits",
        params=params,
        bates_prefix=params["bates_prefix"],
        created_by=actor.id,
        progress_total=len(exhibit_ids),
    )
    session.add(bundle)
    session.flush()
    record(session, "bundle.build", actor, bundle, {"title": bundle.title, "exhibits": len(exhibit_ids)})
    return bundle


def record(session: Session, action: str, actor: User | None, bundle: Bundle, details: dict | None = None) -> None:
    audit.record(
        session,
        action,
        actor=actor,
        case_id=bundle.case_id,
        object_type="bundle",
        object_id=bundle.id,
        details=details,
    )


def queue_rebuild(session: Session, bundle: Bundle, *, actor: User) -> Bundle:
    """Build again from the stored parameters (the same Bates start included)."""
    if bundle.status in (BundleStatus.queued, BundleStatus.running):
        raise Conflict(f"the bundle is {BundleStatus(bundle.status).value}; rebuild it once that build has finished")
    bundle.status, bundle.error, bundle.progress_done = BundleStatus.queued, None, 0
    bundle.started_at = bundle.finished_at = None
    session.add(bundle)
    session.flush()
    record(session, "bundle.rebuild", actor, bundle, {"previous_sha256": bundle.sha256})
    return bundle


def get_visible(session: Session, bundle_id: uuid.UUID, user: User) -> Bundle:
    """The bundle if the user is a member of its case; 404 otherwise, as for a missing one."""
    row = session.exec(
        select(Bundle)
        .join(CaseMember, CaseMember.case_id == Bundle.case_id)
        .where(Bundle.id == bundle_id, CaseMember.user_id == user.id)
    ).first()
    if row is None:
        raise NotFound("bundle not found")
    return row


def list_bundles(session: Session, case: Case, *, limit: int, cursor: str | None):
    stmt = select(Bundle).where(Bundle.case_id == case.id)
    return keyset_page(
        session,
        stmt,
        kind="bundles",
        columns=[Bundle.created_at, Bundle.id],
        parsers=[parse_datetime, parse_uuid],
        key=lambda b: (b.created_at, b.id),
        limit=limit,
        cursor=cursor,
    )


def placements(session: Session, bundle: Bundle) -> list[BundleExhibit]:
    return list(
        session.exec(select(BundleExhibit).where(BundleExhibit.bundle_id == bundle.id).order_by(BundleExhibit.seq))
    )


def next_bates_start(session: Session, case: Case, prefix: str) -> int:
    """One past the highest Bates number already issued under this prefix in the case."""
    exhibit_service.lock_case(session, case)
    highest = session.exec(
        select(func.max(Bundle.bates_last_number)).where(
            Bundle.case_id == case.id, Bundle.status == BundleStatus.done, Bundle.bates_prefix == prefix
        )
    ).one()
    return (highest or 0) + 1


def next_queued(session: Session) -> uuid.UUID | None:
    """The oldest queued bundle (None when nothing waits)."""
    return session.exec(
        select(Bundle.id).where(Bundle.status == BundleStatus.queued).order_by(Bundle.created_at, Bundle.id)
    ).first()


def claim(session: Session, bundle_id: uuid.UUID) -> bool:
    """Mark a queued bundle running; False when another runner claimed it first."""
    return bool(
        session.execute(
            update(Bundle)
            .where(Bundle.id == bundle_id, Bundle.status == BundleStatus.queued)
            .values(status=BundleStatus.running, started_at=utcnow())
        ).rowcount
    )


INTERRUPTED = "the build was interrupted because the server stopped; rebuild the bundle"


def fail_interrupted(session: Session, *, still_building: Callable[[uuid.UUID], bool]) -> int:
    """Bundles left running by a server that stopped mid-build: failed, with a reason, ready to rebuild.

    `still_building` says whether a live process is building one (another server on the same data dir):
    those are left alone. The update is conditional on `running`, so a build that finishes meanwhile stays done.
    """
    running = session.exec(select(Bundle.id).where(Bundle.status == BundleStatus.running)).all()
    failed = 0
    for bundle_id in running:
        if still_building(bundle_id):
            continue
        failed += session.execute(
            update(Bundle)
            .where(Bundle.id == bundle_id, Bundle.status == BundleStatus.running)
            .values(status=BundleStatus.failed, finished_at=utcnow(), error=INTERRUPTED)
        ).rowcount
        if (bundle := session.get(Bundle, bundle_id)) is not None:
            record(session, "bundle.failed", None, bundle, {"error": INTERRUPTED})
    return failed


def mark_failed(session: Session, bundle_id: uuid.UUID, message: str) -> None:
    session.execute(
        update(Bundle)
        .where(Bundle.id == bundle_id)
        .values(status=BundleStatus.failed, error=message[:2000], finished_at=utcnow())
    )
    bundle = session.get(Bundle, bundle_id)
    if bundle is not None:
        record(session, "bundle.failed", None, bundle, {"error": message[:2000]})
