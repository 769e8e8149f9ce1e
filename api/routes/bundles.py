import uuid

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.deps import BlobStoreDep, CaseEditor, CaseViewer, CurrentUser, EditableBundle, SessionDep, VisibleBundle
from api.downloads import bundle_volume
from api.errors import BundleNotDone, BundleNotFinished, error_responses
from api.json_body import CheckedJSONRoute
from api.pagination import DEFAULT_LIMIT, Page
from api.services import bundles as bundle_service
from api.services.redactions import RedactionsNotApplied
from models.bundle import Bundle, BundleProgress, BundlePublic, BundleRequest
from models.inputs import Cursor

router = APIRouter(tags=["bundles"], route_class=CheckedJSONRoute)


def _public(session, bundle: Bundle) -> BundlePublic:
    return BundlePublic.model_validate(
        bundle,
        update={
            "progress": BundleProgress(done=bundle.progress_done, total=bundle.progress_total),
            "exhibits": [p.model_dump() for p in bundle_service.placements(session, bundle)],
            "volumes": bundle.volumes,
        },
    )


@router.post(
    "/cases/{case_id}/bundles",
    response_model=BundlePublic,
    status_code=202,
    responses=error_responses(401, 403, 404, RedactionsNotApplied, 422),
)
def create_bundle(session: SessionDep, access: CaseEditor, data: BundleRequest) -> BundlePublic:
    """Queue a court-ready PDF bundle of the case's exhibits; poll GET /bundles/{id} until it is done. With
    `filing_copy`, each exhibit with redactions is bundled as its redacted copy (409 while some are not applied)."""
    bundle = bundle_service.create_bundle(session, case=access.case, actor=access.user, data=data)
    return _public(session, bundle)


@router.get("/cases/{case_id}/bundles", response_model=Page[BundlePublic], responses=error_responses(400, 401, 404))
def list_bundles(session: SessionDep, access: CaseViewer, limit: int = DEFAULT_LIMIT, cursor: Cursor | None = None):
    rows, next_cursor = bundle_service.list_bundles(session, access.case, limit=limit, cursor=cursor)
    return {"items": [_public(session, b) for b in rows], "next_cursor": next_cursor}


@router.get("/bundles/{bundle_id}", response_model=BundlePublic, responses=error_responses(401, 404))
def get_bundle(session: SessionDep, bundle: VisibleBundle) -> BundlePublic:
    return _public(session, bundle)


@router.post(
    "/bundles/{bundle_id}/rebuild",
    response_model=BundlePublic,
    status_code=202,
    responses=error_responses(401, 403, 404, BundleNotFinished),
)
def rebuild_bundle(session: SessionDep, user: CurrentUser, bundle: EditableBundle) -> BundlePublic:
    """Build again from the stored parameters; unchanged evidence gives a byte-identical PDF (same sha256).

    The bundle serves its last build until the new one is recorded, and keeps it if the rebuild fails. Under a
    legal hold the answer is a new bundle beside this one (`rebuilt_from`): nothing built for a held case is
    replaced. So is the answer for the case's filed bundle: what was filed stays as it was."""
    queued = bundle_service.queue_rebuild(session, bundle, actor=user)
    return _public(session, queued)


@router.post(
    "/bundles/{bundle_id}/cancel",
    response_model=BundlePublic,
    responses=error_responses(401, 403, 404, bundle_service.NothingToCancel),
)
def cancel_bundle(session: SessionDep, user: CurrentUser, bundle: EditableBundle) -> BundlePublic:
    """Cancel a queued or running build: the bundle is failed at once with an error naming who cancelled it and
    when, and a running build's process is stopped within a second or so. Rebuild it to build it again."""
    return _public(session, bundle_service.cancel(session, bundle, actor=user))


PDF = {200: {"content": {"application/pdf": {}}, "description": "The PDF"}}
PDF_RESPONSES = error_responses(401, 404, BundleNotDone, bundle_service.BundleHasVolumes, 500) | PDF
VOLUME_RESPONSES = error_responses(401, 404, BundleNotDone, 500) | PDF


@router.get("/bundles/{bundle_id}/pdf", response_class=StreamingResponse, responses=PDF_RESPONSES)
def bundle_pdf(session: SessionDep, user: CurrentUser, store: BlobStoreDep, request: Request, bundle: VisibleBundle):
    """The bundle as one PDF (ETag = its SHA-256). A bundle split into volumes is downloaded volume by volume."""
    return bundle_volume(session, store, request, user, bundle, None)


@router.get("/bundles/{bundle_id}/volumes/{number}/pdf", response_class=StreamingResponse, responses=VOLUME_RESPONSES)
def volume_pdf(
    session: SessionDep, user: CurrentUser, store: BlobStoreDep, request: Request, bundle_id: uuid.UUID, number: int
):
    # Looked up here rather than by `bundle_for`: the document lists a route's own parameters before those of
    # its dependencies, and it names bundle_id before number.
    bundle = bundle_service.get_visible(session, bundle_id, user)
    return bundle_volume(session, store, request, user, bundle, number)
