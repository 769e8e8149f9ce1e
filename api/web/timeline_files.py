"""The Timeline tab's files: the chronology exported as CSV or PDF (the API's export services, audited the same way,
for a browser that holds a session rather than a token), and a CSV or JSON Lines file imported through the API's
import service: at once when small, as an import job followed on the page when it is big."""

import uuid
from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from starlette.datastructures import UploadFile

from api.config import get_settings
from api.deps import SessionDep
from api.errors import DomainError, NotFound, PayloadTooLarge, UnprocessableEntity
from api.request_body import upload_slots
from api.services.timeline import exports as export_service
from api.services.timeline import import_jobs as job_service
from api.services.timeline import importer as import_service
from api.web.render import is_htmx, page, sentence
from api.web.session import CasePage, CaseViewerPage, PageRoute, case_page
from api.web.timeline import tab_context
from api.web.timeline_view import Filters, read_filter
from models.case import Role
from models.import_job import ImportJob, ImportJobStatus

router = APIRouter(route_class=PageRoute, include_in_schema=False)

TEMPLATE = "web/timeline_import.html"
FiltersDep = Annotated[Filters, Depends(Filters.from_query)]
MULTIPART_SLACK = 64 * 1024  # a form's boundaries and other fields, around the file itself
READ_BYTES = 1024 * 1024
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}  # by the file's name: browsers' types vary


def _filter(access: CasePage, filters: Filters):
    f, errors = read_filter(access.case, filters)
    if f is None:
        raise UnprocessableEntity(" ".join(errors.values()))
    return f


@router.get("/cases/{case_id}/timeline.csv")
def export_csv(session: SessionDep, access: CaseViewerPage, filters: FiltersDep) -> Response:
    """The filtered chronology as the API's CSV export (`GET /api/v1/cases/{id}/timeline?format=csv`)."""
    f = _filter(access, filters)
    rows, headers = export_service.csv_export(session, access.case, access.viewer.user, f, None)
    return StreamingResponse(rows, media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/cases/{case_id}/timeline.pdf")
def export_pdf(session: SessionDep, access: CaseViewerPage, filters: FiltersDep) -> Response:
    """The filtered chronology as the API's summary PDF (`GET /api/v1/cases/{id}/timeline.pdf`)."""
    f = _filter(access, filters)
    pdf, headers = export_service.pdf_export(session, access.case, access.viewer.user, f, None)
    return Response(pdf, media_type="application/pdf", headers=headers)


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(READ_BYTES):
        yield chunk


def _outcome(request: Request, access: CasePage, session, *, status: int = 200, **outcome) -> Response:
    block = "outcome" if is_htmx(request) else None
    headers = {"HX-Trigger": "timeline-added"} if outcome.get("imported") else None
    context = tab_context(session, access) | {"outcome": outcome, "htmx": is_htmx(request)}
    return page(request, TEMPLATE, access.viewer, status=status, block=block, headers=headers, **context)


def _refusal(exc: DomainError) -> dict:
    """A refused import in words: its message, and the rows at fault when it names them."""
    detail = exc.message if isinstance(exc.message, dict) else {"message": str(exc.message), "errors": []}
    errors = detail.get("errors") or []
    more = bool(detail.get("truncated"))
    return {"problem": sentence(str(detail.get("message", ""))), "errors": errors, "more": more}


# The import reads its own body: the CSRF token comes in the header (htmx) or the form's action URL, never from the
# body, so the size is checked before a byte of the file is read.
CaseImporter = Annotated[CasePage, Depends(case_page(Role.editor, streaming=True))]


@router.post("/cases/{case_id}/timeline/import")
async def import_events(request: Request, session: SessionDep, access: CaseImporter) -> Response:
    """The file in the form's `file` field, staged as the API stages a body, then imported the API's way."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > import_service.MAX_IMPORT_BYTES + MULTIPART_SLACK:
        raise PayloadTooLarge(import_service.TOO_LARGE)
    user = access.viewer.user
    with upload_slots.hold(user.id):
        upload = (await request.form()).get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _outcome(request, access, session, status=422, problem="Choose a CSV or JSON Lines file to import.")
        body = await job_service.stage(_chunks(upload))
    fmt = next((kind for suffix, kind in FORMATS.items() if upload.filename.lower().endswith(suffix)), None)
    try:
        if body.size > get_settings().import_job_threshold_bytes:
            kind = import_service.detect_format(fmt, None, body.head, body.size)
            queue = partial(job_service.create_job, session, case=access.case, actor=user, body=body, fmt=kind)
            job = await anyio.to_thread.run_sync(queue)
            return _outcome(request, access, session, status=202, job=job_service.public(job))
        run = partial(
            import_service.import_events,
            session,
            case=access.case,
            actor=user,
            chunks=body.chunks(),
            fmt=fmt,
            content_type=None,
        )
        result = await anyio.to_thread.run_sync(run, limiter=import_service.IMPORT_THREADS)
        return _outcome(request, access, session, imported=result["imported"], name=upload.filename)
    except DomainError as exc:
        if exc.status_code >= 500:
            raise
        return _outcome(request, access, session, status=exc.status_code, name=upload.filename, **_refusal(exc))
    finally:
        body.discard()  # a queued job's file has been renamed away by then


def _job(session, access: CasePage, import_id: uuid.UUID) -> ImportJob:
    job = job_service.get_visible(session, import_id, access.viewer.user)
    if job.case_id != access.case.id:
        raise NotFound("import not found")
    return job


@router.get("/cases/{case_id}/timeline/imports/{import_id}")
def import_progress(request: Request, session: SessionDep, access: CaseViewerPage, import_id: uuid.UUID) -> Response:
    """An import job as it goes: htmx asks every second until it has ended."""
    public = job_service.public(_job(session, access, import_id))
    if public.status == ImportJobStatus.succeeded:
        return _outcome(request, access, session, imported=public.imported, job=public)
    if public.status == ImportJobStatus.failed:
        refusal: dict[str, Any] = {"problem": sentence(public.message or "the import failed"), "more": False}
        return _outcome(request, access, session, job=public, errors=[e.model_dump() for e in public.errors], **refusal)
    return _outcome(request, access, session, job=public)
