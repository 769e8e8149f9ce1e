"""Citations: which exhibit (label) and which Bates number prove an event."""

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, select
from sqlmodel import Session

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

    Bates numbers come from a case's bundle; until a bundle exists for the case this returns no cites,
    and every citation's `bates` is null. Called once per page or export chunk, never per event.
    """
    return {}
