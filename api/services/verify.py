"""Integrity check: every stored original and bundle volume re-hashed against its name, the blob store
compared with the rows that refer to it, the audit chain walked link by link, and the evidence rows and
exhibits compared with what the chain says happened to them (verify_rows). It deletes and repairs nothing;
the only thing it writes is the audit event of its own run."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from api.db import engine_of
from api.services import audit, blobs, orphans, verify_rows
from api.storage import BlobStore
from models.bundle import Bundle, BundleStatus
from models.common import is_sha256_hex
from models.evidence import EvidenceItem
from models.verify import AuditAnchor, VerifyFinding, VerifyResult

# Each check has a name, so a report says what was looked at.
CHECK_ORIGINALS = "originals re-hashed"
CHECK_VOLUMES = "bundle volumes re-hashed"
CHECK_ORPHANS = "blobs without rows"
CHECK_CHAIN = "audit chain walked"
CHECK_ANCHORS = "audit anchors compared"
CHECK_ROWS = "evidence rows and exhibits compared with the audit trail"
# At most this many hashes per kind of finding go into the audit event of a run (the report has them all).
RECORDED_HASHES = 1000


@dataclass
class Finding:
    problem: str  # "missing", "corrupt", "orphan", "broken" (the audit chain) or "mismatch" (a row and the chain)
    path: str | None  # where the store keeps the blob
    sha256: str | None = None
    refs: list[str] = field(default_factory=list)  # "evidence <id>", "bundle <id> volume <n>", "audit seq <n>"
    detail: str = ""

    def line(self) -> str:
        who = ", ".join(self.refs) if self.refs else "no row"
        return f"{self.problem.upper():8} {who}: {self.detail}" + (f" [{self.path}]" if self.path else "")


@dataclass
class VerifyReport:
    checks: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    originals: int = 0  # distinct hashes
    evidence_rows: int = 0
    volumes: int = 0
    files_on_disk: int = 0
    bytes_hashed: int = 0
    audit_events: int = 0
    anchors_checked: int = 0
    rows_compared: int = 0  # evidence rows compared with the audit trail
    exhibits: int = 0
    rows_not_covered: int = 0  # rows of imports made before imports listed their rows
    # The chain's newest event, worth keeping outside the database as an anchor; None when the chain is broken
    # (or empty).
    head: audit.Anchor | None = None

    @property
    def ok(self) -> bool:
        return not self.findings


def _check_blob(report: VerifyReport, store: BlobStore, sha256: str, refs: list[str]) -> None:
    if not is_sha256_hex(sha256):
        report.findings.append(Finding("missing", "-", sha256, refs, f"recorded hash {sha256!r} is not a hash"))
        return
    where = store.location(sha256)
    found = blobs.rehash(store, sha256)
    if found is None:
        report.findings.append(Finding("missing", where, sha256, refs, f"no file for sha256 {sha256}"))
        return
    report.bytes_hashed += found.size
    if found.sha256 != sha256:
        detail = f"bytes hash to {found.sha256}, not {sha256}"
        report.findings.append(Finding("corrupt", where, sha256, refs, detail))


def _evidence_refs(session: Session) -> dict[str, list[str]]:
    refs: dict[str, list[str]] = defaultdict(list)
    kept = select(EvidenceItem.id, EvidenceItem.sha256).where(col(EvidenceItem.purged_at).is_(None))  # purged: no blob
    for item_id, sha256 in session.exec(kept.order_by(EvidenceItem.sha256)):
        refs[sha256].append(f"evidence {item_id}")
    return refs


def _volume_refs(session: Session) -> dict[str, list[str]]:
    """Volumes of done bundles: the ones to re-hash (which blobs are still used is `orphans.scan`'s rule)."""
    done: dict[str, list[str]] = defaultdict(list)
    for bundle_id, volumes in session.exec(select(Bundle.id, Bundle.volumes).where(Bundle.status == BundleStatus.done)):
        for volume in volumes or []:
            done[volume["sha256"]].append(f"bundle {bundle_id} volume {volume['number']}")
    return done


def verify_store(session: Session, store: BlobStore, anchors: Sequence[audit.Anchor] = ()) -> VerifyReport:
    """Re-hash every original and done bundle volume; list rows without blobs and blobs without rows; walk the
    audit chain and compare it with the anchors given (events and hashes kept from earlier runs or reports)."""
    checks = [CHECK_ORIGINALS, CHECK_VOLUMES, CHECK_ORPHANS, CHECK_CHAIN] + ([CHECK_ANCHORS] if anchors else [])
    report = VerifyReport(checks=checks)
    evidence = _evidence_refs(session)
    volumes = _volume_refs(session)
    report.originals, report.evidence_rows = len(evidence), sum(len(r) for r in evidence.values())
    report.volumes = sum(len(r) for r in volumes.values())
    for sha256 in sorted(evidence.keys() | volumes.keys()):
        _check_blob(report, store, sha256, evidence.get(sha256, []) + volumes.get(sha256, []))

    # Orphans by the same rule the purges remove them by (an evidence row, a bundle volume or a hold uses a blob).
    found = orphans.scan(session, store)
    report.files_on_disk = found.files
    for where in sorted([o.location for o in found.orphans] + [s.location for s in found.strays]):
        report.findings.append(Finding("orphan", where, None, [], "no evidence item or bundle volume refers to it"))

    chain = audit.walk_chain(session)
    report.audit_events = chain.events
    if chain.first_break is not None:
        broken = chain.first_break
        ref = f"audit seq {broken.seq}" + (f" (event {broken.event_id})" if broken.event_id else " (head)")
        report.findings.append(Finding("broken", None, None, [ref], broken.problem))
    for miss in audit.check_anchors(session, list(anchors)):
        ref = f"audit seq {miss.seq} (anchor)"
        report.findings.append(Finding("broken", None, None, [ref], miss.problem))
    report.anchors_checked = len(set(anchors))
    _check_rows(session, report)
    if chain.head_seq and not any(f.problem == "broken" for f in report.findings):
        report.head = audit.Anchor(chain.head_seq, chain.head_hash)
    return report


def _check_rows(session: Session, report: VerifyReport) -> None:
    """Compare the rows with the audit trail, unless the trail is broken: it vouches for nothing then."""
    if any(f.problem == "broken" for f in report.findings):
        return
    report.checks.append(CHECK_ROWS)
    rows = verify_rows.check(engine_of(session))
    report.findings += [Finding("mismatch", None, f.sha256, [f.ref], f.detail) for f in rows.findings]
    report.rows_compared, report.exhibits, report.rows_not_covered = rows.evidence_rows, rows.exhibits, rows.not_covered


def run(session: Session, store: BlobStore, *, actor=None, anchors: Sequence[audit.Anchor] = ()) -> VerifyReport:
    """Verify, and record the run in the audit trail (what the custody report shows as the latest check)."""
    report = verify_store(session, store, anchors)
    details = {"ok": report.ok, "checks": report.checks, "counts": counts(report)}
    for problem in ("corrupt", "missing"):
        hashes = sorted({f.sha256 for f in report.findings if f.problem == problem and f.sha256})
        details[problem] = hashes[:RECORDED_HASHES]
    details["orphans"] = sum(f.problem == "orphan" for f in report.findings)
    details["mismatch"] = sorted(ref for f in report.findings if f.problem == "mismatch" for ref in f.refs)[
        :RECORDED_HASHES
    ]
    details["chain_break"] = next((f.line() for f in report.findings if f.problem == "broken"), None)
    details["audit_events"] = report.audit_events
    details["anchors"] = [a.text() for a in sorted(set(anchors), key=lambda a: a.seq)]
    details["head"] = report.head.text() if report.head else None
    audit.record(session, "verify", actor=actor, actor_email=None if actor else "command line", details=details)
    return report


def as_result(report: VerifyReport) -> VerifyResult:
    """The report as the API gives it: one shape for POST /admin/verify and for a background run's result."""
    findings = [
        VerifyFinding(problem=f.problem, refs=f.refs, sha256=f.sha256, detail=f.detail, path=f.path)
        for f in report.findings
    ]
    numbers = {name: getattr(report, name) for name in VerifyResult.model_fields if hasattr(report, name)}
    anchor = AuditAnchor(seq=report.head.seq, hash=report.head.hash) if report.head else None
    return VerifyResult(**(numbers | {"ok": report.ok, "findings": findings, "anchor": anchor}))


def counts(report: VerifyReport) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for finding in report.findings:
        out[finding.problem] += 1
    return dict(out)


def render(report: VerifyReport) -> list[str]:
    """The report as text: one line per finding, then what was checked and a summary."""
    lines = [finding.line() for finding in report.findings]
    lines.append(f"checks: {'; '.join(report.checks)}")
    lines.append(
        f"checked {report.originals} originals ({report.evidence_rows} evidence items), "
        f"{report.volumes} bundle volumes, {report.files_on_disk} files in the store, "
        f"{report.bytes_hashed} bytes hashed, {report.audit_events} audit events"
    )
    if report.anchors_checked:
        lines.append(f"compared {report.anchors_checked} audit anchor(s)")
    if CHECK_ROWS in report.checks:
        compared = f"{report.rows_compared} evidence rows and {report.exhibits} exhibits"
        lines.append(f"compared {compared} with the audit trail")
    else:
        lines.append("evidence rows not compared with the audit trail: it is broken, so it vouches for nothing")
    if report.rows_not_covered:
        lines.append(
            f"not compared: {report.rows_not_covered} rows of cases imported before imports recorded their rows"
        )
    if report.head is not None:
        lines.append(
            f"anchor: {report.head.text()} (the newest audit event: keep it elsewhere, pass it to --anchor later)"
        )
    if report.ok:
        lines.append("OK: no findings")
    else:
        parts = ", ".join(f"{n} {problem}" for problem, n in sorted(counts(report).items()))
        lines.append(f"FAILED: {len(report.findings)} finding(s): {parts}")
    return lines
