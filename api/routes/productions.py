"""Productions (what goes to the other side, as review platforms load it), privilege claims, the privilege log
(FRCP 26(b)(5)(A)) and the redaction log (FRCP 5.2 and protective-order redactions)."""

import io
import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import BlobStoreDep, CaseEditor, CaseViewer, CurrentUser, EditorEvidence, SessionDep, VisibleEvidence
from api.downloads import content_disposition, file_response
from api.errors import UnprocessableEntity, error_responses
from api.json_body import CheckedJSONRoute
from api.services import audit
from api.services import productions as service
from models.case import Role
from models.production import PrivilegeClaim, PrivilegeIn, Production, ProductionCreate, ProductionStatus

router = APIRouter(tags=["productions"], route_class=CheckedJSONRoute)
API_PREFIX = "/api/v1"


class ProductionOut(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    label: str = Field(description="PROD001, PROD002...: its number in the case, and its load files' names")
    name: str
    recipient: str | None
    status: ProductionStatus
    prefix: str
    bates_first: str | None
    bates_last: str | None
    items: list[str]
    redacted: bool
    natives: list[str]
    text: bool
    image_format: str
    encoding: str
    documents: list[dict]
    manifest: dict[str, str] = Field(description="Every file in the ZIP by its path, with its SHA-256")
    zip_sha256: str | None
    zip_size: int | None
    check: dict
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class ClaimOut(BaseModel):
    evidence_id: uuid.UUID
    treatment: str
    privilege: str
    basis: str
    date: str | None
    author: str | None
    recipients: list[str]
    subject: str


def _out(p: Production) -> ProductionOut:
    shown = service.bates_range(p)
    return ProductionOut(
        id=p.id, case_id=p.case_id, label=service.label(p), name=p.name, recipient=p.recipient, status=p.status,
        prefix=p.prefix, bates_first=shown[0] if shown else None, bates_last=shown[1] if shown else None,
        items=p.items, redacted=p.redacted, natives=p.natives, text=p.text, image_format=p.image_format,
        encoding=p.encoding, documents=p.documents, manifest=p.manifest, zip_sha256=p.zip_sha256, zip_size=p.zip_size,
        check=p.check, error=p.error, created_at=p.created_at, finished_at=p.finished_at,
    )  # fmt: skip


def _claim_out(c: PrivilegeClaim) -> ClaimOut:
    return ClaimOut(
        evidence_id=c.evidence_id, treatment=c.treatment, privilege=c.privilege, basis=c.basis,
        date=c.dated.isoformat() if c.dated else None, author=c.author, recipients=c.recipients, subject=c.subject,
    )  # fmt: skip


def _visible(role: Role = Role.viewer):
    def dependency(production_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> Production:
        return service.get_visible(session, production_id, user, role)

    return dependency


VisibleProduction = Annotated[Production, Depends(_visible())]
EditableProduction = Annotated[Production, Depends(_visible(Role.editor))]


@router.post(
    "/cases/{case_id}/productions",
    response_model=ProductionOut,
    status_code=202,
    responses=error_responses(401, 403, 404, service.BatesClash, service.RedactionsNotApplied, 422),
)
def create_production(session: SessionDep, access: CaseEditor, data: ProductionCreate, response: Response):
    """Produce evidence items to the other side (editors), in the background: follow it at `Location`. Each item's
    pages are stamped with the production's Bates numbers (continuing the prefix unless `start` is given) and its
    designation legend; `redacted` produces each item's redacted copy; an item withheld for privilege is a slip
    sheet. 409 when `start` repeats numbers a bundle or production issued under the prefix, or when an item's
    accepted redactions are not applied yet."""
    production = service.create(session, access.case, access.user, data)
    response.headers["Location"] = f"{API_PREFIX}/productions/{production.id}"
    return _out(production)


@router.get("/cases/{case_id}/productions", response_model=list[ProductionOut], responses=error_responses(401, 404))
def list_productions(session: SessionDep, access: CaseViewer) -> list[ProductionOut]:
    return [_out(p) for p in service.list_productions(session, access.case)]


@router.get("/productions/{production_id}", response_model=ProductionOut, responses=error_responses(401, 404))
def get_production(production: VisibleProduction) -> ProductionOut:
    """Its status; once done, its Bates range, its documents and the manifest of every file with its SHA-256."""
    return _out(production)


@router.get(
    "/productions/{production_id}/zip",
    response_class=Response,
    responses=error_responses(401, 404, 422, 500) | {200: {"content": {"application/zip": {}}}},
)
def production_zip(
    session: SessionDep, store: BlobStoreDep, request: Request, user: CurrentUser, production: VisibleProduction
) -> Response:
    """The production as a ZIP: IMAGES/, NATIVES/, TEXT/, DATA/PRODnnn.dat and .opt."""
    if production.status != ProductionStatus.done or production.zip_sha256 is None or production.zip_size is None:
        raise UnprocessableEntity(f"the production is {production.status}: download it once it is done")
    audit.record_case(
        session, "production.download", production.case_id, actor=user,
        details={"production_id": str(production.id), "zip_sha256": production.zip_sha256},
    )  # fmt: skip
    return file_response(
        store, request, sha256=production.zip_sha256, size=production.zip_size, media_type="application/zip",
        disposition=content_disposition(f"{service.label(production)}-{production.prefix}.zip"),
        on_damaged=lambda details: audit.record_case(
            session, "production.integrity_failure", production.case_id, actor=user, details=details, durable=True
        ),
    )  # fmt: skip


class Reproduced(BaseModel):
    same: bool = Field(description="Whether the ZIP written again has the same bytes as the one produced")
    zip_sha256: str | None
    reproduced_sha256: str
    different: list[str] = Field(description="Paths in the ZIP whose bytes differ")


@router.post(
    "/productions/{production_id}/reproduce", response_model=Reproduced, responses=error_responses(401, 403, 404, 422)
)
async def reproduce(session: SessionDep, user: CurrentUser, production: EditableProduction) -> Reproduced:
    """Write the production again from what it recorded and compare it with what was produced, byte for byte."""
    return Reproduced(**await run_in_threadpool(service.reproduce, session, production, user))


@router.get(
    "/evidence/{evidence_id}/privilege", response_model=ClaimOut | None, responses=error_responses(401, 404, 410)
)
def get_claim(session: SessionDep, item: VisibleEvidence) -> ClaimOut | None:
    claim = session.get(PrivilegeClaim, item.id)
    return _claim_out(claim) if claim else None


@router.put("/evidence/{evidence_id}/privilege", response_model=ClaimOut, responses=error_responses(401, 404, 410, 422))
def put_claim(session: SessionDep, user: CurrentUser, data: PrivilegeIn, item: EditorEvidence) -> ClaimOut:
    """Claim privilege over an item: `withheld` (a slip sheet stands in its place in productions) or `redacted`
    (produced with its privileged parts redacted), with what the privilege log says of it."""
    return _claim_out(service.put_claim(session, item, user, data))


@router.delete("/evidence/{evidence_id}/privilege", status_code=204, responses=error_responses(401, 404, 410))
def drop_claim(session: SessionDep, user: CurrentUser, item: EditorEvidence) -> None:
    service.drop_claim(session, item, user)


PRIVILEGE_COLUMNS = [
    ("bates", "Bates"), ("date", "Date"), ("author", "Author"), ("recipients", "Recipients"),
    ("privilege", "Privilege"), ("treatment", "Withheld or redacted"), ("basis", "Basis for the claim"),
    ("subject", "Subject matter"), ("evidence_id", "Evidence id"),
]  # fmt: skip
REDACTION_COLUMNS = [
    ("bates", "Bates"), ("page", "Page"), ("rule", "Rule"), ("reason", "Reason"), ("evidence_id", "Evidence id"),
]  # fmt: skip


def _csv(rows: list[dict], columns: list[tuple[str, str]]) -> bytes:
    from api.services.timeline.csv import csv_line

    out = io.StringIO()
    out.write("\ufeff" + csv_line([title for _, title in columns]))
    for row in rows:
        out.write(csv_line([str(row.get(key, "")) for key, _ in columns]))
    return out.getvalue().encode("utf-8")


@router.get(
    "/cases/{case_id}/privilege-log",
    response_class=Response,
    responses=error_responses(401, 404, 422) | {200: {"content": {"text/csv": {}, "application/pdf": {}}}},
)
def privilege_log(session: SessionDep, access: CaseViewer, format: Literal["csv", "pdf"] = "csv") -> Response:
    """One entry per item withheld or redacted for privilege (FRCP 26(b)(5)(A)), with the Bates ranges it was
    produced under; as CSV, or as a PDF for service (`?format=pdf`)."""
    rows = service.privilege_log(session, access.case)
    audit.record_case(session, "privilege_log.read", access.case.id, actor=access.user, details={"format": format})
    name = f"privilege-log-{access.case.id}"
    if format == "pdf":
        return Response(
            service.privilege_log_pdf(access.case, rows, [title for _, title in PRIVILEGE_COLUMNS[:-1]]),
            media_type="application/pdf", headers={"Content-Disposition": content_disposition(f"{name}.pdf")},
        )  # fmt: skip
    return Response(
        _csv(rows, PRIVILEGE_COLUMNS), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition(f"{name}.csv")},
    )  # fmt: skip


@router.get(
    "/cases/{case_id}/redaction-log",
    response_class=Response,
    responses=error_responses(401, 404) | {200: {"content": {"text/csv": {}}}},
)
def redaction_log(session: SessionDep, access: CaseViewer) -> Response:
    """The FRCP 5.2 and protective-order redactions (not privilege, which is in the privilege log): item, Bates,
    page, rule and reason; never what was redacted."""
    rows = service.redaction_log(session, access.case)
    audit.record_case(session, "redaction_log.read", access.case.id, actor=access.user, details={})
    return Response(
        _csv(rows, REDACTION_COLUMNS), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition(f"redaction-log-{access.case.id}.csv")},
    )  # fmt: skip
