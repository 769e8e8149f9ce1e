"""The evidence page: the item's preview, its text (api/web/evidence_text.py), details and facts (editable by
editors), its SHA-256 and original, its chain of custody and the timeline events that cite it; in the case it is
viewed from (`?case=`)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.deps import BlobStoreDep, SessionDep
from api.downloads import content_disposition, download_name, evidence_original, page_image
from api.errors import NotFound, UnprocessableEntity
from api.event_clock import EventClock
from api.services import audit_query
from api.services import cases as case_service
from api.services import evidence as evidence_service
from api.services import previews as preview_service
from api.services import redactions as redaction_service
from api.services.custody import pdf as custody_pdf_service
from api.services.custody import report as custody_report
from api.services.timeline import events as timeline_events
from api.web import facts_form, text_section
from api.web.case_page import DESIGNATIONS, KINDS
from api.web.forms import field_errors
from api.web.render import page
from api.web.session import PageRoute, Viewer, ViewerDep
from models.case import Case, Role
from models.evidence import EvidenceItem, EvidenceKind, EvidenceUpdate

router = APIRouter(route_class=PageRoute, include_in_schema=False)

CUSTODY_ROWS = 25
CITING_EVENTS = 50
DETAIL_FIELDS = ("kind", "title", "description", "occurred_at", "captured_at", "source_url", "custodian", "tags")

CaseQuery = Annotated[uuid.UUID | None, Query(alias="case")]
# A search whose words the Text section marks: any length is taken, and one that cannot be read marks nothing.
SearchWords = Annotated[str | None, Query()]


def viewed(session, evidence_id: str, viewer: Viewer, case_id: uuid.UUID | None, role: Role = Role.viewer):
    """The item, the case it is seen in and the viewer's role there, as the API would allow them."""
    try:
        wanted = uuid.UUID(evidence_id)
    except ValueError:
        raise NotFound("evidence not found") from None
    item = evidence_service.get_live(session, wanted, viewer.user, role=role)
    try:
        case = custody_report.caption_case(session, item, viewer.user, case_id)
    except UnprocessableEntity:  # a ?case= the item is not in: show it in its own
        case = custody_report.caption_case(session, item, viewer.user, None)
    _, held = case_service.get_with_role(session, case.id, viewer.user)
    return item, case, held or Role.viewer


def can_edit(session, item: EvidenceItem, viewer: Viewer) -> bool:
    """Whether the viewer edits the item: the editor role in the case it was uploaded into (its home)."""
    home_role = evidence_service.home_role(session, item, viewer.user)
    return home_role is not None and home_role.rank >= Role.editor.rank


def _context(
    session,
    item: EvidenceItem,
    case: Case,
    viewer: Viewer,
    cursor: str | None,
    preview=None,
    text_from: int = 1,
    q: str | None = None,
) -> dict:
    trail, next_cursor = audit_query.page(
        session, case, audit_query.parse_filter(evidence_id=item.id, order="desc"), limit=CUSTODY_ROWS, cursor=cursor
    )
    clock = EventClock(case.timezone, hourly=False)
    events = [
        (event, clock.describe(event.occurred_at, event.occurred_until, event.precision)[2])
        for event in timeline_events.citing(session, case, item.id, limit=CITING_EVENTS)
    ]
    edits = can_edit(session, item, viewer)
    return {
        "item": item,
        "case": case,
        "exhibit": evidence_service.exhibit_in_case(session, case, item),
        "can_edit": edits,
        "redactable": redaction_service.redactable(item),
        "text": text_section.build(session, item, viewer.user, first=text_from, can_edit=edits, q=q),
        "preview": preview,
        "custody": [(row, custody_report.action_label(row.action, row.details or {})) for row in trail],
        "custody_next": next_cursor,
        "events": events,
        "facts": facts_form.fields_for(EvidenceKind(item.kind), item.facts or {}),
        "fact_labels": facts_form.LABELS,
        "kinds": KINDS,
        "designations": DESIGNATIONS,
    }


def show(
    request,
    session,
    item,
    case,
    viewer,
    *,
    status=200,
    errors=None,
    values=None,
    cursor=None,
    preview=None,
    text_from=1,
    q=None,
) -> Response:
    """The evidence page; with `errors` (by section) and the `values` typed, after a form was refused; `q`, a
    search whose words the Text section marks."""
    context = _context(session, item, case, viewer, cursor, preview, text_from, q)
    return page(
        request, "web/evidence.html", viewer, status=status, errors=errors or {}, values=values or {}, **context
    )


@router.get("/evidence/{evidence_id}")
def evidence_page(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    store: BlobStoreDep,
    evidence_id: str,
    case_id: CaseQuery = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    text_from: Annotated[str | None, Query(max_length=20)] = None,
    q: SearchWords = None,
) -> Response:
    item, case, _ = viewed(session, evidence_id, viewer, case_id)
    first = text_section.first_page(text_from)
    preview = preview_service.describe(session, store, item, actor=viewer.user)  # recorded as an access
    return show(request, session, item, case, viewer, cursor=cursor, preview=preview, text_from=first, q=q)


@router.get("/evidence/{evidence_id}/pages/{page}.png")
def page_png(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    store: BlobStoreDep,
    evidence_id: str,
    page: int,
    width: Annotated[int, Query(ge=1, le=10_000)] = 320,
) -> Response:
    """A page of a PDF original as the preview shows it (the API's page image, for the signed-in browser)."""
    item, _, _ = viewed(session, evidence_id, viewer, None)
    width = preview_service.allowed_width(width)
    return page_image(request, item.sha256, page, width, lambda: preview_service.thumbnail(store, item, page, width))


@router.get("/evidence/{evidence_id}/original")
def original(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    store: BlobStoreDep,
    evidence_id: str,
    inline: bool = False,
) -> Response:
    """The original bytes: a download, or (`inline`, raster images only) the picture the page shows."""
    item, _, _ = viewed(session, evidence_id, viewer, None)
    shown = inline and item.media_type in preview_service.BROWSER_IMAGES  # nothing in them runs
    action = "evidence.view" if shown else "evidence.download"
    evidence_service.record_access(session, action, item, viewer.user, {"via": "web", "inline": shown})
    disposition = "inline" if shown else content_disposition(download_name(item.original_filename, item.sha256))
    return evidence_original(session, store, request, viewer.user, item, disposition=disposition)


@router.post("/evidence/{evidence_id}/details")
async def save_details(
    request: Request, session: SessionDep, viewer: ViewerDep, evidence_id: str, case_id: CaseQuery = None
) -> Response:
    item, case, _ = viewed(session, evidence_id, viewer, case_id, Role.editor)
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in DETAIL_FIELDS}
    data: dict[str, object] = {name: value or None for name, value in values.items() if name not in ("kind", "title")}
    data |= {"kind": values["kind"] or item.kind, "title": values["title"] or None}
    data["tags"] = [tag.strip() for tag in values["tags"].split(",") if tag.strip()]
    try:
        update = EvidenceUpdate.model_validate(data)
        evidence_service.update_metadata(session, item, update, actor=viewer.user)
    except ValidationError as exc:
        return show(request, session, item, case, viewer, status=422, errors=field_errors(exc), values=values)
    except UnprocessableEntity as exc:
        return show(request, session, item, case, viewer, status=422, errors={"form": str(exc.message)}, values=values)
    return RedirectResponse(f"/evidence/{item.id}?case={case.id}#details", status_code=303)


@router.post("/evidence/{evidence_id}/facts")
async def save_facts(
    request: Request, session: SessionDep, viewer: ViewerDep, evidence_id: str, case_id: CaseQuery = None
) -> Response:
    item, case, _ = viewed(session, evidence_id, viewer, case_id, Role.editor)
    form = await request.form()
    facts = facts_form.read(EvidenceKind(item.kind), form)
    try:
        evidence_service.update_metadata(session, item, EvidenceUpdate(facts=facts), actor=viewer.user)
    except UnprocessableEntity as exc:
        shown = {f"fact_{k}": str(v) for k, v in form.items()}
        return show(request, session, item, case, viewer, status=422, errors={"facts": str(exc.message)}, values=shown)
    return RedirectResponse(f"/evidence/{item.id}?case={case.id}#facts", status_code=303)


@router.get("/evidence/{evidence_id}/custody.pdf")
def custody_pdf(
    session: SessionDep, viewer: ViewerDep, store: BlobStoreDep, evidence_id: str, case_id: CaseQuery = None
) -> Response:
    """The chain-of-custody PDF, made and recorded exactly as the API's."""
    item, case, _ = viewed(session, evidence_id, viewer, case_id)
    pdf, name = custody_pdf_service.issue(session, store, item, viewer.user, case.id)
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": content_disposition(name)})
