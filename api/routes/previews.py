"""Evidence previews: what the evidence page shows of an original (api/services/previews)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.deps import BlobStoreDep, CurrentUser, SessionDep, VisibleEvidence
from api.downloads import page_image
from api.errors import error_responses
from api.services import previews as preview_service
from models.preview import Preview

router = APIRouter(tags=["evidence"])


@router.get(
    "/evidence/{evidence_id}/preview",
    response_model=Preview,
    responses=error_responses(401, 404, 410, preview_service.PreviewBusy),
)
def get_preview(session: SessionDep, user: CurrentUser, store: BlobStoreDep, item: VisibleEvidence) -> Preview:
    """How to show the original: as itself (an image: GET .../content), as page images (a PDF: GET
    .../pages/{page}.png for pages 1 to `pages_shown`), as text, a table or an e-mail, or not at all (`reason`).
    Every string is plain text: an HTML e-mail comes as the words it shows. Recorded in the audit trail as an
    `evidence.preview`."""
    return preview_service.describe(session, store, item, actor=user)


@router.get(
    "/evidence/{evidence_id}/pages/{page}.png",
    response_class=Response,
    responses=error_responses(401, 404, 410, 422, preview_service.PageNotDrawn, 500, preview_service.PreviewBusy)
    | {
        200: {
            "description": "The page as a PNG.",
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        },
        304: {"description": "Not modified"},
    },
)
def get_page_image(
    store: BlobStoreDep,
    request: Request,
    item: VisibleEvidence,
    page: int,
    width: Annotated[
        int, Query(ge=1, le=10_000, description="Pixels; drawn at the narrowest of 160, 320 or 800 at least as wide.")
    ] = 320,
) -> Response:
    """Page `page` of a PDF original (1 is the first) as a PNG, drawn on the server. 404 for a page the PDF does not
    have; 422 (`page_not_drawn`) when the PDF is encrypted or damaged, or the page could not be drawn in time."""
    width = preview_service.allowed_width(width)
    return page_image(request, item.sha256, page, width, lambda: preview_service.thumbnail(store, item, page, width))
