"""Extracts: the records of a set that match a filter, written as a CSV and stored as a new evidence item of the
case, which can be an exhibit of a bundle like any other. The file says where each row comes from (its record's
row and citation, and its exact line), and the item's description and its audit event say from what: the original
file's SHA-256, the filter and how many records.

Cells are written as the timeline's CSV writes them: text starting with = + - @ gets a ' first, so a spreadsheet
shows `=HYPERLINK(...)` as text and never runs it.
"""

import shutil
import uuid
from dataclasses import dataclass

import orjson
from sqlmodel import Session

from api.errors import UnprocessableEntity
from api.records import query
from api.services import audit, record_sets
from api.services import evidence as evidence_service
from api.services.evidence import EvidenceMeta
from api.services.timeline.csv import csv_line
from api.storage import BlobStore
from models.case import Case
from models.evidence import EvidenceItem, EvidenceKind
from models.exhibit import Exhibit
from models.record_set import RecordSet, RecordSetStatus
from models.user import User


@dataclass
class Extracted:
    item: EvidenceItem
    exhibit: Exhibit | None
    rows: int
    filter: dict
    source_sha256: str


def _text(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def extract(
    session: Session, store: BlobStore, record_set: RecordSet, *, sent: dict[str, str], title: str, actor: User
) -> Extracted:
    """Write the matching records to a CSV and store it as evidence in the record set's case."""
    if record_set.status != RecordSetStatus.done:
        raise UnprocessableEntity(f"the record set is {record_set.status}: extract from it once it is done")
    case = session.get(Case, record_set.case_id)
    original = session.get(EvidenceItem, record_set.evidence_id)
    assert case is not None and original is not None, "a record set's case and original outlive it"
    wanted = query.parse_filter(record_set, sent, timezone=case.timezone)
    label = record_sets.citation_label(session, record_set)
    names = query.fields_of(record_set)
    count = 0
    scratch = store.scratch_path(f"extract-{uuid.uuid4().hex}")
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        path = scratch / f"{_file_name(title)}.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            out.write("\ufeff" + csv_line(["row", "citation", *names, "source_line"]))
            for record in query.every(session, record_set, wanted):
                count += 1
                fields = [_text(record.fields.get(n)) for n in names]
                out.write(csv_line([str(record.row), query.citation(label, record.row), *fields, record.source_line]))
        if count == 0:
            raise UnprocessableEntity("no record matches the filter: an extract needs at least one record")
        shown = orjson.dumps(wanted.describe()).decode()
        description = (
            f"Extract of {count:,} record(s) of {label} ({record_set.name}), original SHA-256 {original.sha256}, "
            f"filter {shown}. Each row names the record's row in the original and its exact line."
        )
        meta = EvidenceMeta(kind=EvidenceKind.other, title=title, description=description[:4000], tags=["extract"])
        item, exhibit, _ = evidence_service.ingest_file(session, store, case=case, actor=actor, path=path, meta=meta)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    audit.record(
        session,
        "record_set.extract",
        actor=actor,
        case_id=case.id,
        evidence_id=item.id,
        object_type="record_set",
        object_id=record_set.id,
        details={"rows": count, "filter": wanted.describe(), "source_sha256": original.sha256, "title": title},
    )
    return Extracted(item, exhibit, count, wanted.describe(), original.sha256)


def _file_name(title: str) -> str:
    """A file name from the extract's title: letters and digits of any script, the rest as dashes."""
    name = "".join(c if c.isalnum() else "-" for c in title).strip("-")[:80]
    return name or "extract"
