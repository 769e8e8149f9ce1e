"""The Bundles tab: the case's past bundles, a bundle's page (its build watched live), its downloads, its
validation report, and rebuilding or cancelling it, over the same services as /api/v1's bundle routes.

A running build is watched by polling: the page's status block asks for itself again every second (htmx) and stops
once the answer no longer asks to be polled, when the build has ended. Downloads go through the same service and
response as the API's, so they are checked and audited the same way; the browser shows its session cookie where
a client of the API shows a token.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import BlobStoreDep, SessionDep
from api.downloads import bundle_volume
from api.errors import NotFound
from api.services import bundles as bundle_service
from api.web import bundle_words as words
from api.web.case_page import case_context
from api.web.render import page
from api.web.session import CaseEditorPage, CasePage, CaseViewerPage, PageRoute
from models.bundle import Bundle, BundleStatus
from models.case import Role

router = APIRouter(route_class=PageRoute, include_in_schema=False)

BUNDLES_PER_PAGE = 25
BUSY = (BundleStatus.queued.value, BundleStatus.running.value)


def _bundle(session, access: CasePage, bundle_id: uuid.UUID, role: Role = Role.viewer) -> Bundle:
    """The bundle in the path, if it is this case's: another case's is 404, as for one that does not exist."""
    bundle = bundle_service.get_visible(session, bundle_id, access.viewer.user, role=role)
    if bundle.case_id != access.case.id:
        raise NotFound("bundle not found")
    return bundle


def _context(access: CasePage, bundle: Bundle) -> dict:
    return case_context(access) | {
        "tab": "bundles",
        "bundle": bundle,
        "state": words.state(bundle),
        "progress": words.progress(bundle),
        "percent": words.percent,
        "filed": access.case.filed_bundle_id == bundle.id,
        "volume_cap": words.volume_cap(bundle.params),
        "legends": words.LEGENDS,
    }


@router.get("/cases/{case_id}/bundles")
def bundles_tab(
    request: Request,
    session: SessionDep,
    access: CaseViewerPage,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    rows, next_cursor = bundle_service.list_bundles(
        session, access.case, limit=BUNDLES_PER_PAGE, cursor=cursor, newest_first=True
    )
    return page(
        request,
        "web/case_bundles.html",
        access.viewer,
        **case_context(access),
        tab="bundles",
        rows=[(bundle, words.state(bundle)) for bundle in rows],
        next_cursor=next_cursor,
        paged=cursor is not None,
    )


@router.get("/cases/{case_id}/bundles/{bundle_id}")
def bundle_page(request: Request, session: SessionDep, access: CaseViewerPage, bundle_id: uuid.UUID) -> Response:
    bundle = _bundle(session, access, bundle_id)
    rebuilt_from = session.get(Bundle, bundle.rebuilt_from) if bundle.rebuilt_from else None
    return page(
        request, "web/bundle.html", access.viewer, **_context(access, bundle), rebuilt_from=rebuilt_from, ended=False
    )


@router.get("/cases/{case_id}/bundles/{bundle_id}/status")
def bundle_status(
    request: Request,
    session: SessionDep,
    access: CaseViewerPage,
    bundle_id: uuid.UUID,
    was: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The status block, polled while the build runs. When the build the page watched has ended, the answer stops
    the polling, puts the downloads in place and announces the outcome."""
    bundle = _bundle(session, access, bundle_id)
    ended = was in BUSY and bundle.status not in BUSY
    return page(
        request,
        "web/bundle.html",
        access.viewer,
        block="state",
        **_context(access, bundle),
        ended=ended,
        announcement=words.announcement(bundle) if ended else None,
    )


@router.get("/cases/{case_id}/bundles/{bundle_id}/validation")
def validation_report(request: Request, session: SessionDep, access: CaseViewerPage, bundle_id: uuid.UUID) -> Response:
    bundle = _bundle(session, access, bundle_id)
    report = bundle.validation or {}
    volumes = [
        volume | {"forbidden_words": words.forbidden_words(volume.get("forbidden", []))}
        for volume in report.get("volumes", [])
    ]
    return page(
        request,
        "web/bundle_validation.html",
        access.viewer,
        **_context(access, bundle),
        report=report,
        volumes=volumes,
        textless=words.bates_runs(report.get("pages_without_text", [])),
        textless_count=len(report.get("pages_without_text", [])),
        awaiting_count=len(report.get("pages_awaiting_text", [])),
    )


@router.get("/cases/{case_id}/bundles/{bundle_id}/pdf")
def download_whole(
    request: Request, session: SessionDep, store: BlobStoreDep, access: CaseViewerPage, bundle_id: uuid.UUID
) -> Response:
    bundle = _bundle(session, access, bundle_id)
    return bundle_volume(session, store, request, access.viewer.user, bundle, None)


@router.get("/cases/{case_id}/bundles/{bundle_id}/volumes/{number}/pdf")
def download_volume(
    request: Request,
    session: SessionDep,
    store: BlobStoreDep,
    access: CaseViewerPage,
    bundle_id: uuid.UUID,
    number: Annotated[int, Path(ge=1, le=100_000)],
) -> Response:
    bundle = _bundle(session, access, bundle_id)
    return bundle_volume(session, store, request, access.viewer.user, bundle, number)


@router.post("/cases/{case_id}/bundles/{bundle_id}/rebuild")
def rebuild(session: SessionDep, access: CaseEditorPage, bundle_id: uuid.UUID) -> Response:
    """Rebuild from the stored parameters; the bundle that will be built may be a new one beside this one (a legal
    hold, a filed bundle), and the page goes to it."""
    bundle = _bundle(session, access, bundle_id, Role.editor)
    queued = bundle_service.queue_rebuild(session, bundle, actor=access.viewer.user)
    return RedirectResponse(f"/cases/{access.case.id}/bundles/{queued.id}", status_code=303)


@router.post("/cases/{case_id}/bundles/{bundle_id}/cancel")
def cancel(session: SessionDep, access: CaseEditorPage, bundle_id: uuid.UUID) -> Response:
    bundle = _bundle(session, access, bundle_id, Role.editor)
    bundle_service.cancel(session, bundle, actor=access.viewer.user)
    return RedirectResponse(f"/cases/{access.case.id}/bundles/{bundle.id}", status_code=303)
