"""The blob layer over the store: whether a blob is still used, how a staged blob joins a transaction, how a blob
leaves the store, and re-hashing what is stored.

Every removal of a blob (a purge, an orphan sweep, a superseded or unrecorded bundle volume, an upload or import
rolled back) goes through `remove`, which asks `in_use` with the blob already set aside, so a row that takes the
bytes up meanwhile gets them back. `in_use` is the one rule. What previews drew from a blob goes with it.
"""

import hashlib
import logging
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Connection, Engine
from sqlmodel import Session, col, select

from api import preview_cache
from api.db import on_commit, on_rollback
from api.services import holds
from api.storage import BlobStore, Readable, SetAside, StagedBlob, stage_stream
from models.bundle import Bundle
from models.evidence import EvidenceItem
from models.import_job import ImportJob
from models.job import ACTIVE
from models.production import Production

log = logging.getLogger(__name__)

BATCH = 1000
CHUNK_BYTES = 1024 * 1024


class _Purged(NamedTuple):
    """An evidence row whose original was purged: what the hold rules need of it, and its hash."""

    id: uuid.UUID
    case_id: uuid.UUID
    sha256: str


def served_store() -> BlobStore:
    """The blob store this process serves. Looked up, not passed: a background job also runs, and ends, in paths
    that carry no store (a runner failing it, a recovery, a worker of the queue)."""
    from api.deps import get_blob_store  # the one place the store is chosen; deps is above services

    return get_blob_store()


def still_used(session: Session, hashes: Iterable[str], *, excluding: Iterable[uuid.UUID] = ()) -> set[str]:
    """Those of the hashes whose blob is still used: the one answer to "may this blob leave the store?".

    A blob is used while a row that can still be read, restored or is kept by law names its SHA-256:
    - an evidence row that is not purged: a live item, or a soft-deleted one. A deleted item can come back (the
      same bytes uploaded again into its case restore it, its custody report is still read), and a purge is the
      one act that lets its original go;
    - an evidence row of an item under legal hold, purged or not: nothing a hold covers leaves the store (an item
      purged before its case went on hold may still have its bytes, kept because another row used them);
    - a volume of any bundle, whatever its status: a bundle queued or running for a rebuild still serves its
      last build, and goes back to it if the rebuild fails or is cancelled;
    - the staged body of an events import job still queued or running (it goes when the job ends).
    Nothing else names a blob: a bundle's own sha256 is its single volume's, or a hash of its volumes' hashes;
    a bundle exhibit's evidence_sha256 names bytes its evidence row keeps; custody reports are made on request
    and never stored. Every other blob is an orphan. `excluding` leaves out evidence rows (the items a purge is
    purging now).
    """
    hashes = sorted(set(hashes))
    if not hashes:
        return set()
    skip = set(excluding)
    found: set[str] = set()
    purged: list[_Purged] = []
    for i in range(0, len(hashes), BATCH):
        batch = hashes[i : i + BATCH]
        found |= set(
            session.exec(
                select(ImportJob.sha256).where(col(ImportJob.status).in_(ACTIVE), col(ImportJob.sha256).in_(batch))
            )
        )
        rows = session.exec(
            select(EvidenceItem.id, EvidenceItem.case_id, EvidenceItem.sha256, EvidenceItem.purged_at).where(
                col(EvidenceItem.sha256).in_(hashes[i : i + BATCH])
            )
        )
        for item_id, case_id, sha256, purged_at in rows:
            if item_id in skip:
                continue
            if purged_at is None:
                found.add(sha256)
            else:
                purged.append(_Purged(item_id, case_id, sha256))
    held = holds.evidence_holds(session, [item for item in purged if item.sha256 not in found], lock=False)
    found |= {item.sha256 for item in purged if item.id in held}
    wanted = set(hashes)
    for volumes in session.exec(select(Bundle.volumes)):
        found |= {v["sha256"] for v in volumes or [] if v.get("sha256") in wanted}
    for i in range(0, len(hashes), BATCH):  # a production's ZIP
        zips = session.exec(select(Production.zip_sha256).where(col(Production.zip_sha256).in_(hashes[i : i + BATCH])))
        found |= {sha256 for sha256 in zips if sha256}
    return found


def in_use(session: Session, sha256: str) -> bool:
    """Whether the blob is still used, by the rule of `still_used`."""
    return bool(still_used(session, [sha256]))


@contextmanager
def staging(store: BlobStore, stream: Readable) -> Iterator[StagedBlob]:
    """Stage a stream in the store for the length of the block: its bytes go at the end, unless `commit_with`
    put them in place meanwhile."""
    staged = stage_stream(store, stream)
    try:
        yield staged
    finally:
        staged.discard()


def commit_with(session: Session, store: BlobStore, staged: StagedBlob) -> bool:
    """Put a staged blob in place now, bound to the session's transaction: kept once it commits; if it rolls
    back, the staged copy goes, and so does the stored blob when this put it there and nothing uses it.

    In place before the commit, so a committed row never names a missing blob. Returns True when this stored
    the bytes, False when the store held them already."""
    try:
        created = staged.commit()
    except BaseException:  # a full disk while putting it in place: the staged copy goes too
        staged.settle(committed=False)
        raise
    bind = session.get_bind()
    on_commit(session, lambda: staged.settle(committed=True))
    on_rollback(session, lambda: _undo(store, staged, created, bind))
    return created


def _undo(store: BlobStore, staged: StagedBlob, created: bool, bind: Engine | Connection) -> None:
    staged.settle(committed=False)
    if created:
        remove(store, staged.sha256, bind)


def remove(store: BlobStore, sha256: str, bind: Engine | Connection) -> None:
    """Remove a blob unless it is used: set it aside, check `in_use` (a row may have taken the bytes up since the
    caller looked: the same file uploaded into another case), then drop it, or put it back.

    Run after the commit that stopped using it; a failure is logged, and the next purge or orphan sweep finishes
    the job."""
    try:
        aside = store.set_aside(sha256)
    except OSError as exc:
        log.warning("could not remove the blob %s: %s", sha256, exc)
        return
    if aside is not None:
        _settle(store, aside, bind)


def settle_left_aside(store: BlobStore, bind: Engine | Connection) -> None:
    """Finish the removals a stopped process left half done."""
    for aside in store.left_aside():
        _settle(store, aside, bind)


def _settle(store: BlobStore, aside: SetAside, bind: Engine | Connection) -> None:
    with Session(bind) as check:
        used = in_use(check, aside.sha256)
    try:
        if used and not store.exists(aside.sha256):
            aside.restore()
        else:
            aside.drop()
            preview_cache.forget(aside.sha256)  # its page images are copies of it, in part: they go with it
    except OSError as exc:
        log.warning("could not settle the blob %s set aside: %s", aside.sha256, exc)


@dataclass(frozen=True)
class Rehashed:
    sha256: str  # what the stored bytes hash to now
    size: int


def rehash(store: BlobStore, sha256: str) -> Rehashed | None:
    """Read the stored blob through and hash it; None when it is not stored."""
    digest, size = hashlib.sha256(), 0
    try:
        stream = store.open(sha256)
    except (FileNotFoundError, IsADirectoryError):
        return None
    with stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return Rehashed(digest.hexdigest(), size)
