"""A chronology handed out as a file, the API's or a web page's alike: the CSV (streamed) or the summary PDF, its
name, the headers that say which bundle its Bates numbers come from, and the audit event that records the export.

The event is written when the export is handed out; a CSV stream the client abandons part-way is still recorded.
"""

import hashlib
import re
import uuid
from collections.abc import Iterator

from sqlmodel import Session

from api.services.timeline import citations
from api.services.timeline import csv as csv_service
from api.services.timeline import pdf as pdf_service
from api.services.timeline.events import record_export
from api.services.timeline.query import TimelineFilter
from models.case import Case
from models.user import User


def filename(case: Case, suffix: str) -> str:
    """chronology-<docket number, or case id>.<suffix>, in characters every file system and header takes."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", case.docket_number or str(case.id)).strip("-.")
    return f"chronology-{name or case.id}.{suffix}"


def _headers(case: Case, suffix: str, cited: dict) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename(case, suffix)}"'} | cited


def csv_export(
    session: Session, case: Case, actor: User, f: TimelineFilter, bundle_id: uuid.UUID | None
) -> tuple[Iterator[bytes], dict[str, str]]:
    """The selection as CSV, every Bates cite from the one cited bundle (404/409 for a bundle_id that cannot be),
    and the response's headers (Content-Disposition, the cited bundle)."""
    bundle = citations.cited_bundle(session, case, bundle_id)
    details, headers = citations.announced(bundle)
    record_export(session, case, actor, f, {"format": "csv"} | details)
    return csv_service.csv_stream(case, f, bundle), _headers(case, "csv", headers)


def pdf_export(
    session: Session, case: Case, actor: User, f: TimelineFilter, bundle_id: uuid.UUID | None
) -> tuple[bytes, dict[str, str]]:
    """The selection as the summary chronology for court, and the response's headers; the audit event holds the
    PDF's SHA-256 and size."""
    bundle = citations.cited_bundle(session, case, bundle_id)
    pdf = pdf_service.render_pdf(session, case, f, bundle)
    cited, headers = citations.announced(bundle)
    details = {"format": "pdf", "sha256": hashlib.sha256(pdf).hexdigest(), "size_bytes": len(pdf)} | cited
    record_export(session, case, actor, f, details)
    return pdf, _headers(case, "pdf", headers)
