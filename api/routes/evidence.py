import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from api.deps import BlobStoreDep, CaseUploader, CurrentUser, SessionDep, VisibleEvidence, evidence_for
from api.downloads import content_disposition, download_name, evidence_original
from api.errors import DigestMismatch, error_responses
from api.intake import receive_evidence
from api.json_body import CheckedJSONRoute
from api.services import deletion
from api.services import evidence as evidence_service
from api.services import text as text_service
from api.services.holds import CaseOnHold
from models.case import Role
from models.evidence import EvidenceItem, EvidencePublic, EvidenceUpdate, EvidenceUploadForm, ExhibitRef
from models.inputs import Reason

router = APIRouter(tags=["evidence"], route_class=CheckedJSONRoute)


def _form_schema(model) -> dict:
    """A multipart form's schema from the model that checks its fields: each field as the text it is sent as,
    with the model's limits (a form field cannot be null, and the schema is inlined, not a $ref)."""
    schema = model.model_json_schema()
    properties = {"file": {"type": "string", "format": "binary"}}
    for name, prop in schema["properties"].items():
        sent = next((p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"), prop)
        if "$ref" in sent:
            sent = schema["$defs"][sent["$ref"].rsplit("/", 1)[-1]]
        properties[name] = {k: v for k, v in sent.items() if k not in ("title", "default", "description")}
        if "description" in prop:
            properties[name]["description"] = prop["description"]
    return {"type": "object", "required": ["file", *schema["required"]], "properties": properties}


# Its body is validated before its access is checked (see `evidence_for`).
EditableEvidence = Annotated[EvidenceItem, Depends(evidence_for(Role.editor, body=EvidenceUpdate))]

UPLOAD_DOC = {
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": _form_schema(EvidenceUploadForm)}}}
}


def _public(session, item: EvidenceItem, *, duplicate: bool = False, exhibit=None) -> EvidencePublic:
    if exhibit is None:
        exhibit = evidence_service.exhibit_in_case(session, evidence_service.case_of(session, item), item)
    ref = ExhibitRef(id=exhibit.id, label=exhibit.label) if exhibit else None
    extra = {"exhibit": ref, "duplicate": duplicate} | text_service.status_fields(session, item.id)
    return EvidencePublic.model_validate(item, update=extra)


@router.post(
    "/cases/{case_id}/evidence",
    response_model=EvidencePublic,
    status_code=201,
    openapi_extra=UPLOAD_DOC,
    responses=error_responses(400, 401, 403, 404, 408, 413, 422, DigestMismatch, 429, 503, 507)
    | {200: {"description": "Duplicate: these bytes are already evidence in the case"}},
)
async def upload_evidence(
    request: Request, response: Response, access: CaseUploader, session: SessionDep, store: BlobStoreDep
) -> EvidencePublic:
    """Upload an original. It is hashed while it streams, stored once by SHA-256 and becomes the case's next exhibit.

    No database connection is held while the body arrives; the item is recorded in one short transaction once
    the whole file is staged."""
    received = await receive_evidence(request, session, store, case=access.case, actor=access.user)
    if received.duplicate:
        response.status_code = 200
    return _public(session, received.item, duplicate=received.duplicate, exhibit=received.exhibit)


@router.get("/evidence/{evidence_id}", response_model=EvidencePublic, responses=error_responses(401, 404, 410))
def get_evidence(session: SessionDep, user: CurrentUser, item: VisibleEvidence) -> EvidencePublic:
    """The item, for a member of any case it is in: the one it was uploaded into or one it is linked into."""
    evidence_service.record_access(session, "evidence.view", item, user)
    return _public(session, item)


@router.patch(
    "/evidence/{evidence_id}", response_model=EvidencePublic, responses=error_responses(401, 403, 404, 410, 422)
)
def update_evidence(
    session: SessionDep, user: CurrentUser, item: EditableEvidence, data: EvidenceUpdate
) -> EvidencePublic:
    """Edit metadata (editor role in the case the item was uploaded into: every case it is linked into shows the
    same metadata). The original bytes, their hash and the sniffed type never change."""
    return _public(session, evidence_service.update_metadata(session, item, data, actor=user))


@router.delete(
    "/evidence/{evidence_id}",
    status_code=204,
    responses=error_responses(401, 403, 404, CaseOnHold, deletion.EvidenceStillCited, 410, 422),
)
def delete_evidence(
    session: SessionDep,
    user: CurrentUser,
    evidence_id: uuid.UUID,
    reason: Annotated[Reason, Query(description="Why the item is deleted; kept with it and in the audit trail.")],
) -> None:
    """Soft delete (editor role in the case the item was uploaded into). The row and its custody stay; the
    original goes only with an admin purge. Refused (409) while the item is under legal hold (in its own case or
    any case it is linked into), and while it is an exhibit or cited by a timeline event: unlink it first. Then
    it answers 410; uploading the same bytes into its case again restores it."""
    deletion.delete(session, evidence_id, user, reason=reason)


@router.get(
    "/evidence/{evidence_id}/content",
    response_class=StreamingResponse,
    responses=error_responses(401, 404, 410, 500)
    | {
        200: {
            "description": "The original bytes. Content-Type is the item's `media_type`, as sniffed at upload.",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        },
        304: {"description": "Not modified"},
    },
)
def download_evidence(
    session: SessionDep, user: CurrentUser, store: BlobStoreDep, request: Request, item: VisibleEvidence
):
    """The original bytes exactly as uploaded, always as an attachment."""
    evidence_service.record_access(
        session, "evidence.download", item, user, {"if_none_match": request.headers.get("if-none-match")}
    )
    disposition = content_disposition(download_name(item.original_filename, item.sha256))
    return evidence_original(session, store, request, user, item, disposition=disposition)
