import uuid
from functools import partial
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, StreamingResponse

from api.config import get_settings
from api.deps import CaseEditor, CaseEvent, CaseUploader, CaseViewer, EditableEvent, SessionDep
from api.errors import BundleNotDone, PayloadTooLarge, error_responses
from api.json_body import CheckedJSONRoute
from api.json_response import FastJSONResponse
from api.pagination import DEFAULT_LIMIT
from api.request_body import body_chunks
from api.services.holds import CaseOnHold
from api.services.timeline import citations
from api.services.timeline import events as timeline_service
from api.services.timeline import exports as export_service
from api.services.timeline import import_jobs as job_service
from api.services.timeline import importer as import_service
from api.services.timeline import query as query_service
from api.services.timeline import summary as summary_service
from models.import_job import ImportJobPublic
from models.inputs import FILTER_VALUES_MAX, Choice, Cursor, DateBound, SearchText, Tag
from models.timeline import EventCreate, EventUpdate, ImportResult, TimelineEventPublic, TimelinePage, TimelineSummary

router = APIRouter(tags=["timeline"], route_class=CheckedJSONRoute)

API_PREFIX = "/api/v1"
ANY_OF = "Repeat (or separate with commas) to match any of several."


async def timeline_filter(  # async: pure parsing, so no hop to the thread pool
    access: CaseViewer,
    start: DateBound | None = Query(
        None,
        description="Inclusive. ISO date or datetime (2021, 2021-03, 2021-03-04, 2021-03-04T17:30); "
        "without an offset, in the case timezone. Events whose fuzzy span overlaps the range match.",
    ),
    end: DateBound | None = Query(None, description="Exclusive; same forms as start."),
    kind: list[Choice] | None = Query(None, max_length=FILTER_VALUES_MAX, description=f"Event kind. {ANY_OF}"),
    tag: list[Tag] | None = Query(
        None, max_length=FILTER_VALUES_MAX, description=f"Tag (ASCII letters match in any case). {ANY_OF}"
    ),
    evidence_kind: list[Choice] | None = Query(
        None, max_length=FILTER_VALUES_MAX, description=f"Kind of the cited evidence. {ANY_OF}"
    ),
    disputed: bool | None = Query(None),
    q: SearchText | None = Query(None, description="Text to find in the title or description."),
    order: Literal["asc", "desc"] = "asc",
) -> query_service.TimelineFilter:
    return query_service.parse_filter(
        access.case,
        start=start,
        end=end,
        kind=kind,
        tag=tag,
        evidence_kind=evidence_kind,
        disputed=disputed,
        q=q,
        order=order,
    )


FilterDep = Annotated[query_service.TimelineFilter, Depends(timeline_filter)]


# Named exactly so in the issue and the docs: the chronology outputs cite this one bundle's Bates numbers.
BUNDLE_ID = Query(
    None,
    description="The bundle whose Bates numbers every cite comes from: a done bundle of this case (404 for any "
    "other, 409 for one not done). Default: the bundle the case has filed, else its newest done one.",
)


def _wants_csv(fmt: str | None, accept: str) -> bool:
    if fmt is not None:
        return fmt == "csv"
    accept = accept.lower()
    return "text/csv" in accept and "application/json" not in accept


@router.get(
    "/cases/{case_id}/timeline",
    response_model=TimelinePage,
    responses=error_responses(400, 401, 404, BundleNotDone, 422)
    | {200: {"description": "A page of events, or the whole selection as CSV", "content": {"text/csv": {}}}},
)
def get_timeline(
    request: Request,
    session: SessionDep,
    access: CaseViewer,
    f: FilterDep,
    limit: int = DEFAULT_LIMIT,
    cursor: Cursor | None = None,
    format: Literal["json", "csv"] | None = Query(None, description="csv streams the whole selection."),
    bundle_id: uuid.UUID | None = BUNDLE_ID,
):
    """The case's chronology, ordered by time then id, a page at a time; or all of it as CSV. Every Bates cite
    comes from one bundle, named by `cited_bundle` (CSV: the X-Cited-Bundle header and the bates_bundle_id
    column); a next_cursor keeps citing the bundle of the first page."""
    if _wants_csv(format, request.headers.get("accept", "")):
        rows, headers = export_service.csv_export(session, access.case, access.user, f, bundle_id)
        return StreamingResponse(rows, media_type="text/csv; charset=utf-8", headers=headers)
    items, next_cursor, bundle = query_service.page(
        session, access.case, f, limit=limit, cursor=cursor, bundle_id=bundle_id
    )
    # The items are already JSON values in the TimelinePage shape (the tests hold them to it); validating a
    # model per event again would cost more than reading the page.
    cited = bundle.public() if bundle else None
    return FastJSONResponse({"items": items, "next_cursor": next_cursor, "cited_bundle": cited})


@router.get(
    "/cases/{case_id}/timeline.pdf",
    response_class=Response,
    responses=error_responses(401, 404, BundleNotDone, 422) | {200: {"content": {"application/pdf": {}}}},
)
def timeline_pdf(
    session: SessionDep, access: CaseViewer, f: FilterDep, bundle_id: uuid.UUID | None = BUNDLE_ID
) -> Response:
    """The selection as a summary chronology for court (FRE 1006): caption, entries, exhibits summarized. Its
    first page names the one bundle its Bates numbers come from, with that bundle's SHA-256."""
    pdf, headers = export_service.pdf_export(session, access.case, access.user, f, bundle_id)
    return Response(pdf, media_type="application/pdf", headers=headers)


@router.get(
    "/cases/{case_id}/timeline/summary",
    response_model=TimelineSummary,
    responses=error_responses(401, 404, BundleNotDone, 422),
)
def timeline_summary(session: SessionDep, access: CaseViewer, f: FilterDep, bundle_id: uuid.UUID | None = BUNDLE_ID):
    """Counts per kind and per month, and the first and last event of the selection, cited from one bundle."""
    bundle = citations.cited_bundle(session, access.case, bundle_id)
    return summary_service.summary(session, access.case, f, bundle)


@router.post(
    "/cases/{case_id}/events",
    response_model=TimelineEventPublic,
    status_code=201,
    responses=error_responses(401, 403, 404, 422),
)
def create_event(session: SessionDep, access: CaseEditor, data: EventCreate):
    """Add a manual event. occurred_at keeps the precision it is written with ("2021-03" is March 2021)."""
    event = timeline_service.create_event(session, case=access.case, actor=access.user, data=data)
    return timeline_service.to_public(session, access.case, event)


@router.get(
    "/cases/{case_id}/events/{event_id}", response_model=TimelineEventPublic, responses=error_responses(401, 404)
)
def get_event(session: SessionDep, event: CaseEvent, access: CaseViewer):
    return timeline_service.to_public(session, access.case, event)


@router.patch(
    "/cases/{case_id}/events/{event_id}",
    response_model=TimelineEventPublic,
    responses=error_responses(401, 403, 404, timeline_service.EventDerived, 422),
)
def update_event(session: SessionDep, event: EditableEvent, access: CaseEditor, data: EventUpdate):
    """Edit an event. A derived event takes only `disputed`; edit its evidence for the rest."""
    event = timeline_service.update_event(session, access.case, event, data, actor=access.user)
    return timeline_service.to_public(session, access.case, event)


@router.delete(
    "/cases/{case_id}/events/{event_id}",
    status_code=204,
    responses=error_responses(401, 403, 404, timeline_service.EventDerived, CaseOnHold),
)
def delete_event(session: SessionDep, event: EditableEvent, access: CaseEditor) -> None:
    """Delete a manual or imported event (a derived one goes with its exhibit); not while the case is on hold."""
    timeline_service.delete_event(session, event, actor=access.user)


IMPORT_DOC = {
    "requestBody": {
        "required": True,
        "description": "CSV with a header row, or JSON Lines. Columns: occurred_at, title, kind, description, "
        "tags, evidence_id (optional: precision, page, disputed); or Timesketch's datetime/timestamp, message, "
        "timestamp_desc. UTF-8.",
        "content": {"text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}}},
    }
}


def _respond_async(request: Request) -> bool:
    """Whether the client asked for `Prefer: respond-async` (RFC 7240)."""
    prefer = request.headers.get("prefer", "")
    return any(p.split(";")[0].strip().lower() == "respond-async" for p in prefer.split(","))


def _queue(session, access, body: job_service.StagedBody, fmt: str | None, content_type: str | None,
           asked: bool) -> JSONResponse:  # fmt: skip
    kind = import_service.detect_format(fmt, content_type, body.head, body.size)
    job = job_service.create_job(session, case=access.case, actor=access.user, body=body, fmt=kind)
    headers = {"Location": f"{API_PREFIX}/imports/{job.id}"}
    if asked:
        headers["Preference-Applied"] = "respond-async"
    return JSONResponse(jsonable_encoder(job_service.public(job)), status_code=202, headers=headers)


IMPORT_RESPONSES = error_responses(401, 403, 404, 408, 413, 415, 422, 429, 507) | {
    202: {"model": ImportJobPublic, "description": "Queued as a job: follow the Location header until it ends."}
}


@router.post(
    "/cases/{case_id}/events:import",
    response_model=ImportResult,
    status_code=201,
    openapi_extra=IMPORT_DOC,
    responses=IMPORT_RESPONSES,
)
async def import_events(
    request: Request,
    session: SessionDep,
    access: CaseUploader,
    format: Literal["csv", "jsonl"] | None = Query(None, description="Overrides the Content-Type."),
):
    """Import events, all or none: on any bad row, 422 lists every problem by row and column.

    A body over the import job threshold (8 MiB unless configured), or any body sent with
    `Prefer: respond-async`, is staged and imported in the background: 202 with the job and its Location
    (GET /imports/{id}), which reports progress and ends `succeeded` or `failed` with the same problems."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > import_service.MAX_IMPORT_BYTES:
        raise PayloadTooLarge(import_service.TOO_LARGE)
    threshold = get_settings().import_job_threshold_bytes
    content_type = request.headers.get("content-type")
    asked = _respond_async(request)
    as_job = asked or (declared.isdigit() and int(declared) > threshold)
    stream = body_chunks(request)
    if as_job or not declared.isdigit():  # a body of unknown length is staged, then judged by its size
        body = await job_service.stage(stream)
        try:
            if as_job or body.size > threshold:
                queue = partial(_queue, session, access, body, format, content_type, asked)
                return await anyio.to_thread.run_sync(queue)
            run = partial(_import_now, session, access, body.chunks(), format, content_type)
            return await anyio.to_thread.run_sync(run, limiter=import_service.IMPORT_THREADS)
        finally:
            body.discard()  # a queued job's file has been renamed away by then

    async def next_chunk() -> bytes | None:
        return await anext(stream, None)

    def chunks():
        # The parser runs in a worker thread and pulls the body from the event loop as it needs it.
        while (chunk := anyio.from_thread.run(next_chunk)) is not None:
            yield chunk

    run = partial(_import_now, session, access, chunks(), format, content_type)
    # Its own threads: imports waiting on slow bodies never take the threads every other route runs on.
    return await anyio.to_thread.run_sync(run, limiter=import_service.IMPORT_THREADS)


def _import_now(session, access, chunks, fmt: str | None, content_type: str | None) -> dict:
    return import_service.import_events(
        session, case=access.case, actor=access.user, chunks=chunks, fmt=fmt, content_type=content_type
    )
