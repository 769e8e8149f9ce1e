"""Legal holds mirrored onto the stored blobs, where the store can enforce one (S3 Object Lock legal hold on a
bucket with object lock); on local disk, and on a bucket without object lock, the store does nothing.

The database stays the authority (api/services/holds.py). A hold placed is applied to the blobs inside the
transaction that records it, so a store that refuses fails the request and no hold is recorded without them. A
hold released is lifted after its commit, and only from blobs no other hold covers: one blob may be the original
of items in several cases (the same bytes uploaded twice, an item linked into another case).
"""

import logging
from functools import partial

from sqlalchemy import Connection, Engine, or_, select
from sqlmodel import Session, col

from api.db import on_commit
from api.storage import BlobStore
from models.evidence import EvidenceItem
from models.exhibit import Exhibit

log = logging.getLogger(__name__)


def case_blobs(session: Session, case_id) -> set[str]:
    """The originals of the items a hold on the case covers: uploaded into it, or linked into it as exhibits."""
    linked = select(col(Exhibit.evidence_id)).where(col(Exhibit.case_id) == case_id)
    rows = session.execute(
        select(col(EvidenceItem.sha256)).where(
            or_(col(EvidenceItem.case_id) == case_id, col(EvidenceItem.id).in_(linked))
        )
    )
    return set(rows.scalars())


def place(session: Session, store: BlobStore, case_id) -> None:
    """Hold every blob the case's hold covers, now (see the module's docstring)."""
    for sha256 in sorted(case_blobs(session, case_id)):
        store.set_legal_hold(sha256, True)


def lift(session: Session, store: BlobStore, case_id) -> None:
    """Once the release commits: lift the hold from the case's blobs that no other hold covers."""
    on_commit(session, partial(_lift, store, case_blobs(session, case_id), session.get_bind()))


def still_held(session: Session, hashes: set[str]) -> set[str]:
    """Those of the hashes that some item under a hold has for its original."""
    from api.services import holds  # holds calls this module: imported when used, not at load

    items = session.execute(
        select(col(EvidenceItem.id), col(EvidenceItem.case_id), col(EvidenceItem.sha256)).where(
            col(EvidenceItem.sha256).in_(sorted(hashes))
        )
    ).all()
    held = holds.evidence_holds(session, items, lock=False)
    return {sha256 for item_id, _, sha256 in items if item_id in held}


def _lift(store: BlobStore, hashes: set[str], bind: Engine | Connection) -> None:
    with Session(bind) as session:
        kept = still_held(session, hashes) if hashes else set()
    for sha256 in sorted(hashes - kept):
        try:
            store.set_legal_hold(sha256, False)
        except Exception:  # noqa: BLE001 - the blob stays held (the safe side); releasing the case again is refused
            log.warning("could not lift the legal hold from the blob %s", sha256, exc_info=True)
