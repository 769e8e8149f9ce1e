"""Import, last step: write what the checks passed, in one transaction, under fresh ids.

No id in an export is trusted. The case and every row it brings (evidence, exhibits, timeline events,
bundles, placements) get new ids here, and every reference among them is rewritten to match, so an import
only ever creates rows: it cannot reach, link or change a row that was here before, whatever ids its
manifest names. Every evidence row becomes evidence of the new case, which is its home from now on.

The source ids stay as provenance in the `case.import` audit event, which also lists each evidence row's
SHA-256 and size and each exhibit's link: the acquisition that `verify` checks those rows against. The files
are staged into the store before the rows and taken back if the transaction rolls back, so a committed row
never lacks its file and a failed import (a refused row, a full disk) leaves nothing behind.
"""

from __future__ import annotations

import errno
import uuid
import zipfile
from collections.abc import Set
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, insert, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from api.db import session_scope
from api.errors import InsufficientStorage
from api.services import audit
from api.services import text as text_service
from api.services import users as user_service
from api.services.search import index as search_index
from api.services.transfer import spec
from api.services.transfer.files import check_space, stage_blobs
from api.services.transfer.manifest import ImportPlan, ImportRefused
from api.storage import BlobStore
from models.case import Role
from models.common import utcnow
from models.user import User

# Not an argon2 hash, so no password ever verifies against it; the account is inactive as well.
UNUSABLE_PASSWORD = "!imported"
BATCH = 1000
DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
PG_DISK_FULL = "53100"


@dataclass
class ImportResult:
    case_id: uuid.UUID
    source_case_id: uuid.UUID
    title: str
    counts: dict
    created_users: list[str]
    rehomed_evidence: list[str]  # evidence linked in from cases the export did not bring, homed here now
    manifest_sha256: str


class ImportFailed(Exception):
    """The import could not finish for a reason outside the export (a full disk); nothing was written."""


class IdMap:
    """Source id -> a fresh id here, per kind of row: the same source id gets the same fresh id everywhere it
    is named, and an id a row names without the export bringing that row (a bundle's exhibit unlinked since)
    gets a fresh one too, so nothing can point at a row that was here before."""

    def __init__(self):
        self.fresh: dict[str, dict[uuid.UUID, uuid.UUID]] = {}

    def __call__(self, kind: str, source: uuid.UUID | str | None) -> uuid.UUID | None:
        if source is None:
            return None
        source = source if isinstance(source, uuid.UUID) else uuid.UUID(source)
        return self.fresh.setdefault(kind, {}).setdefault(source, uuid.uuid4())

    def provenance(self, kind: str, listed: Set[uuid.UUID] = frozenset()) -> dict[str, str]:
        """Source id -> fresh id as text, for the ids of this kind not `listed` elsewhere."""
        return {str(source): str(new) for source, new in self.fresh.get(kind, {}).items() if source not in listed}


def restore(plan: ImportPlan, store: BlobStore) -> ImportResult:
    """Write everything the checks passed, in one transaction; the files are stored only if it commits."""
    check_space(store, plan.blobs, plan.files)
    try:
        with zipfile.ZipFile(plan.path) as zf, session_scope() as session:
            return _restore(session, store, zf, plan)
    except InsufficientStorage:  # the blob store said so itself
        raise ImportFailed("the disk holding the store is full; free space and try again") from None
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise ImportFailed(
                f"the disk holding the store is full ({exc.strerror}); free space and try again"
            ) from None
        raise ImportRefused([f"{plan.path.name}: could not be read again ({exc})"]) from None
    except zipfile.BadZipFile as exc:
        raise ImportRefused([f"{plan.path.name}: could not be read again ({exc})"]) from None
    except IntegrityError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        raise ImportRefused([f"the database refused the rows: {reason}"]) from None
    except OperationalError as exc:
        text = str(exc.orig)
        if getattr(exc.orig, "sqlstate", None) == PG_DISK_FULL or "disk is full" in text or "No space left" in text:
            raise ImportFailed("the database's disk is full; free space and try again") from None
        raise


def _restore(session: Session, store: BlobStore, zf: zipfile.ZipFile, plan: ImportPlan) -> ImportResult:
    # The files first, each registered for removal if the transaction rolls back: whatever fails after this
    # (a row the database refuses, a full disk) takes them back with it.
    blobs = stage_blobs(session, store, zf, plan.blobs, plan.files)
    actor = user_service.get_by_email(session, plan.as_email) if plan.as_email else None
    user_ids, created = _resolve_users(session, plan, actor)
    ids = IdMap()
    case_id = ids("case", plan.case["id"])
    assert case_id is not None  # the manifest's checks refuse a case without an id
    rows = _rewritten(plan, ids, case_id)

    def with_users(table: Table, row: dict) -> dict:
        row = dict(row)
        for name in spec.user_columns(table):
            email = row.pop(f"{name}_email")
            row[name] = user_ids[email] if email is not None else None
        return row

    # The case names its filed bundle, which goes in after it: the name is set once the bundles are in.
    filed = rows["case"]["filed_bundle_id"]
    session.execute(insert(spec.CASES), [with_users(spec.CASES, rows["case"] | {"filed_bundle_id": None})])
    members = {
        m["email"]: {"case_id": case_id, "user_id": user_ids[m["email"]], "role": m["role"], "added_at": m["added_at"]}
        for m in plan.members
    }
    if actor is not None and members.get(actor.email, {}).get("role") != Role.owner:
        added = members.get(actor.email, {}).get("added_at") or utcnow()
        members[actor.email] = {"case_id": case_id, "user_id": actor.id, "role": Role.owner.value, "added_at": added}
    _insert(session, spec.MEMBERS, list(members.values()))
    for name, table in spec.SECTIONS.items():
        _insert(session, table, [with_users(table, row) for row in rows[name]])
    _insert(session, spec.PLACEMENTS, rows["placements"])
    text_service.backlog(session, case_id)  # the text of every original is read again here, in the background
    if filed is not None:
        session.execute(update(spec.CASES).where(spec.CASES.c.id == case_id).values(filed_bundle_id=filed))
    imported_at = utcnow()
    _insert(
        session,
        spec.IMPORTED,
        [
            {
                "id": uuid.uuid4(),
                "case_id": case_id,
                "ordinal": ordinal,
                "source_seq": event["seq"],
                "source_event_id": event["id"],
                "source_prev_hash": event["prev_hash"],
                "source_hash": event["hash"],
                "event": event["raw"],  # history of another chain, kept exactly as it was
                "import_manifest_sha256": plan.manifest_sha256,
                "imported_at": imported_at,
            }
            for ordinal, event in enumerate(plan.history, 1)
        ],
    )
    session.flush()
    search_index.reindex(session, case_id=case_id)  # its items' metadata and its events: written without the hooks
    counts = {
        "members": len(members),
        **{name: len(section) for name, section in plan.sections.items()},
        "placements": len(plan.placements),
        "imported_history": len(plan.history),
        "files": len(plan.files),
        "blobs_added": blobs,
    }
    rehomed = [
        str(ids("evidence", row["id"])) for row in plan.sections["evidence"] if row["case_id"] != plan.case["id"]
    ]
    source = plan.manifest.get("source")
    if not isinstance(source, dict):
        source = {}
    audit.record_case(
        session,
        "case.import",
        case_id,
        actor=actor,
        actor_email=None if actor else "command line",
        details={
            "source_manifest_sha256": plan.manifest_sha256,
            "source_exported_at": plan.manifest.get("exported_at"),
            "source_version": source.get("version"),
            "source_audit_head": source.get("audit_head"),
            "source_case_id": plan.case["id"],
            "counts": counts,
            "created_users": created,
            "rehomed_evidence": rehomed,
            # What the import acquired, as an upload's event records it: verify checks the rows against this.
            "evidence": [
                {
                    "id": row["id"],
                    "source_id": source_row["id"],
                    "sha256": row["sha256"],
                    "size_bytes": row["size_bytes"],
                    "purged": row["purged_at"] is not None,
                }
                for row, source_row in zip(rows["evidence"], plan.sections["evidence"], strict=True)
            ],
            "exhibits": [
                {"id": row["id"], "source_id": source_row["id"], "evidence_id": row["evidence_id"]}
                for row, source_row in zip(rows["exhibits"], plan.sections["exhibits"], strict=True)
            ],
            # The rest of the mapping: ids of rows not listed above, and ids rows named without the export
            # bringing those rows (a bundle's exhibit that was unlinked since).
            "source_ids": {
                "evidence": ids.provenance("evidence", {row["id"] for row in plan.sections["evidence"]}),
                "exhibits": ids.provenance("exhibits", {row["id"] for row in plan.sections["exhibits"]}),
                **{kind: ids.provenance(kind) for kind in ("timeline_events", "bundles", "placements")},
            },
        },
    )
    return ImportResult(
        case_id=case_id,
        source_case_id=plan.case["id"],
        title=plan.case["title"],
        counts=counts,
        created_users=created,
        rehomed_evidence=rehomed,
        manifest_sha256=plan.manifest_sha256,
    )


def _rewritten(plan: ImportPlan, ids: IdMap, case_id: uuid.UUID) -> dict[str, Any]:
    """Every row under its fresh id, its references rewritten the same way, all of it in the new case."""
    out: dict = {"case": plan.case | {"id": case_id, "filed_bundle_id": ids("bundles", plan.case["filed_bundle_id"])}}
    out["evidence"] = [
        row | {"id": ids("evidence", row["id"]), "case_id": case_id} for row in plan.sections["evidence"]
    ]
    out["exhibits"] = [
        row | {"id": ids("exhibits", row["id"]), "case_id": case_id, "evidence_id": ids("evidence", row["evidence_id"])}
        for row in plan.sections["exhibits"]
    ]
    out["timeline_events"] = [
        row
        | {
            "id": ids("timeline_events", row["id"]),
            "case_id": case_id,
            "evidence_id": ids("evidence", row["evidence_id"]),
            "exhibit_id": ids("exhibits", row["exhibit_id"]),
        }
        for row in plan.sections["timeline_events"]
    ]
    out["bundles"] = []
    # A bundle rebuilt beside another (under a legal hold) names it: the one it names goes in first.
    for row in sorted(plan.sections["bundles"], key=lambda b: (b["created_at"], b["rebuilt_from"] is not None)):
        params = dict(row["params"])
        if "exhibit_ids" in params:
            params["exhibit_ids"] = [str(ids("exhibits", i)) for i in params["exhibit_ids"]]
        fresh = {"id": ids("bundles", row["id"]), "rebuilt_from": ids("bundles", row["rebuilt_from"])}
        out["bundles"].append(row | fresh | {"case_id": case_id, "params": params})
    out["placements"] = [
        row
        | {
            "id": ids("placements", row["id"]),
            "bundle_id": ids("bundles", row["bundle_id"]),
            "exhibit_id": ids("exhibits", row["exhibit_id"]),
            "evidence_id": ids("evidence", row["evidence_id"]),
        }
        for row in plan.placements
    ]
    return out


def _insert(session: Session, table: Table, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        session.execute(insert(table), rows[start : start + BATCH])


def _resolve_users(session: Session, plan: ImportPlan, actor: User | None) -> tuple[dict[str, uuid.UUID], list[str]]:
    """Users by email; the missing ones become inactive accounts without a usable password, so rows keep authors."""
    ids, created = {}, []
    for row in plan.users:
        user = user_service.get_by_email(session, row["email"])
        if user is None:
            user = User(
                email=row["email"],
                full_name=row["full_name"],
                password_hash=UNUSABLE_PASSWORD,
                is_active=False,
            )
            session.add(user)
            session.flush()
            created.append(user.email)
            audit.record(
                session,
                "user.create",
                actor=actor,
                actor_email=None if actor else "command line",
                object_type="user",
                object_id=user.id,
                details={"email": user.email, "is_admin": False, "is_active": False, "reason": "case import"},
            )
        ids[row["email"]] = user.id
    return ids, created
