"""Case export: one ZIP holding a manifest of everything the case is and every file it needs, streamed.

The manifest is written first, from one read-only snapshot of the database, to a spooled temporary file, so
its SHA-256 goes into the `case.export` audit event before the request commits. The files follow after the
commit, read from the content-addressed store (whose blobs never change) a chunk at a time and re-hashed on
the way out: a blob that no longer matches its name stops the stream instead of shipping wrong bytes. Nothing
is held in memory whole, so a case of any size exports in constant memory.

Rows are written with every column, except that references to users become their e-mail addresses
(`created_by` -> `created_by_email`): user ids differ between instances, addresses do not. The format both
sides share (paths in the ZIP, manifest sections, the columns that name users) is transfer.spec.
"""

import hashlib
import json
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime
from enum import Enum
from typing import IO

from sqlalchemy import Table, or_, select
from sqlmodel import Session, col

from api import __version__
from api.db import engine_of, read_snapshot
from api.errors import BundleNotFinished, Conflict
from api.services import audit
from api.services.transfer.spec import (
    AUDIT,
    BUNDLES,
    CASES,
    EVIDENCE,
    EXHIBITS,
    FORMAT,
    FORMAT_VERSION,
    IMPORTED,
    PLACEMENTS,
    SECTIONS,
    TIMELINE,
    evidence_path,
    user_columns,
    volume_path,
)
from api.services.transfer.zipstream import CaseExport, ExportFile
from api.storage import BlobStore
from models.audit import AuditHead
from models.bundle import Bundle, BundleStatus
from models.case import Case, CaseMember
from models.common import utcnow
from models.evidence import EvidenceItem
from models.exhibit import Exhibit
from models.user import User


class StoredFileMissing(Conflict):
    """A file the case needs is missing from the blob store: `casebinder verify` reports what is damaged."""

    code = "stored_file_missing"


MANIFEST_MEMORY_BYTES = 8 * 1024 * 1024  # beyond this the manifest spills to disk
BATCH = 1000

# Formats that are compressed already: deflating them again costs time and saves nothing.
_STORED_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "application/zip"}
_STORED_PREFIXES = ("video/", "audio/")


def plain(value):
    """A column value as JSON: ids and instants as text (ISO 8601, UTC), enums by value."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def dumps(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=plain)


class _HashingWriter:
    """Writes text to a binary file and hashes what it wrote."""

    def __init__(self, target: IO[bytes]):
        self.target, self.digest, self.size = target, hashlib.sha256(), 0

    def write(self, text: str) -> None:
        data = text.encode()
        self.digest.update(data)
        self.target.write(data)
        self.size += len(data)


def _stored(media_type: str) -> bool:
    return media_type in _STORED_TYPES or media_type.startswith(_STORED_PREFIXES)


def _rows(session: Session, stmt) -> Iterator[dict]:
    """Rows as dicts, fetched a batch at a time (a server-side cursor on PostgreSQL)."""
    result = session.connection().execute(stmt.execution_options(yield_per=BATCH))
    for row in result.mappings():
        yield dict(row)


def _evidence_filter(case_id: uuid.UUID):
    """Evidence of the case, exactly what its members can read through it: uploaded into it, or linked into it as
    an exhibit. (A timeline event citing anything else exports without that citation.)"""
    linked = select(col(Exhibit.evidence_id)).where(col(Exhibit.case_id) == case_id)
    return or_(col(EvidenceItem.case_id) == case_id, col(EvidenceItem.id).in_(linked))


def _section_queries(case_id: uuid.UUID) -> dict[str, object]:
    return {
        "evidence": select(EVIDENCE).where(_evidence_filter(case_id)).order_by(EVIDENCE.c.created_at, EVIDENCE.c.id),
        "exhibits": select(EXHIBITS).where(EXHIBITS.c.case_id == case_id).order_by(EXHIBITS.c.position, EXHIBITS.c.id),
        "timeline_events": select(TIMELINE)
        .where(TIMELINE.c.case_id == case_id)
        .order_by(TIMELINE.c.occurred_at, TIMELINE.c.id),
        "bundles": select(BUNDLES).where(BUNDLES.c.case_id == case_id).order_by(BUNDLES.c.created_at, BUNDLES.c.id),
    }


def _referenced_users(session: Session, case_row: dict, queries: dict) -> dict[uuid.UUID, dict]:
    """Every user a row of the case names (members, uploaders, creators...): id -> {email, full_name}."""
    members = select(col(CaseMember.user_id)).where(col(CaseMember.case_id) == case_row["id"])
    ids: set[uuid.UUID] = set(session.execute(members).scalars())
    ids |= {case_row[name] for name in user_columns(CASES)}
    for section, stmt in queries.items():
        for name in user_columns(SECTIONS[section]):
            sub = stmt.order_by(None).subquery()
            ids |= set(session.execute(select(sub.c[name]).distinct()).scalars())
    ids.discard(None)
    users: dict[uuid.UUID, dict] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), BATCH):
        batch = select(col(User.id), col(User.email), col(User.full_name)).where(
            col(User.id).in_(ordered[start : start + BATCH])
        )
        for user_id, email, full_name in session.execute(batch):
            users[user_id] = {"email": email, "full_name": full_name}
    return users


def _with_emails(row: dict, table: Table, users: dict[uuid.UUID, dict]) -> dict:
    for name in user_columns(table):
        user_id = row.pop(name)
        row[f"{name}_email"] = users[user_id]["email"] if user_id is not None else None
    return row


def _check_blob(store: BlobStore, sha256: str, what: str) -> None:
    if not store.exists(sha256):
        raise StoredFileMissing(f"the stored file of {what} (sha256 {sha256}) is missing: run `casebinder verify`")


def prepare(session: Session, store: BlobStore, *, case: Case, actor: User) -> CaseExport:
    """Write and hash the manifest, check every file it lists is stored, and record the export."""
    exported_at = utcnow()
    spool = tempfile.SpooledTemporaryFile(max_size=MANIFEST_MEMORY_BYTES, mode="w+b")
    out = _HashingWriter(spool)
    try:
        with read_snapshot(engine_of(session)) as snap:
            building = snap.execute(
                select(col(Bundle.id)).where(
                    col(Bundle.case_id) == case.id, col(Bundle.status).in_([BundleStatus.queued, BundleStatus.running])
                )
            ).first()
            if building is not None:
                raise BundleNotFinished(f"bundle {building.id} is being built; export the case once it has finished")
            files, counts = _write_manifest(snap, store, out, case.id, exported_at, actor)
    except BaseException:
        spool.close()
        raise
    export = CaseExport(
        case_id=case.id,
        filename=f"casebinder-case-{case.id}-{exported_at:%Y%m%dT%H%M%SZ}.zip",
        exported_at=exported_at,
        manifest=spool,
        manifest_sha256=out.digest.hexdigest(),
        manifest_size=out.size,
        files=files,
        store=store,
        counts=counts,
    )
    audit.record_case(
        session,
        "case.export",
        case.id,
        actor=actor,
        details={
            "manifest_sha256": export.manifest_sha256,
            "format_version": FORMAT_VERSION,
            "files": len(files),
            "bytes": sum(f.size for f in files),
            "counts": counts,
        },
    )
    return export


def _write_manifest(session: Session, store: BlobStore, out: _HashingWriter, case_id, exported_at, actor: User):
    """The manifest, one row per line, in a fixed order of keys and rows so equal cases give equal text."""
    files: dict[str, ExportFile] = {}
    counts: dict[str, int] = {}
    queries = _section_queries(case_id)
    case_row = dict(session.connection().execute(select(CASES).where(CASES.c.id == case_id)).mappings().one())
    users = _referenced_users(session, case_row, queries)
    head = session.get(AuditHead, 1)
    out.write("{\n")
    out.write(f'"format":{dumps(FORMAT)},\n"format_version":{FORMAT_VERSION},\n')
    out.write(f'"exported_at":{dumps(exported_at)},\n')
    source = {
        "app": "casebinder",
        "version": __version__,
        "database": session.get_bind().dialect.name,
        "exported_by_email": actor.email,
        "audit_head": {"seq": head.seq, "hash": head.hash} if head else None,
    }
    out.write(f'"source":{dumps(source)},\n')
    out.write(f'"case":{dumps(_with_emails(case_row, CASES, users))},\n')
    _write_list(out, "users", sorted(users.values(), key=lambda u: u["email"]))
    members = session.execute(
        select(col(CaseMember.role), col(CaseMember.added_at), col(User.email), col(User.full_name))
        .join(User, col(User.id) == CaseMember.user_id)
        .where(col(CaseMember.case_id) == case_id)
        .order_by(col(User.email))
    ).mappings()
    counts["members"] = _write_list(out, "members", (dict(m) for m in members))

    exported: set[uuid.UUID] = set()

    def evidence_rows():
        for row in _rows(session, queries["evidence"]):
            exported.add(row["id"])
            if row["purged_at"] is None:  # a purged original is gone on purpose: its row travels alone
                path = evidence_path(row["sha256"])
                if path not in files:
                    _check_blob(store, row["sha256"], f"evidence {row['id']}")
                    files[path] = ExportFile(path, row["sha256"], row["size_bytes"], not _stored(row["media_type"]))
            yield _with_emails(row, EVIDENCE, users)

    counts["evidence"] = _write_list(out, "evidence", evidence_rows())
    rows = (_with_emails(row, EXHIBITS, users) for row in _rows(session, queries["exhibits"]))
    counts["exhibits"] = _write_list(out, "exhibits", rows)

    def timeline_rows():
        for row in _rows(session, queries["timeline_events"]):
            if row["evidence_id"] is not None and row["evidence_id"] not in exported:
                # Left citing an item no longer in the case (an unlink before unlinking checked for citations):
                # the case's members cannot read that item, so neither does its export.
                row["evidence_id"] = row["page"] = None
                counts["citations_dropped"] = counts.get("citations_dropped", 0) + 1
            yield _with_emails(row, TIMELINE, users)

    counts["timeline_events"] = _write_list(out, "timeline_events", timeline_rows())

    def bundle_rows():
        for row in list(_rows(session, queries["bundles"])):
            placements = select(PLACEMENTS).where(PLACEMENTS.c.bundle_id == row["id"]).order_by(PLACEMENTS.c.seq)
            row["placements"] = list(_rows(session, placements))
            if row["status"] == BundleStatus.done:
                for volume in row["volumes"]:
                    path = volume_path(row["id"], volume["number"])
                    _check_blob(store, volume["sha256"], f"bundle {row['id']} volume {volume['number']}")
                    files[path] = ExportFile(path, volume["sha256"], volume["size_bytes"], False)
            yield _with_emails(row, BUNDLES, users)

    counts["bundles"] = _write_list(out, "bundles", bundle_rows())
    events = select(AUDIT).where(AUDIT.c.case_id == case_id).order_by(AUDIT.c.seq)
    counts["audit_events"] = _write_list(out, "audit_events", _rows(session, events))
    history = select(IMPORTED.c.event).where(IMPORTED.c.case_id == case_id).order_by(IMPORTED.c.ordinal)
    counts["imported_history"] = _write_list(out, "imported_history", (r["event"] for r in _rows(session, history)))
    counts["files"] = _write_list(out, "files", (f.entry() for f in files.values()), last=True)
    out.write("}\n")
    return list(files.values()), counts


def _write_list(out: _HashingWriter, name: str, items, *, last: bool = False) -> int:
    out.write(f'"{name}":[')
    count = 0
    for item in items:
        out.write(("\n" if count == 0 else ",\n") + dumps(item))
        count += 1
    out.write("\n]" + ("\n" if last else ",\n"))
    return count
