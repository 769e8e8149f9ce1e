"""The case export format: what an export ZIP holds and where, which tables its manifest sections come from,
and the columns that name users. The export writes it (transfer.export) and the import reads it back
(transfer.manifest, transfer.rows, transfer.files, transfer.restore), so neither side imports the other.
"""

from sqlalchemy import Table

from models.audit import AuditEvent
from models.bundle import Bundle, BundleExhibit
from models.case import Case, CaseMember
from models.evidence import EvidenceItem
from models.exhibit import Exhibit
from models.imported import ImportedAuditEvent
from models.timeline import TimelineEvent

FORMAT = "casebinder-case-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNK_BYTES = 1024 * 1024

CASES: Table = Case.metadata.tables[Case.__tablename__]
MEMBERS: Table = CaseMember.metadata.tables[CaseMember.__tablename__]
EVIDENCE: Table = EvidenceItem.metadata.tables[EvidenceItem.__tablename__]
EXHIBITS: Table = Exhibit.metadata.tables[Exhibit.__tablename__]
TIMELINE: Table = TimelineEvent.metadata.tables[TimelineEvent.__tablename__]
BUNDLES: Table = Bundle.metadata.tables[Bundle.__tablename__]
PLACEMENTS: Table = BundleExhibit.metadata.tables[BundleExhibit.__tablename__]
AUDIT: Table = AuditEvent.metadata.tables[AuditEvent.__tablename__]
IMPORTED: Table = ImportedAuditEvent.metadata.tables[ImportedAuditEvent.__tablename__]

# Manifest section -> table; the case, members, audit events and files have shapes of their own.
SECTIONS: dict[str, Table] = {
    "evidence": EVIDENCE,
    "exhibits": EXHIBITS,
    "timeline_events": TIMELINE,
    "bundles": BUNDLES,
}


# Nullable columns added since format version 1: an export made before them lacks them, and they import as null.
ADDED_COLUMNS: dict[str, frozenset[str]] = {
    "bundles": frozenset({"rebuilt_from"}),
    "cases": frozenset({"filed_bundle_id"}),
}


def user_columns(table: Table) -> list[str]:
    """Columns that name a user: exported as `<column>_email`."""
    return [c.name for c in table.columns if any(fk.column.table.name == "users" for fk in c.foreign_keys)]


def evidence_path(sha256: str) -> str:
    return f"evidence/{sha256}"


def volume_path(bundle_id, number: int) -> str:
    return f"bundles/{bundle_id}/volume-{number}.pdf"
