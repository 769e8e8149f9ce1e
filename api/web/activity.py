"""The Activity tab: the case's audit trail, newest first, filtered by action, person and dates, in pages.

It reads the trail through the same query service as GET /api/v1/cases/{id}/audit, and like it is for the case's
owners; other members see the tab explain that. Details are summarised as the chain-of-custody report does.
"""

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import SessionDep
from api.errors import UnprocessableEntity
from api.services import audit_query
from api.services import cases as case_service
from api.services.custody.report import summarise
from api.web.activity_words import action_words, filter_choices
from api.web.case_page import case_context
from api.web.render import is_htmx, page, sentence
from api.web.session import CaseViewerPage, PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)

EVENTS_PER_PAGE = 50


def _end_after(day: str) -> str | None:
    """The filter's "to" day is inclusive; the service's end is exclusive: the next day's start. A value that is
    not a date goes to the service as it is, for the service to name the problem."""
    if not day:
        return None
    try:
        return (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    except ValueError:
        return day


@router.get("/cases/{case_id}/activity")
def activity_tab(
    request: Request,
    session: SessionDep,
    access: CaseViewerPage,
    action: Annotated[str, Query(max_length=60)] = "",
    person: Annotated[str, Query(max_length=320)] = "",
    start: Annotated[str, Query(alias="from", max_length=40)] = "",
    end: Annotated[str, Query(alias="to", max_length=40)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    filters = {"action": action.strip(), "person": person.strip(), "from": start.strip(), "to": end.strip()}
    context = case_context(access) | {
        "tab": "activity",
        "filters": filters,
        "choices": filter_choices(),
        "owners_only": False,
        "problem": None,
        "rows": [],
        "people": [],
    }
    block = "results" if is_htmx(request) and request.headers.get("hx-target") == "activity-results" else None
    if not access.is_owner:  # the API's rule for the trail: owners only
        context["owners_only"] = True
        return page(request, "web/case_activity.html", access.viewer, status=403, **context)
    members = case_service.list_members(session, access.case)
    context["people"] = [user.email for _, user in members]
    try:
        wanted = audit_query.parse_filter(
            actor=[filters["person"]] if filters["person"] else None,
            action=[filters["action"]] if filters["action"] else None,
            start=filters["from"] or None,
            end=_end_after(filters["to"]),
            order="desc",
        )
    except UnprocessableEntity as exc:
        context["problem"] = sentence(str(exc.message))
        return page(request, "web/case_activity.html", access.viewer, status=422, block=block, **context)
    events, next_cursor = audit_query.page(session, access.case, wanted, limit=EVENTS_PER_PAGE, cursor=cursor)
    context["rows"] = [
        {"event": e, "words": action_words(e.action, e.details), "summary": summarise(e.action, e.details or {})}
        for e in events
    ]
    return page(
        request,
        "web/case_activity.html",
        access.viewer,
        block=block,
        subjects=audit_query.subjects(session, events),
        names={user.email: user.full_name for _, user in members if user.full_name},
        next_cursor=next_cursor,
        paged=cursor is not None,
        filtered=any(filters.values()),
        **context,
    )
