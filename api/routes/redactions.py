"""Redaction: a case's protective-order terms, suggestions over an item's pages, decisions, boxes drawn by hand, and
applying them into a derived, checked copy."""

import uuid
from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api.deps import BlobStoreDep, CaseEditor, CaseViewer, CurrentUser, EditorEvidence, SessionDep, VisibleEvidence
from api.errors import error_responses
from api.json_body import CheckedJSONRoute
from api.services import redactions as service
from api.services.text import TextBeingRead
from models.redaction import (
    DrawnRedaction,
    Redaction,
    RedactionDecision,
    RedactionSet,
    RedactionSetStatus,
    RedactionStatus,
    TermsIn,
)

router = APIRouter(tags=["redaction"], route_class=CheckedJSONRoute)
API_PREFIX = "/api/v1"


class TermsOut(BaseModel):
    case_id: uuid.UUID
    terms: list[str]
    patterns: list[str]
    updated_at: datetime | None = None


class RedactionOut(BaseModel):
    id: uuid.UUID
    evidence_id: uuid.UUID
    page: int = Field(
        description="1-based: a PDF's page, a picture's frame, or a page of a CSV's or e-mail's rendering"
    )
    box: list[float] = Field(description="[x0, y0, x1, y1], fractions of the page from its top-left corner")
    text: str | None = Field(description="What the box covers, where it was read")
    found: str | None = Field(
        default=None, description="What the detector found, with any part left showing (an SSN's last four digits)"
    )
    rule: str
    reason: str
    status: RedactionStatus
    origin: str
    sha256: str = Field(description="The item's SHA-256 when the box was placed")
    created_at: datetime
    decided_at: datetime | None = None


class RedactionList(BaseModel):
    items: list[RedactionOut]
    added: int | None = Field(default=None, description="How many this request suggested (suggest only)")


class RedactionSetOut(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    evidence_id: uuid.UUID
    status: RedactionSetStatus
    derived_evidence_id: uuid.UUID | None
    redactions: int
    check: dict
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _out(r: Redaction) -> RedactionOut:
    return RedactionOut(
        id=r.id, evidence_id=r.evidence_id, page=r.page, box=[round(v, 6) for v in r.box], text=r.text, found=r.found,
        rule=r.rule, reason=r.reason, status=r.status, origin=r.origin, sha256=r.sha256, created_at=r.created_at,
        decided_at=r.decided_at,
    )  # fmt: skip


def _set_out(s: RedactionSet) -> RedactionSetOut:
    return RedactionSetOut(
        id=s.id, case_id=s.case_id, evidence_id=s.evidence_id, status=s.status,
        derived_evidence_id=s.derived_evidence_id, redactions=len(s.redaction_ids), check=s.check, error=s.error,
        created_at=s.created_at, started_at=s.started_at, finished_at=s.finished_at,
    )  # fmt: skip


@router.get("/cases/{case_id}/redaction-terms", response_model=TermsOut, responses=error_responses(401, 404))
def get_terms(session: SessionDep, access: CaseViewer) -> TermsOut:
    """The case's own terms and patterns, redacted on top of the detectors."""
    row = service.terms_of(session, access.case.id)
    if row is None:
        return TermsOut(case_id=access.case.id, terms=[], patterns=[])
    return TermsOut(case_id=row.case_id, terms=row.terms, patterns=row.patterns, updated_at=row.updated_at)


@router.put("/cases/{case_id}/redaction-terms", response_model=TermsOut, responses=error_responses(401, 404, 422))
def put_terms(session: SessionDep, access: CaseEditor, data: TermsIn) -> TermsOut:
    """Set the case's terms (matched in any case) and patterns (regular expressions), e.g. a protective order's list.
    A pattern that is not a regular expression, or matches empty text, is refused."""
    row = service.put_terms(session, access.case, access.user, data)
    return TermsOut(case_id=row.case_id, terms=row.terms, patterns=row.patterns, updated_at=row.updated_at)


@router.get(
    "/evidence/{evidence_id}/redactions", response_model=RedactionList, responses=error_responses(401, 404, 410)
)
def list_redactions(session: SessionDep, item: VisibleEvidence) -> RedactionList:
    return RedactionList(items=[_out(r) for r in service.listing(session, item)])


@router.post(
    "/evidence/{evidence_id}/redactions/suggest",
    response_model=RedactionList,
    responses=error_responses(401, 404, TextBeingRead, 410, 422),
)
def suggest(session: SessionDep, store: BlobStoreDep, user: CurrentUser, item: EditorEvidence) -> RedactionList:
    """Run the detectors (SSN and TIN, birth dates, card numbers with a Luhn check, bank and PayPal account numbers,
    e-mail addresses, phone numbers, street addresses) and the case's terms and patterns over the item's pages. A
    picture's or a scanned page's words are those its OCR read: 409 while its text is still being read."""
    items, added = service.suggest(session, store, item, user)
    return RedactionList(items=[_out(r) for r in items], added=added)


@router.patch(
    "/evidence/{evidence_id}/redactions/{redaction_id:uuid}",
    response_model=RedactionOut,
    responses=error_responses(401, 404, 410, 422),
)
def decide(
    session: SessionDep, user: CurrentUser, redaction_id: uuid.UUID, data: RedactionDecision, item: EditorEvidence
) -> RedactionOut:
    """Accept or reject a redaction, with a reason if it should say something else than the rule's."""
    return _out(service.decide(session, item, redaction_id, user, data))


@router.post(
    "/evidence/{evidence_id}/redactions",
    response_model=RedactionOut,
    status_code=201,
    responses=error_responses(401, 404, TextBeingRead, service.BoxTaken, 410, 422),
)
def draw(
    session: SessionDep, store: BlobStoreDep, user: CurrentUser, data: DrawnRedaction, item: EditorEvidence
) -> RedactionOut:
    """A box drawn by hand, accepted as drawn. 422 for a box off the page or a page the item does not have; 409 for
    a box another redaction already covers."""
    return _out(service.draw(session, store, item, user, data))


@router.post(
    "/evidence/{evidence_id}/redactions/apply",
    response_model=RedactionSetOut,
    status_code=202,
    responses=error_responses(401, 404, service.RedactionStale, service.RedactionsBeingApplied, 410, 422),
)
def apply(session: SessionDep, user: CurrentUser, item: EditorEvidence, response: Response) -> RedactionSetOut:
    """Burn the item's accepted redactions into a new, derived item (the original is never changed), in the
    background: follow it at `Location`. The copy is read back (its text, OCR of its pictures, its raw bytes) and
    nothing is released when a redacted string is still in it."""
    redaction_set = service.apply(session, item, user)
    response.headers["Location"] = f"{API_PREFIX}/redaction-sets/{redaction_set.id}"
    return _set_out(redaction_set)


@router.get("/redaction-sets/{redaction_set_id}", response_model=RedactionSetOut, responses=error_responses(401, 404))
def get_set(session: SessionDep, user: CurrentUser, redaction_set_id: uuid.UUID) -> RedactionSetOut:
    """A redaction set: its status, the derived item once done, and what the release check read and found."""
    return _set_out(service.get_set(session, redaction_set_id, user))
