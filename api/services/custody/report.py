"""The chain-of-custody report of one evidence item: acquisition, every later access and change, the bundles
it went into, the latest integrity check and a re-hash of the stored original made while the report is built.

What the report covers: the events about the item itself (upload, views, downloads, edits, custody reports,
deletion) for anyone who may see it, since that is its custody; events and bundles that belong to a case
(exhibit links, Bates placements) only for the cases the reader is a member of, so a report never shows
another case's work.
"""

import json
import uuid

from sqlalchemy import inspect, or_
from sqlmodel import Session, col, select

from api.errors import NotFound, UnprocessableEntity
from api.services import audit, blobs
from api.storage import BlobStore
from models.audit import AuditEvent
from models.bundle import Bundle, BundleExhibit
from models.case import Case, CaseMember
from models.common import utcnow
from models.evidence import EvidenceItem
from models.exhibit import Exhibit
from models.user import User

# About 90 pages. Laying out the event table costs WeasyPrint 0.1-0.2 s and some 4 MB per page (1,000 events:
# 10-20 s, 450 MB), so the limit is the chronology's. The JSON report and the audit API have no limit.
MAX_PDF_EVENTS = 1000
SUMMARY_CHARS = 400
VALUE_CHARS = 80

ACTION_LABELS = {
    "evidence.upload": "Acquired (uploaded)",
    "evidence.view": "Record viewed",
    "evidence.download": "Original downloaded",
    "evidence.preview": "Previewed",
    "evidence.text": "Text read",
    "evidence.text_rerun": "Text to be read again",
    "evidence.update": "Metadata changed",
    "evidence.custody": "Custody report produced",
    "evidence.delete": "Deleted",
    "evidence.restore": "Restored",
    "evidence.purge": "Original purged",
    "delete.refused": "Deletion refused",
    "exhibit.link": "Linked as an exhibit",
    "exhibit.unlink": "Exhibit unlinked",
    "exhibit.update": "Exhibit changed",
    "exhibit.relabel": "Exhibit relabelled",
}
_EVENT_COLUMNS = list(inspect(AuditEvent).local_table.columns)


def action_label(action: str, details: dict) -> str:
    if action == "evidence.upload" and details.get("duplicate"):
        return "Uploaded again (same bytes, no new copy)"
    return ACTION_LABELS.get(action) or action.replace(".", " ").replace("_", " ").capitalize()


def _value(value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        text = value if len(value) <= VALUE_CHARS else value[:VALUE_CHARS].rstrip() + "…"
        return f"'{text}'"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        return text if len(text) <= VALUE_CHARS else text[:VALUE_CHARS] + "…"
    return str(value)


def summarise(action: str, details: dict) -> str:
    """The details in one line for a reader: changes as "field: 'old' → 'new'", the rest as "key: value"."""
    details = details or {}
    if "before" in details and "after" in details and isinstance(details["before"], dict):
        before, after = details["before"], details["after"] or {}
        parts = [f"{k}: {_value(before.get(k))} → {_value(after.get(k))}" for k in dict.fromkeys([*before, *after])]
    elif action == "evidence.upload":
        parts = [
            f"file {_value(details.get('original_filename'))}",
            f"{details.get('size_bytes', 0):,} bytes",
            str(details.get("media_type") or ""),
        ]
    elif action == "delete.refused":
        parts = [f"{details.get('attempted', 'delete')} refused: {details.get('why', '')}"]
        if details.get("deletion_reason"):
            parts.append(f"reason given {_value(details['deletion_reason'])}")
    elif action == "evidence.custody":
        parts = [f"as {str(details.get('format', 'json')).upper()}"]
        if details.get("hash_check"):
            parts.append(f"hash check: {details['hash_check']}")
        if details.get("sha256"):
            parts.append(f"report SHA-256 {details['sha256']}")
    else:
        parts = [f"{k.replace('_', ' ')}: {_value(v)}" for k, v in details.items() if v is not None]
    text = "; ".join(p for p in parts if p)
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS].rstrip() + "…"


def _case_dict(case: Case) -> dict:
    return {
        "id": case.id,
        "title": case.title,
        "docket_number": case.docket_number,
        "court": case.court,
        "timezone": case.timezone,
    }


def _member_cases(user: User):
    return select(CaseMember.case_id).where(CaseMember.user_id == user.id)


def caption_case(session: Session, item: EvidenceItem, user: User, case_id: uuid.UUID | None) -> Case:
    """The case the report is captioned in: the one asked for, else the upload case, else the first link."""
    linked = set(session.exec(select(Exhibit.case_id).where(Exhibit.evidence_id == item.id)))
    mine = set(session.exec(_member_cases(user)))
    if case_id is not None:
        if case_id not in mine:
            raise NotFound("case not found")
        if case_id != item.case_id and case_id not in linked:
            raise UnprocessableEntity("case_id: the evidence is not in that case; caption it in one of its cases")
        chosen: uuid.UUID | None = case_id
    elif item.case_id in mine:
        chosen = item.case_id
    else:
        chosen = session.exec(
            select(Exhibit.case_id)
            .where(col(Exhibit.evidence_id) == item.id, col(Exhibit.case_id).in_(mine))
            .order_by(col(Exhibit.created_at), col(Exhibit.id))
        ).first()
    case = session.get(Case, chosen) if chosen is not None else None
    if case is None:
        raise NotFound("case not found")
    return case


def _events(session: Session, item: EvidenceItem, user: User) -> list[dict]:
    """The item's events in chain order: its own for everyone who may see it, case events for members."""
    E = AuditEvent
    stmt = (
        select(*_EVENT_COLUMNS)
        .where(
            E.evidence_id == item.id,
            or_(col(E.object_type) == "evidence", col(E.case_id).is_(None), col(E.case_id).in_(_member_cases(user))),
        )
        .order_by(col(E.seq))
    )
    return [dict(row) for row in session.connection().execute(stmt).mappings()]


def _acquisition(session: Session, item: EvidenceItem, events: list[dict], users: dict) -> dict:
    upload = next(
        (e for e in events if e["action"] == "evidence.upload" and not (e["details"] or {}).get("duplicate")), None
    )
    if upload is None:  # an item stored before the audit trail existed: the row is all there is
        uploader = users.get(item.uploaded_by) or session.get(User, item.uploaded_by)
        return {
            "source": "record",
            "event_seq": None,
            "at": item.created_at,
            "uploader_id": item.uploaded_by,
            "uploader_email": uploader.email if uploader else None,
            "uploader_name": uploader.full_name if uploader else None,
            "ip": None,
            "user_agent": None,
            "original_filename": item.original_filename,
            "size_bytes": item.size_bytes,
            "sha256": item.sha256,
            "media_type": item.media_type,
            "matches_record": True,
        }
    d = upload["details"]
    uploader = users.get(upload["actor_id"])
    return {
        "source": "audit",
        "event_seq": upload["seq"],
        "at": upload["at"],
        "uploader_id": upload["actor_id"],
        "uploader_email": upload["actor_email"],
        "uploader_name": uploader.full_name if uploader else None,
        "ip": upload["ip"],
        "user_agent": upload["user_agent"],
        "original_filename": d.get("original_filename") or item.original_filename,
        "size_bytes": d.get("size_bytes"),
        "sha256": d.get("sha256"),
        "media_type": d.get("media_type"),
        "matches_record": d.get("sha256") == item.sha256 and d.get("size_bytes") == item.size_bytes,
    }


def _bundles(session: Session, item: EvidenceItem, user: User) -> list[dict]:
    rows = session.exec(
        select(BundleExhibit, Bundle)
        .join(Bundle, col(Bundle.id) == BundleExhibit.bundle_id)
        .where(col(BundleExhibit.evidence_id) == item.id, col(Bundle.case_id).in_(_member_cases(user)))
        .order_by(col(Bundle.created_at), col(Bundle.id), col(BundleExhibit.seq))
    ).all()
    out = []
    for placed, bundle in rows:
        volume = next((v for v in bundle.volumes or [] if v.get("number") == placed.volume), None)
        out.append(
            {
                "bundle_id": bundle.id,
                "case_id": bundle.case_id,
                "title": bundle.title,
                "status": bundle.status,
                "finished_at": bundle.finished_at,
                "label": placed.label,
                "bates_first": placed.bates_first,
                "bates_last": placed.bates_last,
                "volume": placed.volume,
                "volume_sha256": volume.get("sha256") if volume else None,
                "bundle_sha256": bundle.sha256,
                "evidence_sha256": placed.evidence_sha256,
                "sha256_matches": placed.evidence_sha256 == item.sha256,
            }
        )
    return out


def _verification(session: Session, item: EvidenceItem, acquired_seq: int | None) -> dict | None:
    """The latest integrity check (a `verify` event) and what it said about this item's hash."""
    run = session.exec(
        select(AuditEvent).where(col(AuditEvent.action) == "verify").order_by(col(AuditEvent.seq).desc())
    ).first()
    if run is None:
        return None
    d = run.details or {}
    covered = run.seq > acquired_seq if acquired_seq is not None else run.at >= item.created_at
    corrupt, missing = list(d.get("corrupt") or []), list(d.get("missing") or [])
    mismatch = list(d.get("mismatch") or [])  # rows that disagree with the audit trail, as "evidence <id>"
    counts = d.get("counts") or {}
    # A run records at most so many hashes per problem: past that, an unlisted hash proves nothing.
    truncated = any(counts.get(k, 0) > len(v) for k, v in (("corrupt", corrupt), ("missing", missing)))
    truncated = truncated or counts.get("mismatch", 0) > len(mismatch)
    if not covered:
        ok = None
    elif item.sha256 in corrupt or item.sha256 in missing or f"evidence {item.id}" in mismatch:
        ok = False
    else:
        ok = None if truncated else True
    run_ok = d.get("ok")
    return {
        "seq": run.seq,
        "at": run.at,
        "actor_email": run.actor_email,
        "run_ok": run_ok if isinstance(run_ok, bool) else None,
        "covered": covered,
        "ok_for_this_item": ok,
    }


def rehash(store: BlobStore, sha256: str) -> dict:
    """Hash the stored original now: the report attests to the bytes as they are, not as they were."""
    found = blobs.rehash(store, sha256)
    actual = found.sha256 if found else None
    status = "missing" if actual is None else "match" if actual == sha256 else "mismatch"
    return {
        "at": utcnow(),
        "expected_sha256": sha256,
        "actual_sha256": actual,
        "status": status,
        "match": status == "match",
    }


def build(
    session: Session,
    store: BlobStore,
    item: EvidenceItem,
    user: User,
    *,
    case_id: uuid.UUID | None = None,
    max_events: int | None = None,
) -> dict:
    """The report as CustodyReport-shaped data."""
    caption = caption_case(session, item, user, case_id)
    events = _events(session, item, user)
    if max_events is not None and len(events) > max_events:
        raise UnprocessableEntity(
            f"a custody PDF lists at most {max_events:,} events and this item has {len(events):,}: "
            "use the JSON report (GET /evidence/{id}/custody) or the case's audit trail"
        )
    actor_ids = {e["actor_id"] for e in events if e["actor_id"]} | {item.uploaded_by}
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(actor_ids)))}
    acquisition = _acquisition(session, item, events, users)
    bundles = _bundles(session, item, user)
    mine = set(session.exec(_member_cases(user)))
    exhibits = session.exec(
        select(Exhibit)
        .where(col(Exhibit.evidence_id) == item.id, col(Exhibit.case_id).in_(mine))
        .order_by(col(Exhibit.created_at))
    ).all()
    covered = {item.case_id} | {x.case_id for x in exhibits} | {e["case_id"] for e in events if e["case_id"]}
    covered = (covered | {b["case_id"] for b in bundles}) & mine
    cases = sorted(
        session.exec(select(Case).where(col(Case.id).in_(covered))).all(), key=lambda c: (c.created_at, c.id)
    )
    shaped = []
    for e in events:
        details = e["details"] or {}
        actor = users.get(e["actor_id"])
        shaped.append(
            e
            | {
                "action_label": action_label(e["action"], details),
                "summary": summarise(e["action"], details),
                "actor_name": actor.full_name if actor else None,
                "hash_ok": audit.chain_hash(e["prev_hash"], e) == e["hash"],
            }
        )
    return {
        "generated_at": utcnow(),
        "generated_by": user.email,
        "case": _case_dict(caption),
        "cases": [_case_dict(c) for c in cases],
        "item": {
            name: getattr(item, name)
            for name in (
                "id",
                "case_id",
                "title",
                "kind",
                "sha256",
                "size_bytes",
                "media_type",
                "original_filename",
                "page_count",
                "custodian",
                "source_url",
                "created_at",
                "deleted_at",
                "deleted_reason",
                "purged_at",
            )
        },
        "exhibits": [{"case_id": x.case_id, "exhibit_id": x.id, "label": x.label} for x in exhibits],
        "acquisition": acquisition,
        "events": shaped,
        "bundles": bundles,
        "verification": _verification(session, item, acquisition["event_seq"]),
        "current_check": rehash(store, item.sha256),
        "chain": {
            "events": len(shaped),
            "hashes_ok": all(e["hash_ok"] for e in shaped),
            "anchor": audit.head(session).text(),
        },
    }
