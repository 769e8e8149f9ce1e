"""The case page: its header and tabs, and the Exhibits tab (the case's exhibits, sorted, filtered and paged)."""

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.config import get_settings
from api.deps import SessionDep
from api.services import exhibit_order
from api.services import exhibits as exhibit_service
from api.web import upload
from api.web.cases import CASE_TYPES
from api.web.render import is_htmx, page
from api.web.session import CasePage, CaseViewerPage, PageRoute
from models.evidence import EvidenceKind
from models.exhibit import Designation

router = APIRouter(route_class=PageRoute, include_in_schema=False)

EXHIBITS_PER_PAGE = 50
SORTS = {"position": "Exhibit order", "label": "Label", "title": "Title", "date": "Date"}
KINDS = {kind.value: kind.value.replace("_", " ").capitalize() for kind in EvidenceKind}
DESIGNATIONS = {
    Designation.none: "Not designated",
    Designation.confidential: "Confidential",
    Designation.attorneys_eyes_only: "Attorneys' eyes only",
}


def case_context(access) -> dict:
    """What every tab of the case page shows around itself."""
    return {"case": access.case, "access": access, "case_types": CASE_TYPES, "kinds": KINDS}


@dataclass(frozen=True)
class ExhibitView:
    """How the Exhibits tab is sorted, filtered and paged: read from its address, and carried by the forms on it
    so that acting on an exhibit comes back to the same view."""

    sort: str = "position"
    direction: str = "asc"
    kind: str = ""
    tag: str = ""
    cursor: str | None = None

    @property
    def reorderable(self) -> bool:
        """The order can be changed only where it is shown as it is: exhibit order, first to last, no exhibit
        filtered out from between its neighbours."""
        return (self.sort, self.direction, self.kind, self.tag) == ("position", "asc", "", "")

    @property
    def query(self) -> str:
        """The view as a query string, without what is as it would be by default."""
        wanted = {"sort": "position", "direction": "asc", "kind": "", "tag": "", "cursor": None}
        return urlencode({name: value for name, value in vars(self).items() if value != wanted[name]})

    def url(self, case_id) -> str:
        return f"/cases/{case_id}/exhibits" + (f"?{self.query}" if self.query else "")

    @classmethod
    def around(cls, position: int) -> "ExhibitView":
        """The page, in exhibit order, that holds place `position`: pages begin at 1, 51, 101... as the Next
        link pages through them."""
        first = (position - 1) // EXHIBITS_PER_PAGE * EXHIBITS_PER_PAGE + 1
        return cls(cursor=exhibit_order.page_cursor(first))


def exhibit_view(
    sort: Annotated[str, Query(max_length=20)] = "position",
    direction: Annotated[str, Query(max_length=4)] = "asc",
    kind: Annotated[str, Query(max_length=40)] = "",
    tag: Annotated[str, Query(max_length=100)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> ExhibitView:
    return ExhibitView(
        sort=sort if sort in SORTS else "position",
        direction="desc" if direction == "desc" else "asc",
        kind=kind if kind in KINDS else "",
        tag=tag.strip(),
        cursor=cursor or None,
    )


ExhibitViewDep = Annotated[ExhibitView, Depends(exhibit_view)]


def exhibits_context(session, access: CasePage, view: ExhibitView) -> dict:
    """What the Exhibits tab and its results fragment show for `view`."""
    items, next_cursor = exhibit_service.list_exhibits(
        session,
        access.case,
        limit=EXHIBITS_PER_PAGE,
        cursor=view.cursor,
        order=view.sort,
        descending=view.direction == "desc",
        kind=view.kind or None,
        tag=view.tag or None,
    )
    reorder = access.can_edit and view.reorderable and bool(items)
    return case_context(access) | {
        "tab": "exhibits",
        "items": items,
        "next_cursor": next_cursor,
        "paged": view.cursor is not None,
        "filters": view,
        "sorts": SORTS,
        "designations": DESIGNATIONS,
        "reorder": reorder,
        "last_position": exhibit_order.last_position(session, access.case.id) if reorder else 0,
        "announce": "",  # what an action just did, for #status
        "focus": "",  # the id of the control the keyboard goes back to after an action
    }


@router.get("/cases/{case_id}")
@router.get("/cases/{case_id}/exhibits")
def exhibits_tab(
    request: Request,
    session: SessionDep,
    access: CaseViewerPage,
    view: ExhibitViewDep,
    added: Annotated[str, Query(max_length=40)] = "",
    already: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    return page(
        request,
        "web/case_exhibits.html",
        access.viewer,
        block="results" if is_htmx(request) and request.headers.get("hx-target") == "exhibit-results" else None,
        **exhibits_context(session, access, view),
        upload_limit=get_settings().max_upload_bytes,
        upload_notice=upload.notice(session, access.case, added=added, already=already) if added or already else None,
    )
