"""Admin purge: the originals of soft-deleted evidence leave the store, unless a legal hold keeps the item or
another row still uses the same bytes.

Each purged item gets purged_at and an evidence.purge event; an item under hold is skipped with a
delete.refused event. A blob goes only when, after the run, `blobs.still_used` (the one rule for every blob
removal) says nothing uses it. Blobs are removed after the commit, so a rollback never leaves a row without its
original; a run that stops before removing them leaves purged rows whose blobs the next run removes.
"""

from functools import partial

from sqlalchemy import update
from sqlmodel import Session, col, select

from api.db import on_commit, rowcount
from api.services import audit, blobs, holds, record_sets
from api.services import text as text_service
from api.storage import BlobStore
from models.common import utcnow
from models.evidence import EvidenceItem
from models.purge import PurgedItem, PurgeReport, SkippedItem
from models.user import User


def purge(
    session: Session,
    store: BlobStore,
    *,
    actor: User | None = None,
    actor_email: str | None = None,
    dry_run: bool = False,
) -> PurgeReport:
    """Purge every soft-deleted, unpurged item not under hold; with `dry_run`, only report what would go."""
    report = PurgeReport(dry_run=dry_run)
    bind = session.get_bind()
    if not dry_run:
        blobs.settle_left_aside(store, bind)
    items = list(
        session.exec(
            select(EvidenceItem)
            .where(col(EvidenceItem.deleted_at).is_not(None), col(EvidenceItem.purged_at).is_(None))
            .order_by(col(EvidenceItem.deleted_at), col(EvidenceItem.id))
        )
    )
    held = holds.evidence_holds(session, items, lock=not dry_run)
    now, purged = utcnow(), []
    for item in items:
        hold = held.get(item.id)
        if hold is not None:
            report.skipped.append(
                SkippedItem(
                    evidence_id=item.id,
                    case_id=item.case_id,
                    sha256=item.sha256,
                    why=hold.describe(),
                    hold_case_id=hold.case_id,
                    hold_reason=hold.reason,
                )
            )
            if not dry_run:
                holds.record_refusal(
                    session,
                    hold,
                    attempted="evidence.purge",
                    target=f"purge evidence {item.id}",
                    actor=actor,
                    actor_email=actor_email,
                    evidence_id=item.id,
                )
            continue
        if not dry_run and not _mark_purged(session, item, now):
            continue  # restored, or purged by another run, since it was read
        if not dry_run:
            text_service.forget(session, item.id)
            record_sets.forget(session, item.id)
        purged.append(item)

    # Hashes that may go: this run's, and those of items purged earlier whose blob is still there.
    earlier = session.exec(select(EvidenceItem.sha256).where(col(EvidenceItem.purged_at).is_not(None)).distinct())
    candidates = {item.sha256 for item in purged} | {sha for sha in earlier if store.exists(sha)}
    used = blobs.still_used(session, candidates, excluding={item.id for item in purged})
    removable = sorted(sha for sha in candidates - used if store.exists(sha))
    report.blobs_removed = removable
    report.bytes_freed = sum(store.size(sha) for sha in removable)
    for item in purged:
        assert item.deleted_at is not None  # only soft-deleted items were selected
        entry = PurgedItem(
            evidence_id=item.id,
            case_id=item.case_id,
            sha256=item.sha256,
            size_bytes=item.size_bytes,
            deleted_at=item.deleted_at,
            deleted_reason=item.deleted_reason,
            blob_removed=item.sha256 in removable,
        )
        report.purged.append(entry)
        if not dry_run:
            audit.record(
                session,
                "evidence.purge",
                actor=actor,
                actor_email=actor_email,
                case_id=item.case_id,
                evidence_id=item.id,
                object_type="evidence",
                object_id=item.id,
                details=entry.model_dump(
                    include={"sha256", "size_bytes", "deleted_at", "deleted_reason", "blob_removed"}
                )
                | {"deleted_by": item.deleted_by},
            )
    if not dry_run:
        for sha in removable:
            on_commit(session, partial(blobs.remove, store, sha, bind))
    return report


def _mark_purged(session: Session, item: EvidenceItem, now) -> bool:
    """Set purged_at only if the item is still deleted and unpurged: a restore committed meanwhile wins."""
    result = session.execute(
        update(EvidenceItem)
        .where(
            col(EvidenceItem.id) == item.id,
            col(EvidenceItem.deleted_at).is_not(None),
            col(EvidenceItem.purged_at).is_(None),
        )
        .values(purged_at=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def render(report: PurgeReport) -> list[str]:
    """The report as text: a line per item, then a summary."""
    lines = []
    for item in report.purged:
        blob = "original removed" if item.blob_removed else "original kept: the same bytes are still in use"
        lines.append(f"PURGED   evidence {item.evidence_id} (case {item.case_id}): {item.size_bytes} bytes, {blob}")
    for skipped in report.skipped:
        lines.append(f"SKIPPED  evidence {skipped.evidence_id} (case {skipped.case_id}): {skipped.why}")
    verb = "would purge" if report.dry_run else "purged"
    lines.append(
        f"{'dry run: ' if report.dry_run else ''}{verb} {len(report.purged)} item(s), "
        f"skipped {len(report.skipped)} under legal hold, {len(report.blobs_removed)} blob(s) "
        f"{'to remove' if report.dry_run else 'removed'}, {report.bytes_freed} bytes freed"
    )
    return lines
