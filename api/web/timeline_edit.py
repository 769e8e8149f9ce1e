"""Adding, editing and deleting timeline events from the Timeline tab, through the API's event services and its
input models. A plain form posts and is sent back to the tab (303); with htmx, the add panel or the event's row
is swapped and the chart and the list are told to refresh themselves (HX-Trigger)."""

import json
import uuid
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import escape
from pydantic import BaseModel, ValidationError

from api import dates
from api.deps import SessionDep
from api.errors import UnprocessableEntity
from api.services.timeline import events as timeline_service
from api.services.timeline import query as query_service
from api.web.forms import field_errors
from api.web.render import is_htmx, page, sentence
from api.web.session import CaseEditorPage, CasePage, CaseViewerPage, PageRoute
from api.web.timeline import TEMPLATE, render_tab, tab_context
from api.web.timeline_view import Filters
from models.timeline import EventCreate, EventSource, EventUpdate, TimelineEvent

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ROWS = "web/timeline_rows.html"  # an event's row, its form as a row, and the page that edits it without htmx
FIELDS = ("occurred_at", "title", "description", "kind", "tags", "evidence_id", "page")
# A service's refusal names its field first ("tags: at most 100 tags...", "title is required").
NAMED = ("title", "description", "tags", "evidence_id", "page")
REQUIRED = ("occurred_at", "title")  # a blank one is refused, when adding or editing alike
UNSET = object()
M = TypeVar("M", bound=BaseModel)


def _values(form) -> dict[str, str]:
    values = {name: str(form.get(name) or "").strip() for name in FIELDS}
    return values | {"disputed": "on" if form.get("disputed") else ""}


def _data(values: dict[str, str], *, editing: bool) -> dict:
    """The form's values as the API's JSON body carries them; editing, a blank field clears what it held."""
    blank = None if editing else UNSET
    page_number = values["page"]
    data = {
        "occurred_at": values["occurred_at"],
        "title": values["title"],
        "description": values["description"] or blank,
        "kind": values["kind"] or "other",
        "tags": [tag.strip() for tag in values["tags"].split(",") if tag.strip()],
        "evidence_id": values["evidence_id"] or blank,
        "page": int(page_number) if page_number.isdecimal() and page_number.isascii() else page_number or blank,
        "disputed": bool(values["disputed"]),
    }
    return {name: value for name, value in data.items() if value is not UNSET}


def _checked(model: type[M], data: dict, tz: str, errors: dict[str, str]) -> M | None:
    """The input model, or None with the problems in `errors`: the date in the words of the API's date parser,
    the rest in the model's own."""
    for name in REQUIRED:
        if name in data and not data[name]:
            errors[name] = "This field is required"
            del data[name]
    if data.get("occurred_at"):
        try:
            dates.parse_when(data["occurred_at"], tz)
        except ValueError as exc:
            errors["occurred_at"] = sentence(str(exc))
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        for name, message in field_errors(exc).items():
            errors.setdefault(name, message)
        return None
    return None if errors else parsed


def _refused(exc: UnprocessableEntity, errors: dict[str, str]) -> None:
    message = str(exc.message)
    name = next((n for n in NAMED if message.startswith(n)), "form")
    errors[name] = sentence(message.removeprefix(f"{name}: "))


def _said(html: str, message: str, *events: str) -> HTMLResponse:
    """A fragment for htmx, with `message` for the page's polite live region and `events` for HX-Trigger."""
    status = f'<div hx-swap-oob="innerHTML:#status">{escape(message)}</div>'
    headers = {"HX-Trigger": json.dumps(dict.fromkeys(events, True))} if events else None
    return HTMLResponse(html + status, headers=headers)


def _fragment(request: Request, access: CasePage, name: str, block: str, context: dict) -> str:
    return bytes(page(request, name, access.viewer, block=block, **context).body).decode()


def _when(event: TimelineEvent, tz: str) -> str:
    return dates.display(event.occurred_at, event.occurred_until, event.precision, tz)


@router.post("/cases/{case_id}/timeline/events")
async def add_event(request: Request, session: SessionDep, access: CaseEditorPage) -> Response:
    values = _values(await request.form())
    errors: dict[str, str] = {}
    data = _checked(EventCreate, _data(values, editing=False), access.case.timezone, errors)
    event = None
    if data is not None:
        try:
            event = timeline_service.create_event(session, case=access.case, actor=access.viewer.user, data=data)
        except UnprocessableEntity as exc:
            _refused(exc, errors)
    if event is None:
        refused = {"values": values, "errors": errors}
        if not is_htmx(request):
            return render_tab(request, session, access, Filters(), status=422, add=refused)
        context = tab_context(session, access, forms=True) | {"add": refused, "add_open": True}
        return page(request, TEMPLATE, access.viewer, status=422, block="add_panel", **context)
    if not is_htmx(request):
        return RedirectResponse(f"/cases/{access.case.id}/timeline#event-{event.id}", status_code=303)
    add: dict[str, Any] = {"values": {"kind": values["kind"]}, "errors": {}, "added": event.title}
    context = tab_context(session, access, forms=True) | {"add": add, "add_open": True}
    html = _fragment(request, access, TEMPLATE, "add_panel", context)
    said = f"Added “{event.title[:200]}”, {_when(event, access.case.timezone)}."
    return _said(html, said, "timeline-added")


def _row_context(session, access: CasePage, event: TimelineEvent) -> dict:
    e = query_service.one(session, access.case, event.id)
    return tab_context(session, access) | {"e": e, "event": event, "focus": False, "confirm": False}


def _form_values(event: TimelineEvent, tz: str) -> dict[str, str]:
    """An event as its edit form shows it: the date as a person would type it back."""
    return {
        "occurred_at": dates.editable_form(event.occurred_at, event.occurred_until, event.precision, tz),
        "title": event.title,
        "description": event.description or "",
        "kind": event.kind,
        "tags": ", ".join(event.tags),
        "evidence_id": str(event.evidence_id) if event.evidence_id else "",
        "page": str(event.page) if event.page else "",
        "disputed": "on" if event.disputed else "",
    }


def _edit(request: Request, session, access: CasePage, event: TimelineEvent, values, errors, status=200) -> Response:
    context = _row_context(session, access, event) | tab_context(session, access, forms=True)
    context |= {"values": values, "errors": errors, "derived": event.source == EventSource.derived}
    cited = context["e"]["citation"]
    if cited and all(evidence_id != cited["evidence_id"] for _, evidence_id in context["citable"]):
        # Evidence past the first exhibits listed, or in the case without an exhibit: offered all the same, so a
        # save does not drop the citation the event has.
        label = cited["exhibit_label"] or "The evidence cited now (no exhibit label)"
        context["citable"] = [(label, cited["evidence_id"]), *context["citable"]]
    block = "edit_row" if is_htmx(request) else None
    return page(request, ROWS, access.viewer, status=status, block=block, **context)


@router.get("/cases/{case_id}/timeline/events/{event_id}/edit")
def edit_event_page(request: Request, session: SessionDep, access: CaseEditorPage, event_id: uuid.UUID) -> Response:
    event = timeline_service.get_event(session, access.case, event_id)
    return _edit(request, session, access, event, _form_values(event, access.case.timezone), {})


@router.get("/cases/{case_id}/timeline/events/{event_id}/row")
def event_row(request: Request, session: SessionDep, access: CaseViewerPage, event_id: uuid.UUID) -> Response:
    """The event's row as the list shows it (what Cancel puts back in place of its form)."""
    event = timeline_service.get_event(session, access.case, event_id)
    return page(request, ROWS, access.viewer, block="row", **_row_context(session, access, event))


@router.post("/cases/{case_id}/timeline/events/{event_id}")
async def save_event(request: Request, session: SessionDep, access: CaseEditorPage, event_id: uuid.UUID) -> Response:
    event = timeline_service.get_event(session, access.case, event_id)
    tz = access.case.timezone
    values = _values(await request.form())
    errors: dict[str, str] = {}
    if event.source == EventSource.derived:  # only `disputed` is the team's to set on it
        data: EventUpdate | None = EventUpdate(disputed=bool(values["disputed"]))
        values = _form_values(event, tz) | {"disputed": values["disputed"]}
    else:
        fields = _data(values, editing=True)
        if fields["occurred_at"] == _form_values(event, tz)["occurred_at"]:
            del fields["occurred_at"]  # unchanged: the date keeps its precision exactly as it was
        data = _checked(EventUpdate, fields, tz, errors)
    if data is not None:
        try:
            event = timeline_service.update_event(session, access.case, event, data, actor=access.viewer.user)
        except UnprocessableEntity as exc:
            _refused(exc, errors)
    if errors:
        session.rollback()  # nothing half-changed stays on the event the form is shown again for
        event = timeline_service.get_event(session, access.case, event_id)
        return _edit(request, session, access, event, values, errors, status=422)
    if not is_htmx(request):
        return RedirectResponse(f"/cases/{access.case.id}/timeline#event-{event.id}", status_code=303)
    context = _row_context(session, access, event) | {"focus": True}
    html = _fragment(request, access, ROWS, "row", context)
    return _said(html, f"Saved “{event.title[:200]}”.", "timeline-changed")


@router.get("/cases/{case_id}/timeline/events/{event_id}/delete")
def confirm_delete(request: Request, session: SessionDep, access: CaseEditorPage, event_id: uuid.UUID) -> Response:
    """Without htmx, Delete asks here first; with it, the browser's confirm does."""
    event = timeline_service.get_event(session, access.case, event_id)
    return page(request, ROWS, access.viewer, **_row_context(session, access, event) | {"confirm": True})


@router.post("/cases/{case_id}/timeline/events/{event_id}/delete")
def delete_event(request: Request, session: SessionDep, access: CaseEditorPage, event_id: uuid.UUID) -> Response:
    event = timeline_service.get_event(session, access.case, event_id)
    title = event.title
    timeline_service.delete_event(session, event, actor=access.viewer.user)
    if not is_htmx(request):
        return RedirectResponse(f"/cases/{access.case.id}/timeline", status_code=303)
    return _said("", f"Deleted “{title[:200]}”.", "timeline-changed")
