"""Citations: which exhibit (label) and which Bates number prove an event, and which one bundle the numbers
come from.

A chronology (page, CSV, PDF, summary) cites one bundle only, never a mix: the one asked for, or by default the
bundle the case has filed, else its newest done one (`cited_bundle`). Finding it is one small query, and the
placements of the exhibits a page cites in it one more; never a query per event.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlmodel import Session, col

from api.errors import BundleNotDone, NotFound
from api.services.timeline.columns import as_uuid_text
from api.services.timeline.sql import uuid_any_text
from models.bundle import Bundle, BundleExhibit, BundleStatus
from models.case import Case
from models.exhibit import Exhibit

_REFS = select(col(Exhibit.evidence_id), col(Exhibit.id), col(Exhibit.label)).where(
    col(Exhibit.case_id) == bindparam("case_id")
)
# One cached statement whatever the number of ids (an expanding IN), rather than one coerced literal per id.
_SOME_REFS = _REFS.where(col(Exhibit.evidence_id).in_(bindparam("ids", expanding=True)))
# Built once and run as plain rows (no ORM objects).
_PLACEMENTS = (
    select(
        col(BundleExhibit.exhibit_id),
        col(BundleExhibit.start_page),
        col(BundleExhibit.page_count),
        col(BundleExhibit.first_content_page),
        col(BundleExhibit.bates_first_number),
        col(BundleExhibit.bates_first),
        col(BundleExhibit.bates_last),
    )
    .where(col(BundleExhibit.bundle_id) == bindparam("bundle_id"))
    .order_by(col(BundleExhibit.seq))
)
_SOME_PLACEMENTS = _PLACEMENTS.where(col(BundleExhibit.exhibit_id).in_(bindparam("exhibit_ids", expanding=True)))
_BUNDLE = select(
    col(Bundle.id),
    col(Bundle.title),
    col(Bundle.sha256),
    col(Bundle.bates_first),
    col(Bundle.bates_last),
    col(Bundle.page_count),
    col(Bundle.volumes),
    col(Bundle.bates_prefix),
    col(Bundle.params)["bates_digits"].as_integer(),
    col(Bundle.status),
    col(Bundle.finished_at),
)
_NAMED = _BUNDLE.where(col(Bundle.id) == bindparam("bundle_id"), col(Bundle.case_id) == bindparam("case_id"))
# The filed bundle first when it is done, then the newest done one: one row, from the case's few bundles.
_DEFAULT = (
    _BUNDLE.where(col(Bundle.case_id) == bindparam("case_id"), col(Bundle.status) == BundleStatus.done)
    .order_by((col(Bundle.id) == bindparam("filed")).desc(), col(Bundle.finished_at).desc(), col(Bundle.id))
    .limit(1)
)


@dataclass(frozen=True)
class CitedBundle:
    """The bundle whose Bates numbers a chronology cites, as its first page and responses name it."""

    id: uuid.UUID
    title: str
    sha256: str
    bates_first: str
    bates_last: str
    page_count: int
    volumes: list[dict]
    bates_prefix: str
    digits: int
    finished_at: datetime | None
    filed: bool

    def public(self) -> dict:
        """The `cited_bundle` of a page or summary, as JSON values."""
        return {
            "id": str(self.id),
            "title": self.title,
            "sha256": self.sha256,
            "bates_first": self.bates_first,
            "bates_last": self.bates_last,
            "filed": self.filed,
        }


def _cited(row, case: Case) -> CitedBundle:
    bundle_id, title, sha256, bates_first, bates_last, page_count, volumes, prefix, digits, _status, finished_at = row
    return CitedBundle(
        bundle_id,
        title,
        sha256,
        bates_first,
        bates_last,
        page_count,
        volumes,
        prefix,
        digits,
        finished_at,
        filed=bundle_id == case.filed_bundle_id,
    )


def cited_bundle(session: Session, case: Case, bundle_id: uuid.UUID | None) -> CitedBundle | None:
    """The bundle a chronology of the case cites: `bundle_id`, or by default the case's filed bundle, else its
    newest done one (None while it has none).

    A `bundle_id` that is not a bundle of this case is 404, as for one that does not exist; one that is not done
    (queued, building, failed, or being rebuilt) is 409: it has no Bates numbers to cite yet, or none at all."""
    connection = session.connection()
    if bundle_id is None:
        row = connection.execute(_DEFAULT, {"case_id": case.id, "filed": case.filed_bundle_id}).first()
        return None if row is None else _cited(row, case)
    row = connection.execute(_NAMED, {"bundle_id": bundle_id, "case_id": case.id}).first()
    if row is None:
        raise NotFound("bundle not found")
    status = BundleStatus(row.status)
    if status != BundleStatus.done:
        raise BundleNotDone(not_done(status, rebuilding=row.sha256 is not None))
    return _cited(row, case)


def announced(bundle: CitedBundle | None) -> tuple[dict, dict]:
    """The cited bundle as an export's audit details (none when it cited no bundle) and as its response headers
    (a CSV has no place of its own to say it; a PDF's first page says it too)."""
    if bundle is None:
        return {}, {"X-Cited-Bundle": "none"}
    details = {"bundle_id": str(bundle.id), "bundle_sha256": bundle.sha256}
    return details, {"X-Cited-Bundle": str(bundle.id), "X-Cited-Bundle-SHA256": bundle.sha256}


def not_done(status: BundleStatus, *, rebuilding: bool) -> str:
    """Why a bundle that is not done cannot be cited (or marked filed)."""
    if rebuilding:
        return f"the bundle is being rebuilt ({status.value}); its Bates numbers can be cited once the rebuild is done"
    if status == BundleStatus.failed:
        return "the bundle is failed, not done: it has no Bates numbers; rebuild it, or choose a done bundle"
    return f"the bundle is {status.value}, not done: its Bates numbers can be cited once its build has finished"


def exhibit_refs(session: Session, case_id: uuid.UUID, evidence_ids: Iterable[str] | None) -> dict:
    """The case's exhibit (id, label) by evidence id text, for these evidence ids (None: every exhibit)."""
    if evidence_ids is None:
        rows = session.execute(_REFS, {"case_id": case_id})
    else:
        wanted = [uuid.UUID(e) for e in set(evidence_ids)]
        if not wanted:
            return {}
        rows = session.execute(_SOME_REFS, {"case_id": case_id, "ids": wanted})
    return {str(row.evidence_id): row for row in rows.all()}


def placements(
    session: Session, bundle: CitedBundle | None, exhibit_ids: Iterable[uuid.UUID] | None
) -> dict[uuid.UUID, tuple]:
    """Where each exhibit sits in the cited bundle, for these exhibits (None: every exhibit), by exhibit id;
    for bates_cite. An exhibit the bundle does not hold is absent, as is every exhibit without a bundle."""
    if bundle is None:
        return {}
    if exhibit_ids is None:
        result = session.connection().execute(_PLACEMENTS, {"bundle_id": bundle.id})
    else:
        wanted = list(set(exhibit_ids))
        if not wanted:
            return {}
        result = session.connection().execute(_SOME_PLACEMENTS, {"bundle_id": bundle.id, "exhibit_ids": wanted})
    placed: dict[uuid.UUID, tuple] = {}
    for exhibit_id, *where in result.all():
        placed.setdefault(exhibit_id, (*where, bundle.bates_prefix, bundle.digits))
    return placed


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
    session: Session, bundle: CitedBundle | None, refs: Iterable[tuple[uuid.UUID | str, int | None]]
) -> dict[tuple[uuid.UUID | str, int | None], str]:
    """Bates cites in the cited bundle for (exhibit_id, page) pairs: one number for a page, the range of the
    exhibit's own pages for page None. Ids may be UUIDs or their text (either form); the cites are keyed by the
    pairs as given. An exhibit the bundle does not hold has no cite, nor has any without a bundle.
    Called once per page, never per event."""
    refs = set(refs)
    if not refs or bundle is None:
        return {}
    ids = {e: e if isinstance(e, uuid.UUID) else uuid.UUID(e) for e, _ in refs}
    placed = placements(session, bundle, ids.values())
    return {(e, page): bates_cite(placed[ids[e]], page) for e, page in refs if ids[e] in placed}


_CITABLE = (
    select(col(Exhibit.label), uuid_any_text(col(Exhibit.evidence_id)))
    .where(col(Exhibit.case_id) == bindparam("case_id"))
    .order_by(col(Exhibit.position), col(Exhibit.id))
    .limit(bindparam("limit"))
)


def citable(session: Session, case: Case, *, limit: int) -> list[tuple[str, str]]:
    """The first `limit` of the case's exhibits in exhibit order, as (label, evidence id as text): what an event's
    form offers to cite. One index range of plain text rows, so a case of thousands of exhibits costs a page
    little."""
    rows = session.connection().execute(_CITABLE, {"case_id": case.id, "limit": limit}).all()
    return [(label, as_uuid_text(evidence_id) or "") for label, evidence_id in rows]
