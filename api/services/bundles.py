"""Bundles on the database side: requests, visibility, Bates ranges, and recording a build's outcome."""

import errno
import os
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
CRASHED = "the build process stopped unexpectedly (out of memory or killed); rebuild it"
DISK_FULL = (
    "the server ran out of disk space while writing the bundle, so nothing of it was kept; "
    "free some space on the server (or ask its administrator to), then rebuild the bundle"
)


def timed_out(limit_seconds: float) -> str:
    """Why a build that ran past its wall-clock limit was stopped."""
    minutes = limit_seconds / 60
    limit = f"{minutes:g}-minute" if minutes >= 1 and minutes == int(minutes) else f"{limit_seconds:g}-second"
    return (
        f"the build took longer than the {limit} limit and was stopped; build fewer exhibits at a time, "
        "or ask the administrator to raise the limit (CASEBINDER_BUNDLE_BUILD_TIMEOUT_SECONDS), then rebuild it"
    )


def failure_reason(exc: BaseException) -> str:
    """A build's exception as the bundle's error: a full disk said in words, anything else as raised."""
    seen, current = set(), exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return DISK_FULL
        current = current.__cause__ or current.__context__
    text = f"{type(exc).__name__}: {exc}"
    # qpdf and other libraries report a full disk in their own exception types, with the system's words.
    if os.strerror(errno.ENOSPC) in text or os.strerror(errno.EDQUOT) in text:
        return DISK_FULL
    return text


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


def mark_failed(session: Session, bundle_id: uuid.UUID, message: str) -> bool:
    """Fail a running build with `message`; False (and nothing written) when it is no longer running: a build
    cancelled, or failed already, keeps the reason it was given first."""
    failed = session.execute(
        update(Bundle)
        .where(Bundle.id == bundle_id, Bundle.status == BundleStatus.running)
        .values(status=BundleStatus.failed, error=message[:2000], finished_at=utcnow())
    ).rowcount
    bundle = session.get(Bundle, bundle_id) if failed else None
    if bundle is not None:
        record(session, "bundle.failed", None, bundle, {"error": message[:2000]})
    return bool(failed)


def status_of(session: Session, bundle_id: uuid.UUID) -> BundleStatus | None:
    status = session.exec(select(Bundle.status).where(Bundle.id == bundle_id)).first()
    return None if status is None else BundleStatus(status)


def finishing(session: Session, bundle_id: uuid.UUID) -> Bundle | None:
    """Mark a running build done and return the bundle, for its results to be filled in within the same
    transaction; None, with nothing written, when the build was cancelled meanwhile.

    The update comes first, so the row (on SQLite, the database) stays locked until the results commit: a cancel
    either lands before and the results are dropped, or waits and finds the bundle done."""
    done = session.execute(
        update(Bundle)
        .where(Bundle.id == bundle_id, Bundle.status == BundleStatus.running)
        .values(status=BundleStatus.done)
    ).rowcount
    return session.get(Bundle, bundle_id) if done else None


def cancel(session: Session, bundle: Bundle, *, actor: User) -> Bundle:
    """Stop a queued or running build: the bundle fails at once, saying who cancelled it and when; a running
    build's process is stopped by the runner that watches it, which cleans up after it."""
    was = BundleStatus(bundle.status)
    if was not in (BundleStatus.queued, BundleStatus.running):
        why = "it has been built" if was == BundleStatus.done else "its build has already ended"
        raise Conflict(f"the bundle is {was.value}: {why}, so there is nothing to cancel")
    now = utcnow()
    message = f"cancelled by {actor.email} at {now:%Y-%m-%d %H:%M:%S} UTC; rebuild the bundle to build it again"
    cancelled = session.execute(
        update(Bundle)
        .where(Bundle.id == bundle.id, Bundle.status == was)
        .values(status=BundleStatus.failed, error=message, finished_at=now)
    ).rowcount
    session.refresh(bundle)
    if not cancelled:  # it moved on meanwhile (started, finished or failed): say what it is now
        if bundle.status in (BundleStatus.queued, BundleStatus.running):
            return cancel(session, bundle, actor=actor)
        raise Conflict(
            f"the bundle is {BundleStatus(bundle.status).value}: its build ended before it could be cancelled"
        )
    record(session, "bundle.cancel", actor, bundle, {"was": was.value})
    return bundle
