"""Bundles on the database side: requests, visibility, Bates ranges, and recording a build's outcome."""

import errno
import os
import uuid
from collections.abc import Iterator

from sqlalchemy import update
from sqlmodel import Session, col, select

from api.bundle import volume_limit
from api.bundle.spec import BundleError
from api.db import rowcount
from api.errors import BundleNotFinished, Conflict, ObjectStoreUnavailable, UnprocessableEntity
from api.pagination import keyset_page, parse_datetime, parse_uuid
from api.services import access, audit, filed_bundle, holds, jobs, redactions
from api.services import exhibits as exhibit_service
from api.storage import StoreNotAnswering
from models.audit import AuditEvent
from models.bundle import BATES_PREFIX_RE, Bundle, BundleExhibit, BundleRequest, BundleStatus
from models.case import Case, Role
from models.common import utcnow
from models.evidence import EvidenceItem
from models.exhibit import Exhibit
from models.production import Production
from models.user import User


class NothingToCancel(Conflict):
    """The bundle's build has already ended: there is nothing to cancel."""

    code = "nothing_to_cancel"


class BundleHasVolumes(Conflict):
    """The bundle is split into volumes: download it volume by volume."""

    code = "bundle_has_volumes"


DEFAULT_PREFIX = "CB"


def default_prefix(case: Case) -> str:
    prefix = (case.bates_prefix or "").upper()
    return prefix if BATES_PREFIX_RE.match(prefix) else DEFAULT_PREFIX


def create_bundle(session: Session, *, case: Case, actor: User, data: BundleRequest) -> Bundle:
    """Queue a bundle of the given exhibits (default: all, in case order), with every option resolved and kept."""
    in_case = list(
        session.exec(
            select(col(Exhibit.id))
            .where(col(Exhibit.case_id) == case.id)
            .order_by(col(Exhibit.position), col(Exhibit.id))
        )
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
    if data.filing_copy:
        exhibit_ids = _filing_copy(session, exhibit_ids)
    if data.max_volume_mb:
        _refuse_oversize_pages(session, exhibit_ids, int(data.max_volume_mb * 1_000_000))
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
    QUEUE.queue(session, bundle)
    record(session, "bundle.build", actor, bundle, {"title": bundle.title, "exhibits": len(exhibit_ids)})
    return bundle


def _filing_copy(session: Session, exhibit_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """The exhibits of a filing copy: each one's redactions must all be applied (RedactionsNotApplied), and a redacted
    copy whose original is in the bundle too is left out (the original's place shows it)."""
    rows = session.exec(
        select(Exhibit.id, EvidenceItem).join(EvidenceItem, col(EvidenceItem.id) == Exhibit.evidence_id)
        .where(col(Exhibit.id).in_(exhibit_ids))
    ).all()  # fmt: skip
    items = {exhibit_id: item for exhibit_id, item in rows}
    copies = set()
    for item in items.values():
        redaction_set, _ = redactions.redacted_copy(session, item)
        if redaction_set is not None and redaction_set.derived_evidence_id is not None:
            copies.add(redaction_set.derived_evidence_id)
    return [i for i in exhibit_ids if i not in items or items[i].id not in copies]


def filing_source(session: Session, item: EvidenceItem) -> EvidenceItem:
    """What a filing copy shows of an item: its redacted copy where it has one, else itself."""
    redaction_set, _ = redactions.redacted_copy(session, item)
    if redaction_set is None or redaction_set.derived_evidence_id is None:
        return item
    copy = session.get(EvidenceItem, redaction_set.derived_evidence_id)
    if copy is None or copy.deleted_at is not None:
        raise redactions.RedactionsNotApplied(
            f"the redacted copy of {item.title[:80]} was deleted: apply its redactions again, then build the bundle"
        )
    return copy


def _refuse_oversize_pages(session: Session, exhibit_ids: list[uuid.UUID], limit_bytes: int) -> None:
    """422 when a page of one of these exhibits is known, before building, to be larger than a volume may be."""
    originals = session.exec(
        select(Exhibit.label, EvidenceItem.media_type, EvidenceItem.size_bytes)
        .join(EvidenceItem, col(EvidenceItem.id) == Exhibit.evidence_id)
        .where(col(Exhibit.id).in_(exhibit_ids), col(EvidenceItem.size_bytes) > limit_bytes)
        .order_by(col(Exhibit.position), col(Exhibit.id))
    ).all()
    reason = volume_limit.oversize_originals(limit_bytes, [(label, kind, size) for label, kind, size in originals])
    if reason:
        raise UnprocessableEntity(reason)


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
    """Build again from the stored parameters (the same Bates numbers); returns the bundle that will be built.

    Outside a legal hold the bundle is rebuilt in place: it serves its last build until the new one is recorded,
    and keeps it if the rebuild fails (see `mark_failed`). Under a hold nothing built for the case is replaced:
    the rebuild is a new bundle beside this one (`rebuilt_from`), with the same parameters. So is a rebuild of
    the bundle the case has filed: what was filed stays as it was filed.
    """
    hold = holds.case_hold(session, bundle.case_id)  # locks the case row: a hold being set lands first, or waits
    session.refresh(bundle)
    if bundle.status in (BundleStatus.queued, BundleStatus.running):
        raise BundleNotFinished(
            f"the bundle is {BundleStatus(bundle.status).value}; rebuild it once that build has finished"
        )
    filed = filed_bundle.is_filed(session, bundle)
    if hold is not None or filed:
        beside = _beside(session, bundle, created_by=actor.id)
        why = {"why": "legal hold", "hold": hold.details()} if hold is not None else {"why": "filed bundle"}
        record(
            session,
            "bundle.rebuild",
            actor,
            beside,
            {"rebuilt_from": bundle.id, "previous_sha256": bundle.sha256} | why,
        )
        return beside
    bundle.error, bundle.progress_done = None, 0
    if bundle.sha256 is None:  # otherwise it still serves the build that finished then
        bundle.finished_at = None
    QUEUE.queue(session, bundle)
    record(session, "bundle.rebuild", actor, bundle, {"previous_sha256": bundle.sha256})
    return bundle


def _beside(session: Session, bundle: Bundle, *, created_by: uuid.UUID) -> Bundle:
    beside = Bundle(
        case_id=bundle.case_id,
        title=bundle.title,
        params=dict(bundle.params),
        bates_prefix=bundle.bates_prefix,
        created_by=created_by,
        progress_total=len(bundle.params["exhibit_ids"]),
        rebuilt_from=bundle.id,
    )
    return QUEUE.queue(session, beside)


def original(session: Session, bundle: Bundle) -> Bundle:
    """The bundle a line of rebuilds beside started from: the date on its cover is the one they all print."""
    seen = {bundle.id}
    while bundle.rebuilt_from is not None and bundle.rebuilt_from not in seen:
        source = session.get(Bundle, bundle.rebuilt_from)
        if source is None or source.case_id != bundle.case_id:  # only ever a bundle of the same case
            break
        seen.add(source.id)
        bundle = source
    return bundle


def recording_target(session: Session, bundle_id: uuid.UUID) -> tuple[Bundle, list[str]]:
    """Where a finished build is recorded, and the volume hashes it supersedes there.

    The bundle itself, normally. But when its case went on hold while a bundle that had a build was rebuilt in
    place, that build stays as it was, and the new one becomes a bundle beside it, as a rebuild under hold does.
    """
    bundle = session.get(Bundle, bundle_id)
    assert bundle is not None  # the caller has just finished its build, so the row is there and locked
    hold = holds.case_hold(session, bundle.case_id)  # locked until the build is recorded: a hold waits for it
    if hold is None or bundle.sha256 is None:
        return bundle, [v["sha256"] for v in bundle.volumes or []]
    requested = session.exec(
        select(AuditEvent.actor_id)
        .where(AuditEvent.object_id == str(bundle.id), AuditEvent.action == "bundle.rebuild")
        .order_by(col(AuditEvent.seq).desc())
    ).first()
    beside = _beside(session, bundle, created_by=requested or bundle.created_by)
    bundle.status, bundle.error = BundleStatus.done, None
    assert bundle.page_count is not None  # recorded with the sha256 of the build the bundle keeps
    bundle.progress_done = bundle.progress_total = bundle.page_count
    session.add(bundle)
    why = {"why": "legal hold set while the rebuild waited", "hold": hold.details(), "requested_by": requested}
    record(session, "bundle.rebuild", None, beside, {"rebuilt_from": bundle.id, "previous_sha256": bundle.sha256} | why)
    return beside, []


def get_visible(session: Session, bundle_id: uuid.UUID, user: User, *, role: Role = Role.viewer) -> Bundle:
    """The bundle if the user is a member of its case holding `role` (403 for a lesser role); 404 otherwise, as
    for a missing one."""
    return access.case_object(session, Bundle, bundle_id, user, "bundle", role)


def list_bundles(session: Session, case: Case, *, limit: int, cursor: str | None, newest_first: bool = False):
    stmt = select(Bundle).where(Bundle.case_id == case.id)
    return keyset_page(
        session,
        stmt,
        kind="bundles-newest" if newest_first else "bundles",
        columns=[Bundle.created_at, Bundle.id],
        parsers=[parse_datetime, parse_uuid],
        key=lambda b: (b.created_at, b.id),
        limit=limit,
        cursor=cursor,
        descending=newest_first,
    )


def placements(session: Session, bundle: Bundle) -> list[BundleExhibit]:
    return list(
        session.exec(
            select(BundleExhibit).where(col(BundleExhibit.bundle_id) == bundle.id).order_by(col(BundleExhibit.seq))
        )
    )


def next_bates_start(session: Session, case: Case, prefix: str) -> int:
    """One past the highest Bates number already issued under this prefix in the case, by a bundle or a
    production."""
    exhibit_service.lock_case(session, case)
    return (highest_issued(session, case, prefix)[0] or 0) + 1


def highest_issued(session: Session, case: Case, prefix: str) -> tuple[int | None, str | None]:
    """The highest Bates number issued under this prefix in the case, and what issued it ("bundle <title>",
    "production PROD001 <name>")."""
    bundle = session.exec(
        select(Bundle.bates_last_number, Bundle.title)
        .where(
            # Any bundle that was ever built, whatever it is doing now (a rebuild keeps the numbers it issued).
            Bundle.case_id == case.id,
            col(Bundle.bates_last_number).is_not(None),
            Bundle.bates_prefix == prefix,
        )
        .order_by(col(Bundle.bates_last_number).desc())
        .limit(1)
    ).first()
    production = session.exec(
        select(Production.bates_last_number, Production.number, Production.name)
        .where(
            Production.case_id == case.id,
            col(Production.bates_last_number).is_not(None),
            Production.prefix == prefix,
        )
        .order_by(col(Production.bates_last_number).desc())
        .limit(1)
    ).first()
    found: list[tuple[int, str]] = []
    if bundle is not None and bundle[0] is not None:
        found.append((bundle[0], f"bundle {bundle[1]!r}"))
    if production is not None and production[0] is not None:
        found.append((production[0], f"production PROD{production[1]:03d} {production[2]!r}"))
    if not found:
        return None, None
    return max(found, key=lambda f: f[0])


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


UNEXPECTED = (
    "the build stopped on an unexpected problem, so nothing of it was kept; rebuild the bundle, and if it fails "
    "again, the server log (under the bundle's id) says what went wrong"
)


def store_away(waited_seconds: float) -> str:
    """Why a build failed whose object store did not answer on any try, after waiting `waited_seconds` for it."""
    waited = f", even after waiting {waited_seconds:.0f} s for it" if waited_seconds else ""
    return (
        f"the object store holding the evidence did not answer{waited}, so the bundle could not be built and "
        "nothing of it was kept; rebuild it once the store is back (the server log says which store)"
    )


def object_store_away(exc: BaseException) -> bool:
    """Whether the object store not answering is what `exc` came from (somewhere in its chain)."""
    away = (ObjectStoreUnavailable, StoreNotAnswering)
    return any(isinstance(current, away) for current in _chain(exc))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what caused it, and what caused that, once each."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def failure_reason(exc: BaseException) -> str:
    """A build's exception as the bundle's error, in words: a full disk, or a reason the build gave (BundleError),
    else a general one. Never an exception's name, its text or a path: those are in the server log."""
    if any(isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT) for current in _chain(exc)):
        return DISK_FULL
    text = f"{type(exc).__name__}: {exc}"
    # qpdf and other libraries report a full disk in their own exception types, with the system's words.
    if os.strerror(errno.ENOSPC) in text or os.strerror(errno.EDQUOT) in text:
        return DISK_FULL
    if isinstance(exc, BundleError):
        return str(exc)
    return UNEXPECTED


def _end_build(session: Session, bundle_id: uuid.UUID, was: BundleStatus, message: str, kept_why: str) -> bool | None:
    """End a build still `was` (queued or running). A bundle that holds an earlier build goes back to serving it:
    status done, `kept_why` and the message in `error`, so a rebuild that does not finish never takes away a PDF
    that was built. A bundle without one is failed with the message.

    True when an earlier build was kept, False when the bundle failed, None when it is no longer `was` (nothing
    written: a build cancelled, or failed already, keeps the reason it was given first)."""
    message = message[:2000]
    stmt = update(Bundle).where(col(Bundle.id) == bundle_id, col(Bundle.status) == was)
    kept = rowcount(
        session.execute(
            stmt.where(col(Bundle.sha256).is_not(None)).values(
                status=BundleStatus.done,
                error=f"{kept_why}, so the bundle keeps its previous build: {message}"[:2000],
                progress_done=Bundle.page_count,
                progress_total=Bundle.page_count,
            )
        )
    )
    if kept:
        return True
    return False if QUEUE.fail(session, bundle_id, message, was=(was,)) else None


def mark_failed(session: Session, bundle_id: uuid.UUID, message: str) -> bool:
    """Record that a running build failed (see `_end_build`); False, with nothing written, when it is no longer
    running."""
    kept = _end_build(session, bundle_id, BundleStatus.running, message, "the rebuild failed")
    if kept is None:
        return False
    bundle = session.get(Bundle, bundle_id)
    assert bundle is not None  # `_end_build` has just updated the row
    session.refresh(bundle)
    record(
        session,
        "bundle.failed",
        None,
        bundle,
        {"error": message[:2000]} | ({"kept_sha256": bundle.sha256} if kept else {}),
    )
    return True


def cancel(session: Session, bundle: Bundle, *, actor: User) -> Bundle:
    """Stop a queued or running build, saying who cancelled it and when: the bundle fails at once, or goes back to
    serving its previous build (see `_end_build`). A running build's process is stopped by the runner that watches
    it, which cleans up after it."""
    was = BundleStatus(bundle.status)
    if was not in (BundleStatus.queued, BundleStatus.running):
        why = "it has been built" if was == BundleStatus.done else "its build has already ended"
        raise NothingToCancel(f"the bundle is {was.value}: {why}, so there is nothing to cancel")
    now = utcnow()
    message = f"cancelled by {actor.email} at {now:%Y-%m-%d %H:%M:%S} UTC; rebuild the bundle to build it again"
    kept = _end_build(session, bundle.id, was, message, "the rebuild was cancelled")
    session.refresh(bundle)
    if kept is None:  # it moved on meanwhile (started, finished or failed): say what it is now
        if bundle.status in (BundleStatus.queued, BundleStatus.running):
            return cancel(session, bundle, actor=actor)
        raise NothingToCancel(
            f"the bundle is {BundleStatus(bundle.status).value}: its build ended before it could be cancelled"
        )
    record(
        session, "bundle.cancel", actor, bundle, {"was": was.value} | ({"kept_sha256": bundle.sha256} if kept else {})
    )
    return bundle


# A bundle whose rebuild fails goes back to its earlier build (see `_end_build`); one a stopped server was building
# too, ready to be rebuilt.
# A case's builds run one at a time in the queue's workers, as they do in a server's runner.
QUEUE = jobs.Queue(
    "bundle",
    Bundle,
    BundleStatus,
    order=(Bundle.created_at, Bundle.id),
    interrupted=INTERRUPTED,
    failing=mark_failed,
    serial_by="case_id",
)
