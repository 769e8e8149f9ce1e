from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.db import on_rollback
from api.deps import BlobStoreDep, CaseOwner, SessionDep
from api.downloads import content_disposition
from api.errors import BundleNotFinished, error_responses
from api.json_body import CheckedJSONRoute
from api.services.transfer import export as case_export

router = APIRouter(tags=["export"], route_class=CheckedJSONRoute)

ZIP_RESPONSES = error_responses(401, 403, 404, case_export.StoredFileMissing, BundleNotFinished) | {
    200: {"content": {"application/zip": {}}, "description": "The case as a ZIP: manifest.json and its files"}
}


@router.get("/cases/{case_id}/export", response_class=StreamingResponse, responses=ZIP_RESPONSES)
def export_case(session: SessionDep, access: CaseOwner, store: BlobStoreDep) -> StreamingResponse:
    """The whole case as a ZIP (owners only): `manifest.json` with every row and the audit trail, the originals
    under `evidence/<sha256>` and the bundle PDFs. `casebinder import` restores it on another instance."""
    export = case_export.prepare(session, store, case=access.case, actor=access.user)
    on_rollback(session, export.close)
    headers = {
        "Content-Disposition": content_disposition(export.filename),
        "X-Manifest-SHA256": export.manifest_sha256,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }
    return StreamingResponse(export.stream(), media_type="application/zip", headers=headers)
