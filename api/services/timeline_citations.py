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
# Built once and run as plain rows (no ORM objects).
_PLACEMENTS = (
    select(
        BundleExhibit.exhibit_id,
        BundleExhibit.start_page,
        BundleExhibit.page_count,
        BundleExhibit.first_content_page,
        BundleExhibit.bates_first_number,
        BundleExhibit.bates_first,
        BundleExhibit.bates_last,
        Bundle.bates_prefix,
        Bundle.params["bates_digits"].as_integer(),
    )
    .join(Bundle, Bundle.id == BundleExhibit.bundle_id)
    .where(Bundle.case_id == bindparam("case_id"), Bundle.status == BundleStatus.done)
    .order_by(Bundle.finished_at.desc(), Bundle.id)
)
_SOME_PLACEMENTS = _PLACEMENTS.where(BundleExhibit.exhibit_id.in_(bindparam("exhibit_ids", expanding=True)))
# Rendering the expanding IN costs more than the query: a page of a case with no finished bundle skips it.
_ANY_FINISHED = (
    select(Bundle.id).where(Bundle.case_id == bindparam("case_id"), Bundle.status == BundleStatus.done).limit(1)
)


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


def placements(session: Session, case_id: uuid.UUID, exhibit_ids: Iterable[uuid.UUID] | None) -> dict[uuid.UUID, tuple]:
    """Where each exhibit sits in the newest finished bundle of the case that holds it, for these exhibits
    (None: every exhibit), by exhibit id; for bates_cite."""
    if exhibit_ids is None:
        result = session.connection().execute(_PLACEMENTS, {"case_id": case_id})
    else:
        wanted = list(set(exhibit_ids))
        if not wanted:
            return {}
        result = session.connection().execute(_SOME_PLACEMENTS, {"case_id": case_id, "exhibit_ids": wanted})
    newest: dict[uuid.UUID, tuple] = {}
    for exhibit_id, *placed in result.all():
        newest.setdefault(exhibit_id, tuple(placed))
    return newest


def any_finished_bundle(session: Session, case_id: uuid.UUID) -> bool:
    return session.connection().execute(_ANY_FINISHED, {"case_id": case_id}).first() is not None


def bates_cite(placed: tuple, page: int | None) -> str:
    """The Bates cite of a page of a placed exhibit; for page None or a page it lacks, the range of its content
    (its slip sheet is the bundle's page, not the exhibit's), or the one number of a one-page exhibit."""
    start_page, page_count, first_content_page, first_number, _, _, prefix, digits = placed
    offset = first_content_page - start_page
    if page is not None and 1 <= page <= page_count - offset:
        return f"{prefix}{first_number + offset + page - 1:0{digits}d}"
    first, last = content_range(placed)
    return first if first == last else f"{first}-{last}"


def content_range(placed: tuple) -> tuple[str, str]:
    """The first and last Bates numbers of a placed exhibit's own pages (after its slip sheet)."""
    start_page, _, first_content_page, first_number, _, bates_last, prefix, digits = placed
    return f"{prefix}{first_number + first_content_page - start_page:0{digits}d}", bates_last


def split_range(cite: str) -> tuple[str, str] | None:
    """The two ends of a range cite: "ACME-000004-ACME-000006" as the API gives it (halves of the same prefix and
    digits, so the same length), or "ACME-000004 to ACME-000006" as pages print it; None for a single number."""
    first, to, last = cite.partition(" to ")
    if to:
        return (first, last) if first.rstrip("0123456789") == last.rstrip("0123456789") else None
    middle = (len(cite) - 1) // 2
    if (
        len(cite) % 2
        and cite[middle] == "-"
        and cite[:middle].rstrip("0123456789") == cite[middle + 1 :].rstrip("0123456789")
    ):
        return cite[:middle], cite[middle + 1 :]
    return None


def citation_bates(
    session: Session, case_id: uuid.UUID, refs: Iterable[tuple[uuid.UUID | str, int | None]]
) -> dict[tuple[uuid.UUID | str, int | None], str]:
    """Bates cites for (exhibit_id, page) pairs: one number for a page, the range of the exhibit's
    own pages for page None.
    Ids may be UUIDs or their text (either form); the cites are keyed by the pairs as given.

    The cite comes from the newest finished bundle of the case that holds the exhibit; without one, an event
    has no Bates cite. Called once per page, never per event.
    """
    refs = set(refs)
    if not refs or not any_finished_bundle(session, case_id):
        return {}
    ids = {e: e if isinstance(e, uuid.UUID) else uuid.UUID(e) for e, _ in refs}
    newest = placements(session, case_id, ids.values())
    return {(e, page): bates_cite(newest[ids[e]], page) for e, page in refs if ids[e] in newest}
