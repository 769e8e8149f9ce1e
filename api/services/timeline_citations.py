"""Citations: which exhibit (label) and which Bates number prove an event."""

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, select
from sqlmodel import Session

from models.bundle import Bundle, BundleExhibit, BundleStatus
from models.exhibit import Exhibit

_REFS = select(Exhibit.evidence_id, Exhibit.id, Exhibit.label).where(Exhibit.case_id == bindparam("case_id"))
# One cached statement whatever the number of ids (an expanding IN), rather than one coerced literal per id.
_SOME_REFS = _REFS.where(Exhibit.evidence_id.in_(bindparam("ids", expanding=True)))


def exhibit_refs(session: Session, case_id: uuid.UUID, evidence_ids: Iterable[str] | None) -> dict[str, Any]:
    """The case's exhibit (id, label) by evidence id text, for these evidence ids (None: every exhibit)."""
    if evidence_ids is None:
        rows = session.execute(_REFS, {"case_id": case_id})
    else:
        wanted = [uuid.UUID(e) for e in set(evidence_ids)]
        if not wanted:
            return {}
        rows = session.execute(_SOME_REFS, {"case_id": case_id, "ids": wanted})
    return {str(row.evidence_id): row for row in rows.all()}


def citation_bates(
    session: Session, case_id: uuid.UUID, refs: Iterable[tuple[uuid.UUID, int | None]]
) -> dict[tuple[uuid.UUID, int | None], str]:
    """Bates cites for (exhibit_id, page) pairs: one number for a page, the exhibit's range for page None.

    The cite comes from the newest finished bundle of the case that holds the exhibit; without one, an event
    has no Bates cite. Called once per page or export chunk, never per event.
    """
    refs = list(refs)
    exhibit_ids = list({exhibit_id for exhibit_id, _ in refs})
    if not exhibit_ids:
        return {}
    rows = session.execute(
        select(BundleExhibit, Bundle.bates_prefix, Bundle.params)
        .join(Bundle, Bundle.id == BundleExhibit.bundle_id)
        .where(Bundle.case_id == case_id, Bundle.status == BundleStatus.done, BundleExhibit.exhibit_id.in_(exhibit_ids))
        .order_by(Bundle.finished_at.desc(), Bundle.id)
    ).all()
    newest: dict[uuid.UUID, tuple] = {}
    for placed, prefix, params in rows:
        newest.setdefault(placed.exhibit_id, (placed, prefix, params["bates_digits"]))
    cites = {}
    for exhibit_id, page in refs:
        if exhibit_id not in newest:
            continue
        placed, prefix, digits = newest[exhibit_id]
        content_pages = placed.page_count - (placed.first_content_page - placed.start_page)
        if page is not None and 1 <= page <= content_pages:
            number = placed.bates_first_number + (placed.first_content_page - placed.start_page) + page - 1
            cites[(exhibit_id, page)] = f"{prefix}{number:0{digits}d}"
        else:
            cites[(exhibit_id, page)] = f"{placed.bates_first}-{placed.bates_last}"
    return cites
