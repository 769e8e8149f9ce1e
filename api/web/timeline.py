"""The Timeline tab: the case's events month by month (a chart) and as a list, filtered and paged as the API's
GET /cases/{id}/timeline reads them, with the forms to add, edit, import and export them (timeline_edit,
timeline_files)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from api import dates
from api.deps import SessionDep
from api.errors import NotFound
from api.services.timeline import citations
from api.services.timeline import events as timeline_events
from api.services.timeline import query as query_service
from api.web.case_page import case_context
from api.web.render import is_htmx, page
from api.web.session import CasePage, CaseViewerPage, PageRoute
from api.web.timeline_view import DISPUTED, EVENTS_PER_PAGE, KINDS, Filters, chart, read_filter
from models.inputs import CURSOR_CHARS
from models.timeline import Precision

router = APIRouter(route_class=PageRoute, include_in_schema=False)

TEMPLATE = "web/case_timeline.html"
CITABLE = 1000  # exhibits a form offers to cite, in exhibit order
# The parts of the tab htmx asks for by their element's id, and the template block each is.
PARTS = {"timeline-results": "results", "timeline-chart": "chart", "timeline-list": "list"}


def tab_context(session: Session, access: CasePage, *, forms: bool = False) -> dict:
    """What the tab's templates need besides their parts: the case around them, the words for kinds and, for an
    editor's forms, the exhibits an event may cite."""
    cite = citations.citable(session, access.case, limit=CITABLE) if forms and access.can_edit else []
    context = {**case_context(access), "tab": "timeline", "event_kinds": KINDS, "disputed_choices": DISPUTED}
    return context | {"citable": cite, "citable_more": len(cite) >= CITABLE}


@router.get("/cases/{case_id}/timeline")
def timeline_tab(
    request: Request,
    session: SessionDep,
    access: CaseViewerPage,
    filters: Annotated[Filters, Depends(Filters.from_query)],
    cursor: Annotated[str | None, Query(max_length=CURSOR_CHARS)] = None,
) -> Response:
    part = PARTS.get(request.headers.get("hx-target", "")) if is_htmx(request) else None
    return render_tab(request, session, access, filters, cursor, part=part)


@router.get("/cases/{case_id}/timeline/events/{event_id}")
def event_link(session: SessionDep, access: CaseViewerPage, event_id: str) -> Response:
    """Where an event is seen (a search hit links here): the tab showing the events of its date, scrolled to its row.
    A day, month or year event is shown among its own day, month or year; a timed one among its day's."""
    try:
        wanted = uuid.UUID(event_id)
    except ValueError:
        raise NotFound("event not found in this case") from None
    event = timeline_events.get_event(session, access.case, wanted)
    start, until = dates.stored_as_utc(event.occurred_at), dates.stored_as_utc(event.occurred_until)
    if event.precision in dates.COARSE:
        when = dates.written_form(start, until, event.precision, access.case.timezone)
    else:
        when = dates.written_form(start, start, Precision.day, access.case.timezone)
    query = Filters(start=when, to=when).query()
    return RedirectResponse(f"/cases/{access.case.id}/timeline?{query}#event-{event.id}", status_code=303)


def render_tab(
    request: Request,
    session: Session,
    access: CasePage,
    filters: Filters,
    cursor: str | None = None,
    *,
    part: str | None = None,
    status: int = 200,
    add: dict | None = None,
) -> Response:
    """The tab (or one of its PARTS): the page of events the filters select, after `cursor`, and the chart."""
    f, errors = read_filter(access.case, filters)
    items: list[dict] = []
    next_cursor = None
    if f is not None and part != "chart":
        items, next_cursor, _ = query_service.page(
            session, access.case, f, limit=EVENTS_PER_PAGE, cursor=cursor, bundle_id=None
        )
    drawn = chart(session, access.case, f, filters) if part != "list" else None
    context: dict[str, Any] = {"filters": filters, "filter_errors": errors, "items": items, "next_cursor": next_cursor}
    context |= {"paged": cursor is not None, "chart": drawn}
    if part is not None:
        return page(request, TEMPLATE, access.viewer, block=part, **tab_context(session, access), **context)
    context["add"] = add or {"values": {"kind": "other"}, "errors": {}}
    context["add_open"] = add is not None or not (items or filters.active or cursor)
    return page(request, TEMPLATE, access.viewer, status=status, **tab_context(session, access, forms=True), **context)
