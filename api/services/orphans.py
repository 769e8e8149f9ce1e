"""Orphans: files in the blob store that nothing uses, by the one rule of `blobs.still_used`.

`scan` is what `verify` reports as "blobs without rows"; `purge_orphans` (`casebinder purge --orphans`) clears
them. Two kinds of file are listed but never removed: a blob written within the last hour (an upload, import or
build stores its file just before committing the row that names it, and may not have committed yet), and a file
whose name or place is not that of a blob of this store (nothing of ours put it there: an administrator looks).
"""

import time
from dataclasses import dataclass, field
from functools import partial

from sqlmodel import Session

from api.db import on_commit
from api.services import audit, blobs
from api.storage import BlobStore, StoredFile

GRACE_SECONDS = 3600
# At most this many hashes per list go into the audit event of a run (the printed report has them all).
RECORDED_HASHES = 1000


@dataclass
class Orphan:
    sha256: str
    location: str  # where the store keeps it (a path)
    size: int
    modified: float  # the file's mtime


@dataclass
class Scan:
    files: int = 0  # every file under the store's blob directory
    orphans: list[Orphan] = field(default_factory=list)  # blobs nothing uses
    strays: list[StoredFile] = field(default_factory=list)  # files that are not a blob of this store


@dataclass
class OrphanReport:
    dry_run: bool
    removed: list[Orphan] = field(default_factory=list)  # removed, or to be removed in a dry run
    too_new: list[Orphan] = field(default_factory=list)
    strays: list[StoredFile] = field(default_factory=list)

    @property
    def bytes_freed(self) -> int:
        return sum(o.size for o in self.removed)


def scan(session: Session, store: BlobStore) -> Scan:
    """Every file in the store that `blobs.still_used` says nothing uses, and every file that is not a blob."""
    found, named = Scan(), {}
    for stored in store.list_files():
        found.files += 1
        if stored.sha256 is None:
            found.strays.append(stored)
        else:
            named[stored.sha256] = stored
    used = blobs.still_used(session, named)
    for sha256, stored in named.items():
        if sha256 not in used:
            found.orphans.append(Orphan(sha256, stored.location, stored.size, stored.modified))
    return found


def purge_orphans(
    session: Session, store: BlobStore, *, actor_email: str, dry_run: bool, now: float | None = None
) -> OrphanReport:
    """Remove the orphans older than an hour, after the commit of an audit event naming them (none in a dry run).

    Each removal checks `blobs.in_use` once more with the blob moved aside, so bytes taken up meanwhile (the same file
    uploaded again) are put back.
    """
    now = time.time() if now is None else now
    found = scan(session, store)
    report = OrphanReport(dry_run=dry_run, strays=found.strays)
    for orphan in found.orphans:
        (report.too_new if now - orphan.modified < GRACE_SECONDS else report.removed).append(orphan)
    if dry_run:
        return report
    audit.record(
        session,
        "purge.orphans",
        actor_email=actor_email,
        details={
            "removed": [o.sha256 for o in report.removed][:RECORDED_HASHES],
            "removed_count": len(report.removed),
            "bytes_freed": report.bytes_freed,
            "kept_too_new": [o.sha256 for o in report.too_new][:RECORDED_HASHES],
            "not_blobs": [p.key for p in report.strays][:RECORDED_HASHES],
        },
    )
    bind = session.get_bind()
    for orphan in report.removed:
        on_commit(session, partial(blobs.remove, store, orphan.sha256, bind))
    return report


def render(report: OrphanReport) -> list[str]:
    """The report as text: a line per file, then a summary."""
    verb = "would be removed" if report.dry_run else "removed"
    lines = [
        f"{'ORPHAN  ' if report.dry_run else 'REMOVED '} {o.sha256} ({o.size} bytes): nothing uses it, {verb}"
        for o in report.removed
    ]
    lines += [
        f"KEPT     {o.sha256}: written less than an hour ago (an upload or build may not have recorded it yet)"
        for o in report.too_new
    ]
    lines += [
        f"KEPT     {p.location}: not a blob of this store (name or place); look at it by hand" for p in report.strays
    ]
    summary = (
        f"{len(report.removed)} orphan blob(s), {report.bytes_freed} bytes freed; kept {len(report.too_new)} "
        f"written in the last hour and {len(report.strays)} file(s) that are not blobs"
    )
    lines.append(f"dry run: would remove {summary}" if report.dry_run else f"removed {summary}")
    return lines
