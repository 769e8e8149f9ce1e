"""The bundle builder: title, legend, Bates numbers, the volume size cap and the exhibits, posted to the same
service as POST /api/v1/cases/{id}/bundles.

A case may hold 10,000 exhibits, and a form of 10,000 rows is slow to send, to draw and to use. So the builder
bundles every exhibit in case order unless the person chooses otherwise, and the chooser lists the exhibits a
page at a time ("Show more"): only those listed and ticked go in, in the order the chooser shows.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import SessionDep
from api.errors import UnprocessableEntity
from api.services import bundles as bundle_service
from api.services import exhibits as exhibit_service
from api.web.bundle_form import BuilderForm
from api.web.bundle_words import LEGENDS, VOLUME_PRESETS, WITHHELD
from api.web.case_page import case_context
from api.web.render import page, sentence
from api.web.session import CaseEditorPage, CasePage, PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ROWS_PER_PAGE = 100
LOOKUP_CHUNK = 500  # ids per query when a posted-back form lists its rows again


def _listed(session, access: CasePage, rows: list[uuid.UUID]) -> list[dict]:
    """The exhibits of these rows, in the rows' order; one no longer in the case drops out."""
    found: dict = {}
    for at in range(0, len(rows), LOOKUP_CHUNK):
        chunk = rows[at : at + LOOKUP_CHUNK]
        items, _ = exhibit_service.list_exhibits(session, access.case, limit=len(chunk), cursor=None, ids=chunk)
        found |= {item["id"]: item for item in items}
    return [found[row] for row in rows if row in found]


def _builder(
    request: Request,
    session,
    access: CasePage,
    form: BuilderForm,
    items: list[dict],
    *,
    errors: dict | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    return page(
        request,
        "web/bundle_new.html",
        access.viewer,
        status=status,
        **case_context(access),
        tab="bundles",
        form=form,
        items=items,
        total=exhibit_service.count(session, access.case),
        errors=errors or {},
        problem=problem,
        presets=VOLUME_PRESETS,
        legends=LEGENDS,
        withheld=WITHHELD,
    )


@router.get("/cases/{case_id}/bundles/new")
def builder(request: Request, session: SessionDep, access: CaseEditorPage) -> Response:
    form = BuilderForm.blank(bundle_service.default_prefix(access.case))
    items, form.cursor = exhibit_service.list_exhibits(session, access.case, limit=ROWS_PER_PAGE, cursor=None)
    form.rows = [item["id"] for item in items]
    form.included = set(form.rows)
    return _builder(request, session, access, form, items)


@router.get("/cases/{case_id}/bundles/new/rows")
def more_rows(
    request: Request,
    session: SessionDep,
    access: CaseEditorPage,
    cursor: Annotated[str, Query(max_length=500)],
    start: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    """The chooser's next rows, for htmx to put in place of its "Show more" row."""
    items, next_cursor = exhibit_service.list_exhibits(session, access.case, limit=ROWS_PER_PAGE, cursor=cursor)
    return page(
        request,
        "web/bundle_rows.html",
        access.viewer,
        case=access.case,
        items=items,
        start=start,
        included={item["id"] for item in items},
        cursor=next_cursor,
    )


@router.post("/cases/{case_id}/bundles")
async def create(request: Request, session: SessionDep, access: CaseEditorPage) -> Response:
    """Build, or (without JavaScript) apply a step of the chooser and show the form again as it was sent."""
    posted = await request.form()
    form = BuilderForm.read(posted)
    action, move = posted.get("action"), posted.get("move")
    if move or action in ("more", "order"):
        form.values["selection"] = "chosen"
        if isinstance(move, str):
            form.move(move)
        if action == "more" and form.cursor:
            more, form.cursor = exhibit_service.list_exhibits(
                session, access.case, limit=ROWS_PER_PAGE, cursor=form.cursor
            )
            fresh = [item["id"] for item in more if item["id"] not in set(form.rows)]
            form.rows += fresh
            form.included |= set(fresh)
        return _builder(request, session, access, form, _listed(session, access, form.rows))
    data, errors = form.request()
    if data is None:
        items = _listed(session, access, form.rows)
        return _builder(request, session, access, form, items, errors=errors, status=422)
    try:
        bundle = bundle_service.create_bundle(session, case=access.case, actor=access.viewer.user, data=data)
    except UnprocessableEntity as exc:
        problem = sentence(exc.message if isinstance(exc.message, str) else "some details need correcting")
        items = _listed(session, access, form.rows)
        return _builder(request, session, access, form, items, problem=problem, status=422)
    return RedirectResponse(f"/cases/{access.case.id}/bundles/{bundle.id}", status_code=303)
