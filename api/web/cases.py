"""My cases, and creating a case."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import SessionDep
from api.services import cases as case_service
from api.web.forms import parse
from api.web.render import page
from api.web.session import PageRoute, ViewerDep
from models.case import CaseCreate, CaseType

router = APIRouter(route_class=PageRoute, include_in_schema=False)

CASES_PER_PAGE = 50
CASE_TYPES = {
    CaseType.lanham_act: "Lanham Act (false advertising)",
    CaseType.ftc_act: "FTC Act",
    CaseType.ftc_consumer_reviews_rule: "FTC Consumer Reviews rule (16 CFR Part 465)",
    CaseType.state_udap: "State UDAP",
    CaseType.platform_enforcement: "Platform enforcement",
    CaseType.other: "Other",
}
CASE_FIELDS = ("title", "case_type", "court", "docket_number", "bates_prefix", "timezone")


@router.get("/")
def my_cases(request: Request, session: SessionDep, viewer: ViewerDep, cursor: str | None = None) -> Response:
    rows, next_cursor = case_service.list_overview(session, user=viewer.user, limit=CASES_PER_PAGE, cursor=cursor)
    return page(request, "web/cases.html", viewer, rows=rows, next_cursor=next_cursor, case_types=CASE_TYPES)


@router.get("/cases/new")
def new_case_page(request: Request, viewer: ViewerDep) -> Response:
    return page(request, "web/case_new.html", viewer, values={}, errors={}, case_types=CASE_TYPES)


@router.post("/cases/new")
async def create_case(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    form = await request.form()
    values = {name: form.get(name, "") for name in CASE_FIELDS}
    data, errors = parse(CaseCreate, values)
    if data is None:
        return page(
            request, "web/case_new.html", viewer, status=422, values=values, errors=errors, case_types=CASE_TYPES
        )
    case = case_service.create_case(session, actor=viewer.user, data=data)
    return RedirectResponse(f"/cases/{case.id}", status_code=303)
