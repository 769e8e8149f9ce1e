"""The search page: the words of every case the viewer is a member of (or of one), through the same search service
as GET /api/v1/search, so the same rules hold: a case not theirs is the 404 page, and nothing is counted.

Results are listed best first, as the service ranks them, a page at a time ("More results" follows the service's
cursor; htmx adds the next page below the last). They are not grouped by item: the service pages by rank, so a
group would break across pages, and an item's best page belongs where its rank puts it."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.deps import SessionDep
from api.errors import BadRequest, UnprocessableEntity
from api.services.search import find
from api.web import search_view
from api.web.render import error_page, is_htmx, page
from api.web.search_view import SearchForm
from api.web.session import PageRoute, ViewerDep

router = APIRouter(route_class=PageRoute, include_in_schema=False)

TEMPLATE = "web/search.html"
STALE_CURSOR = "That page of results belongs to another search, or is out of date: search again."


@router.get("/search")
def search_page(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    form: Annotated[SearchForm, Depends(SearchForm.from_query)],
    cursor: str | None = None,
) -> Response:
    context: dict = {"form": form, "search_q": form.q, "paged": bool(cursor), "results": [], "next_cursor": None}
    context |= {"cases": search_view.case_choices(session, viewer.user, form.case_id), **search_view.FILTER_CHOICES}
    if not form.q:
        return page(request, TEMPLATE, viewer, **context)
    try:
        f = search_view.read(form, cursor)
        hits, next_cursor = find.search(session, viewer.user, f, limit=search_view.PER_PAGE, cursor=cursor)
    except (UnprocessableEntity, BadRequest) as exc:
        field, message = search_view.problem(str(exc.message))
        if isinstance(exc, BadRequest):
            field, message = "", STALE_CURSOR
        if is_htmx(request):  # "More results" refused: said in the page's alert area, the results left as they are
            return error_page(request, exc.status_code, message)
        context |= {"problem": message, "problem_field": field}
        return page(request, TEMPLATE, viewer, status=exc.status_code, **context)
    context |= {"results": search_view.results(session, hits, form.q), "next_cursor": next_cursor}
    if cursor and is_htmx(request):
        return page(request, TEMPLATE, viewer, block="results", more=True, **context)
    return page(request, TEMPLATE, viewer, **context)
