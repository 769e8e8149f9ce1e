"""Acting on exhibits from the Exhibits tab, for the case's editors and owners: moving one in the exhibit order,
designating it, removing it from the case with a reason.

Each goes through the service the API's PATCH and DELETE of an exhibit use, so the same rules hold (a legal hold
or a timeline citation refuses a removal, in the service's words). A plain form answers with a redirect back to
the tab; htmx gets the table's fragment (or, for a designation, nothing to swap) and a sentence for #status.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData

from api.deps import SessionDep
from api.errors import UnprocessableEntity
from api.services import evidence as evidence_service
from api.services import exhibit_order
from api.services import exhibits as exhibit_service
from api.web.case_page import DESIGNATIONS, ExhibitView, ExhibitViewDep, case_context, exhibits_context
from api.web.forms import parse
from api.web.render import is_htmx, page
from api.web.session import CaseEditorPage, CasePage, PageRoute
from models.exhibit import Exhibit, ExhibitRemoval, ExhibitUpdate

router = APIRouter(route_class=PageRoute, include_in_schema=False)

EXHIBIT = "/cases/{case_id}/exhibits/{exhibit_id}"
STEPS = {"up": -1, "down": 1}


async def form_values(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(form_values)]


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _results(
    request: Request, access: CasePage, view: ExhibitView, context: dict, *, announce: str, focus: str
) -> Response:
    """The table's fragment for `view`, saying what happened (in #status) and where the keyboard goes next (the id
    of a control); the address bar follows to the page shown."""
    headers = {"HX-Replace-Url": view.url(access.case.id)}
    shown = context | {"announce": announce, "focus": focus}
    return page(request, "web/case_exhibits.html", access.viewer, block="results", headers=headers, **shown)


def _back(access: CasePage, view: ExhibitView, exhibit: Exhibit | None = None) -> Response:
    """After a plain form: the tab as it was, scrolled to the exhibit acted on."""
    anchor = f"#exhibit-{exhibit.id}" if exhibit is not None else "#exhibit-results"
    return RedirectResponse(view.url(access.case.id) + anchor, status_code=303)


def _position(form: FormData) -> int:
    typed = _text(form, "position").strip()
    if not typed.isdigit():
        raise UnprocessableEntity("type the new position as a whole number: 1 is the first exhibit")
    return int(typed)


def _moved(exhibit: Exhibit, before: int, step: str | None) -> str:
    if exhibit.position != before:
        return f"{exhibit.label} moved to position {exhibit.position}"
    if step == "up":
        return f"{exhibit.label} is already first"
    if step == "down":
        return f"{exhibit.label} is already last"
    return f"{exhibit.label} stays at position {exhibit.position}"


@router.post(EXHIBIT + "/move")
def move_exhibit(
    request: Request, session: SessionDep, access: CaseEditorPage, exhibit_id: uuid.UUID, form: FormDep
) -> Response:
    """Move up or down one place (the `step` button pressed), or to the `position` typed or dropped on."""
    exhibit = exhibit_service.get(session, access.case, exhibit_id)
    before, step = exhibit.position, _text(form, "step")
    actor = access.viewer.user
    if step in STEPS:
        exhibit_service.move_by(session, access.case, exhibit, STEPS[step], actor=actor)
        focus = f"{step}-{exhibit.id}"
    else:
        data, _ = parse(ExhibitUpdate, {"position": _position(form)})
        if data is None:
            raise UnprocessableEntity("the new position must be a whole number from 1 to the number of exhibits")
        exhibit_service.update_exhibit(session, access.case, exhibit, data, actor=actor)
        focus = f"moveto-{exhibit.id}"
    view = ExhibitView.around(exhibit.position)
    if not is_htmx(request):
        return _back(access, view, exhibit)
    context = exhibits_context(session, access, view)
    return _results(request, access, view, context, announce=_moved(exhibit, before, step), focus=focus)


@router.post(EXHIBIT + "/designation")
def designate_exhibit(
    request: Request,
    session: SessionDep,
    access: CaseEditorPage,
    exhibit_id: uuid.UUID,
    form: FormDep,
    view: ExhibitViewDep,
) -> Response:
    exhibit = exhibit_service.get(session, access.case, exhibit_id)
    data, _ = parse(ExhibitUpdate, {"designation": _text(form, "designation")})
    if data is None or data.designation is None:
        raise UnprocessableEntity(f"choose one of the designations: {', '.join(DESIGNATIONS.values())}")
    exhibit_service.update_exhibit(session, access.case, exhibit, data, actor=access.viewer.user)
    if not is_htmx(request):
        return _back(access, view, exhibit)
    said = f"{exhibit.label} is now {DESIGNATIONS[exhibit.designation].lower()}"
    return page(request, "web/exhibit_fragments.html", access.viewer, block="designated", item=exhibit, announce=said)


def _remove_page(
    request: Request, session: Session, access: CasePage, exhibit: Exhibit, view: ExhibitView, **form
) -> Response:
    """The confirmation on a page of its own: for a browser without scripts, and where a refused form comes back."""
    status = 422 if form.get("errors") else 200
    if is_htmx(request):
        headers = {"HX-Retarget": f"#remove-{exhibit.id}", "HX-Reswap": "outerHTML"}
        return page(
            request,
            "web/exhibit_fragments.html",
            access.viewer,
            status=status,
            block="remove_form",
            headers=headers,
            item=exhibit,
            filters=view,
            case=access.case,
            **form,
        )
    evidence = evidence_service.get_item(session, exhibit.evidence_id)
    context = case_context(access) | {"tab": "exhibits", "item": exhibit, "evidence": evidence, "filters": view}
    return page(request, "web/case_exhibit_remove.html", access.viewer, status=status, **context, **form)


@router.get(EXHIBIT + "/remove")
def remove_exhibit_page(
    request: Request, session: SessionDep, access: CaseEditorPage, exhibit_id: uuid.UUID, view: ExhibitViewDep
) -> Response:
    exhibit = exhibit_service.get(session, access.case, exhibit_id)
    return _remove_page(request, session, access, exhibit, view, reason="", errors={})


@router.post(EXHIBIT + "/remove")
def remove_exhibit(
    request: Request,
    session: SessionDep,
    access: CaseEditorPage,
    exhibit_id: uuid.UUID,
    form: FormDep,
    view: ExhibitViewDep,
) -> Response:
    """Unlink the exhibit, with the reason given kept in the unlink's audit event. The evidence stays."""
    exhibit = exhibit_service.get(session, access.case, exhibit_id)
    reason = _text(form, "reason")
    data, errors = parse(ExhibitRemoval, {"reason": reason})
    if data is None:
        return _remove_page(request, session, access, exhibit, view, reason=reason, errors=errors)
    label, position = exhibit.label, exhibit.position
    exhibit_service.unlink(session, access.case, exhibit, actor=access.viewer.user, details={"reason": data.reason})
    if view.reorderable:  # the page that held it, which its neighbour now holds
        view = ExhibitView.around(max(1, min(position, exhibit_order.last_position(session, access.case.id))))
    if not is_htmx(request):
        return _back(access, view)
    context = exhibits_context(session, access, view)
    # The keyboard goes to the exhibit that took its place, or else to the table.
    landed = next((item for item in context["items"] if item["position"] == position), None)
    focus = f"label-{landed['id']}" if landed and view.reorderable else "exhibit-table"
    return _results(request, access, view, context, announce=f"{label} removed from the case", focus=focus)
