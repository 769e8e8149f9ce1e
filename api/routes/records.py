"""Record sets: upload a data file with its mapping, follow its import, find, cite and extract its records."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import BlobStoreDep, CaseUploader, CaseViewer, CurrentUser, SessionDep
from api.errors import DigestMismatch, NotFound, error_responses
from api.intake import receive_record_set
from api.json_body import CheckedJSONRoute
from api.pagination import DEFAULT_LIMIT, Page
from api.records import query
from api.services import record_extracts as extract_service
from api.services import record_sets as service
from api.services.holds import CaseOnHold
from models.case import Case, Role
from models.inputs import CUSTODIAN_CHARS, NOTE_CHARS, Cursor
from models.record_set import ExtractCreate, ExtractPublic, RecordPublic, RecordSet, RecordSetPublic

router = APIRouter(tags=["records"], route_class=CheckedJSONRoute)
API_PREFIX = "/api/v1"
MAX_PAGE = 1000

UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "name", "role", "mapping"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "name": {"type": "string", "maxLength": service.NAME_CHARS},
                        "role": {
                            "type": "string",
                            "enum": ["messages", "reviews", "payments", "orders", "accounts", "other"],
                        },  # fmt: skip
                        "mapping": {
                            "type": "string",
                            "maxLength": service.MAPPING_CHARS,
                            "description": 'JSON object {"<source path>": "<canonical field>"}; dotted paths into '
                            "nested JSON, from the hit (_id, _source.x.y) for an Elasticsearch export; the role's "
                            "time may be mapped from up to three fields (a date, a time of day, a zone), read in order",
                        },
                        "date_order": {
                            "type": "string",
                            "enum": ["mdy", "dmy"],
                            "description": "How the file writes a date such as 03/04/2021 (mdy: March 4; dmy: "
                            "3 April). Without it such a date is refused; ISO 8601 dates and dates that start "
                            "with the year need none.",
                        },
                        "format": {
                            "type": "string",
                            "enum": ["csv", "jsonl", "es"],
                            "description": "Told from the file's first bytes when not sent.",
                        },
                        "description": {"type": "string", "maxLength": NOTE_CHARS},
                        "custodian": {"type": "string", "maxLength": CUSTODIAN_CHARS},
                        "sha256": {
                            "type": "string",
                            "maxLength": 64,
                            "description": "The file's SHA-256, as for an evidence upload.",
                        },
                    },
                }
            }
        },
    }
}


def _visible(role: Role = Role.viewer):
    def dependency(record_set_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> RecordSet:
        return service.get_visible(session, record_set_id, user, role)

    return dependency


VisibleRecordSet = Annotated[RecordSet, Depends(_visible())]
EditableRecordSet = Annotated[RecordSet, Depends(_visible(Role.editor))]


@router.post(
    "/cases/{case_id}/record-sets",
    response_model=RecordSetPublic,
    status_code=202,
    openapi_extra=UPLOAD_DOC,
    responses=error_responses(400, 401, 403, 404, 408, 413, 422, DigestMismatch, 429, 503, 507),
)
async def create_record_set(
    request: Request, response: Response, access: CaseUploader, session: SessionDep, store: BlobStoreDep
) -> RecordSetPublic:
    """Upload a data file (CSV with a header, JSON Lines, an Elasticsearch export, or a gzip of one) with its
    name, role and mapping. It is stored as evidence (hashed, an exhibit of the case) and imported in the
    background: follow it at the `Location`, GET /record-sets/{id}. The mapping is checked before anything is
    stored (a CSV's header too): a wrong one gets 422 naming the field."""
    record_set = await receive_record_set(request, session, store, case=access.case, actor=access.user)
    response.headers["Location"] = f"{API_PREFIX}/record-sets/{record_set.id}"
    return service.public(session, record_set)


@router.get(
    "/cases/{case_id}/record-sets",
    response_model=Page[RecordSetPublic],
    responses=error_responses(400, 401, 404, 422),
)
def list_record_sets(session: SessionDep, access: CaseViewer, limit: int = DEFAULT_LIMIT, cursor: Cursor | None = None):
    """The case's record sets, oldest first."""
    rows, next_cursor = service.list_sets(session, access.case, limit=limit, cursor=cursor)
    return {"items": [service.public(session, r) for r in rows], "next_cursor": next_cursor}


@router.get("/record-sets/{record_set_id}", response_model=RecordSetPublic, responses=error_responses(401, 404))
def get_record_set(session: SessionDep, record_set: VisibleRecordSet) -> RecordSetPublic:
    """A record set and its import: status (queued, running, done, failed), rows_done, rows_total (an estimate
    while it runs), rows_rejected and the first refused lines in errors, each with its line and why."""
    return service.public(session, record_set)


@router.delete(
    "/record-sets/{record_set_id}",
    status_code=204,
    responses=error_responses(401, 403, 404, CaseOnHold, service.RecordSetBusy),
)
def delete_record_set(session: SessionDep, user: CurrentUser, record_set: EditableRecordSet) -> Response:
    """Remove a record set and its records (editors). Its original file stays evidence. Refused while the case is on
    legal hold, and while it is being imported."""
    service.delete_set(session, record_set, actor=user)
    return Response(status_code=204)


RESERVED = {"q", "from", "to", "cursor", "limit"}


def _case(session, record_set: RecordSet) -> Case:
    case = session.get(Case, record_set.case_id)
    assert case is not None
    return case


def _public_record(session, record_set: RecordSet, record, label: str) -> RecordPublic:
    return RecordPublic(
        row=record.row,
        fields=record.fields,
        unmapped=query.unmapped(record_set, record),
        source_line=record.source_line,
        decoded_as=record.decoded_as,
        citation=query.citation(label, record.row),
    )


@router.get(
    "/record-sets/{record_set_id}/records",
    response_model=Page[RecordPublic],
    responses=error_responses(400, 401, 404, 422),
)
def list_records(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    record_set: VisibleRecordSet,
    q: str | None = Query(None, max_length=500, description="Words anywhere in the record's line (any case)."),
    start: str | None = Query(None, alias="from", max_length=100, description="From this time (inclusive); ISO 8601."),
    end: str | None = Query(None, alias="to", max_length=100, description="Up to this time (exclusive); ISO 8601."),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_PAGE),
    cursor: Cursor | None = None,
):
    """The records in row order, filtered by any canonical field of the role as a query parameter
    (`?reviewer_id=A1B2&type=refund`), by words (`q`) and by time (`from`, `to`)."""
    sent = {k: v for k, v in request.query_params.items() if k not in RESERVED}
    sent |= {k: v for k, v in (("q", q), ("from", start), ("to", end)) if v is not None}
    wanted = query.parse_filter(record_set, sent, timezone=_case(session, record_set).timezone)
    rows, next_cursor = query.page(session, record_set, wanted, limit=limit, cursor=cursor)
    label = service.citation_label(session, record_set)
    details = {"filter": wanted.describe(), "rows": [r.row for r in rows][:50], "count": len(rows)}
    service.viewed(session, record_set, user, details)
    return {"items": [_public_record(session, record_set, r, label) for r in rows], "next_cursor": next_cursor}


@router.get(
    "/record-sets/{record_set_id}/records/{row}",
    response_model=RecordPublic,
    responses=error_responses(401, 404),
)
def get_record(
    session: SessionDep, user: CurrentUser, record_set: VisibleRecordSet, row: Annotated[int, Path(ge=1, le=2**62)]
) -> RecordPublic:
    """One record by its row (its line in the file): its fields, the fields the mapping leaves, its exact line and
    its citation."""
    record = query.get(session, record_set, row)
    if record is None:
        raise NotFound(f"the record set has no record at row {row:,} (a refused line leaves its row empty)")
    service.viewed(session, record_set, user, {"rows": [row], "count": 1})
    return _public_record(session, record_set, record, service.citation_label(session, record_set))


@router.post(
    "/record-sets/{record_set_id}/extracts",
    response_model=ExtractPublic,
    status_code=201,
    responses=error_responses(401, 403, 404, 422),
)
async def create_extract(
    session: SessionDep, user: CurrentUser, store: BlobStoreDep, record_set: EditableRecordSet, body: ExtractCreate
) -> ExtractPublic:
    """A new evidence item (a CSV) of the records matching `filter` (the same {field: value} the listing takes, and
    q, from, to), with each record's row, citation and exact line; its description names the original's SHA-256
    and the filter. It is an exhibit of the case like any other."""
    made = await run_in_threadpool(
        extract_service.extract, session, store, record_set, sent=body.filter, title=body.title, actor=user
    )
    return ExtractPublic(
        evidence_id=made.item.id,
        exhibit_label=made.exhibit.label if made.exhibit else None,
        sha256=made.item.sha256,
        rows=made.rows,
        filter=made.filter,
        source_sha256=made.source_sha256,
        record_set_id=record_set.id,
    )
