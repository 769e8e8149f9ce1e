"""Verify, rows: every evidence row and every exhibit checked against what the hash-chained audit trail says
happened to them.

Blobs are named by their hash, so re-hashing the store proves each file matches the hash its row names, but
not that the row still names what was acquired: someone able to write the database could point a row at
other bytes (a blob they planted) and delete the original, and every re-hash would agree. The trail records
each acquisition in the same transaction as its row, and its hashes (and anchors kept elsewhere) show it
was not rewritten. So the trail is replayed, in seq order:

- `evidence.upload` (not a duplicate) acquires an item: its id, case, SHA-256 and size;
- `case.import` acquires every evidence row it lists, in the case it made, and links every exhibit it lists;
- `exhibit.link` links an item into a case; `exhibit.unlink` ends that link.

Then every evidence row must match its acquisition (SHA-256, size and home case), every acquired item must
still have its row (rows are never deleted: a purge only marks them), and the exhibits must be exactly the
links the replay leaves. Imports made before imports listed their rows cannot be checked; rows homed in, and
exhibits of, those cases are counted as not covered. It all runs in one read snapshot, so a change committing
meanwhile is either wholly in it (row and event) or wholly out; events are read a batch at a time.
"""

import uuid
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from api.db import read_snapshot
from models.audit import AuditEvent
from models.evidence import EvidenceItem
from models.exhibit import Exhibit

REPLAYED = ("evidence.upload", "case.import", "exhibit.link", "exhibit.unlink")
BATCH = 2000


@dataclass
class RowFinding:
    ref: str  # "evidence <id>", "exhibit <id>" or "audit seq <n>"
    detail: str
    sha256: str | None = None


@dataclass
class RowReport:
    findings: list[RowFinding] = field(default_factory=list)
    evidence_rows: int = 0
    exhibits: int = 0
    not_covered: int = 0  # rows of imports made before imports listed their rows


@dataclass
class _Replay:
    # evidence id -> (seq, case id, sha256, size); exhibit id -> (seq, case id, evidence id)
    acquired: dict[uuid.UUID, tuple] = field(default_factory=dict)
    links: dict[uuid.UUID, tuple] = field(default_factory=dict)
    unlisted_imports: set[uuid.UUID] = field(default_factory=set)
    findings: list[RowFinding] = field(default_factory=list)


def check(engine: Engine) -> RowReport:
    """Replay the trail and compare the evidence rows and exhibits with it; findings name each row."""
    with read_snapshot(engine) as snap:
        replay = _replay(snap)
        report = RowReport(findings=replay.findings)
        _compare_evidence(snap, replay, report)
        _compare_exhibits(snap, replay, report)
    return report


def _events(session: Session):
    """The replayed events in seq order, a batch at a time."""
    columns = (
        col(AuditEvent.seq),
        col(AuditEvent.action),
        col(AuditEvent.case_id),
        col(AuditEvent.evidence_id),
        col(AuditEvent.object_id),
    )
    # `action || ''` keeps the planner off the (action, at) index: through it, every batch would sort all the
    # matching events again; walking seq in order reads each event once.
    replayed = col(AuditEvent.action).concat("").in_(REPLAYED)
    after = 0
    while True:
        batch = session.execute(
            select(*columns, col(AuditEvent.details))
            .where(col(AuditEvent.seq) > after, replayed)
            .order_by(col(AuditEvent.seq))
            .limit(BATCH)
        ).all()
        yield from batch
        if len(batch) < BATCH:
            return
        after = batch[-1].seq


def _replay(session: Session) -> _Replay:
    replay = _Replay()
    for event in _events(session):
        try:
            _apply(replay, event)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            replay.findings.append(
                RowFinding(f"audit seq {event.seq}", f"its {event.action} details cannot be replayed ({exc!r})")
            )
    return replay


def _apply(replay: _Replay, event) -> None:
    details = event.details or {}
    if event.action == "evidence.upload":
        if not details.get("duplicate"):
            acquired = (event.seq, event.case_id, details["sha256"], details["size_bytes"])
            replay.acquired.setdefault(event.evidence_id, acquired)
    elif event.action == "case.import":
        if "evidence" not in details:
            replay.unlisted_imports.add(event.case_id)
            return
        for row in details["evidence"]:
            acquired = (event.seq, event.case_id, row["sha256"], row["size_bytes"])
            replay.acquired.setdefault(uuid.UUID(row["id"]), acquired)
        for row in details["exhibits"]:
            replay.links[uuid.UUID(row["id"])] = (event.seq, event.case_id, uuid.UUID(row["evidence_id"]))
    elif event.action == "exhibit.link":
        replay.links[uuid.UUID(event.object_id)] = (event.seq, event.case_id, event.evidence_id)
    else:
        replay.links.pop(uuid.UUID(event.object_id), None)


def _batches(session: Session, columns, key):
    """Rows of a table in key order, a batch at a time (keyset)."""
    after = None
    while True:
        stmt = select(*columns).order_by(key).limit(BATCH)
        if after is not None:
            stmt = stmt.where(key > after)
        batch = session.execute(stmt).all()
        yield from batch
        if len(batch) < BATCH:
            return
        after = batch[-1][0]


def _compare_evidence(session: Session, replay: _Replay, report: RowReport) -> None:
    columns = (EvidenceItem.id, EvidenceItem.case_id, EvidenceItem.sha256, EvidenceItem.size_bytes)
    for item_id, case_id, sha256, size in _batches(session, columns, EvidenceItem.id):
        report.evidence_rows += 1
        says = f"the row says sha256 {sha256}, {size} bytes, case {case_id}"
        acquired = replay.acquired.pop(item_id, None)
        if acquired is None:
            if case_id in replay.unlisted_imports:
                report.not_covered += 1
                continue
            detail = f"{says}, but no upload or import in the audit trail acquired it"
            report.findings.append(RowFinding(f"evidence {item_id}", detail, sha256))
        elif acquired[1:] != (case_id, sha256, size):
            seq, was_case, was_sha256, was_size = acquired
            detail = (
                f"{says}, but its acquisition (audit seq {seq}) recorded sha256 {was_sha256}, {was_size} bytes, "
                f"case {was_case}"
            )
            report.findings.append(RowFinding(f"evidence {item_id}", detail, sha256))
    for item_id, (seq, case_id, sha256, size) in replay.acquired.items():
        detail = f"acquired at audit seq {seq} (sha256 {sha256}, {size} bytes, case {case_id}), but the row is gone"
        report.findings.append(RowFinding(f"evidence {item_id}", detail, sha256))


def _compare_exhibits(session: Session, replay: _Replay, report: RowReport) -> None:
    columns = (Exhibit.id, Exhibit.case_id, Exhibit.evidence_id)
    for exhibit_id, case_id, evidence_id in _batches(session, columns, Exhibit.id):
        report.exhibits += 1
        says = f"links evidence {evidence_id} into case {case_id}"
        linked = replay.links.pop(exhibit_id, None)
        if linked is None:
            if case_id in replay.unlisted_imports:
                report.not_covered += 1
                continue
            detail = f"{says}, but no exhibit.link or import in the audit trail made it"
            report.findings.append(RowFinding(f"exhibit {exhibit_id}", detail))
        elif linked[1:] != (case_id, evidence_id):
            seq, was_case, was_evidence = linked
            detail = f"{says}, but its link (audit seq {seq}) was of evidence {was_evidence} into case {was_case}"
            report.findings.append(RowFinding(f"exhibit {exhibit_id}", detail))
    for exhibit_id, (seq, case_id, evidence_id) in replay.links.items():
        detail = (
            f"linked evidence {evidence_id} into case {case_id} at audit seq {seq} and was never unlinked, "
            "but the row is gone"
        )
        report.findings.append(RowFinding(f"exhibit {exhibit_id}", detail))
