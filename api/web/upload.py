"""Adding evidence from the Exhibits tab: files dropped or chosen on the page, each sent as it is, one request per
file, to `POST /cases/{case_id}/upload`.

The route takes the same path as the API's upload (`api.intake.receive_evidence` inside
`api.request_body.receiving_body`), so a file from the page meets the same limits: the largest size, counted as it
streams; the stall timeout; the per-user upload slots; hashing while it arrives; nothing half-written.

The page's script (static/upload.js) asks for JSON (`Accept: application/json`) and sends the CSRF token as the
X-CSRF-Token header; it is told, per file:

    {"status": "added" | "duplicate" | "failed", "label": "PX-014" | null, "evidence_id": ... | null,
     "exhibit_id": ... | null, "url": "/evidence/{evidence_id}?case={case_id}" | null, "message": "Added as PX-014"}

with 201 for added, 200 for a duplicate (the same bytes are already evidence in this case: the answer names that
item and its label; nothing new is stored) and the refusal's own status for failed (413, 422, 408, 429, 403...),
`message` then being the server's reason in words. Bytes that are evidence in another case only are added to this
one as its own item, as the API does.

Without JavaScript the panel is a plain multipart form (file, title, kind) that comes back to the Exhibits tab
(303) naming the exhibit, or to an error page naming the problem. Its CSRF token is in the form's action URL
(`?csrf_token=`), not in its body: see `api.web.session.signed_in_streaming`.
"""

import uuid
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlmodel import Session

from api.deps import BlobStoreDep, SessionDep
from api.errors import DomainError, NotFound
from api.intake import Received, receive_evidence
from api.request_body import receiving_body
from api.services import exhibits as exhibit_service
from api.upload import UploadForm
from api.web.render import error_page, sentence, wants_json
from api.web.session import CasePage, PageRoute, case_page
from models.case import Case, Role
from models.inputs import EVIDENCE_TITLE_CHARS

SIGNED_OUT = "you have been signed out: sign in again, then send the file again"


def _failed(message: str | list | dict) -> dict:
    text = message if isinstance(message, str) else "some details need correcting"
    nothing = {"label": None, "evidence_id": None, "exhibit_id": None, "url": None}
    return {"status": "failed", **nothing, "message": sentence(text)}


class UploadRoute(PageRoute):
    """The uploader's route: its script is answered in JSON, a refusal included; a form gets pages."""

    def signed_out(self, request: Request) -> Response:
        if wants_json(request):
            return JSONResponse(_failed(SIGNED_OUT), status_code=401)
        return super().signed_out(request)

    def refused(self, request: Request, error: DomainError) -> Response:
        if wants_json(request):
            return JSONResponse(_failed(error.message), status_code=error.status_code, headers=error.headers)
        back = None
        if error.status_code not in (403, 404):
            back = (f"/cases/{request.path_params.get('case_id')}/exhibits", "Back to the exhibits")
        return error_page(request, error.status_code, error.message, back=back)


router = APIRouter(route_class=UploadRoute, include_in_schema=False)


def _uploading(
    access: Annotated[CasePage, Depends(case_page(Role.editor, streaming=True))], session: SessionDep
) -> Iterator[CasePage]:
    with receiving_body(session, access.viewer.user.id):
        yield access


# As the API's CaseUploader: the slot is given back as soon as the route returns.
CaseUploadPage = Annotated[CasePage, Depends(_uploading, scope="function")]


def default_title(filename: str) -> str:
    """A file's title until someone writes one: its name without a folder or its extension ("Refund email
    2021-03.eml" is "Refund email 2021-03"); a name that is all extension (".env") stays whole."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    stem = name.rsplit(".", 1)[0].strip()
    return (stem or name)[:EVIDENCE_TITLE_CHARS]


def _with_default_title(form: UploadForm) -> dict[str, str]:
    fields = dict(form.fields)
    if not fields.get("title", "").strip():
        fields["title"] = default_title(form.filename)
    return fields


def evidence_url(case: Case, evidence_id: uuid.UUID) -> str:
    return f"/evidence/{evidence_id}?case={case.id}"


def outcome(case: Case, received: Received) -> dict:
    """What the script shows for a file that arrived (see the module's docstring)."""
    exhibit, item = received.exhibit, received.item
    label = exhibit.label if exhibit is not None else None
    if not received.duplicate:
        message = f"Added as {label}"
    elif label:
        message = f"Already in this case as {label}"
    else:
        message = "Already in this case (not as an exhibit)"
    return {
        "status": "duplicate" if received.duplicate else "added",
        "label": label,
        "evidence_id": str(item.id),
        "exhibit_id": str(exhibit.id) if exhibit is not None else None,
        "url": evidence_url(case, item.id),
        "message": message,
    }


@router.post("/cases/{case_id}/upload")
async def upload(request: Request, access: CaseUploadPage, session: SessionDep, store: BlobStoreDep) -> Response:
    received = await receive_evidence(
        request, session, store, case=access.case, actor=access.viewer.user, fields=_with_default_title
    )
    if wants_json(request):
        return JSONResponse(outcome(access.case, received), status_code=200 if received.duplicate else 201)
    query = ""
    if received.exhibit is not None:
        query = "?" + urlencode({"already" if received.duplicate else "added": str(received.exhibit.id)})
    return RedirectResponse(f"/cases/{access.case.id}/exhibits{query}", status_code=303)


def notice(session: Session, case: Case, *, added: str, already: str) -> dict | None:
    """After the form's upload, the Exhibits tab names what came of it: the exhibit in the address, if it is one
    of this case's (anything else there is ignored)."""
    try:
        exhibit = exhibit_service.get(session, case, uuid.UUID(added or already))
    except (ValueError, NotFound):
        return None
    return {
        "duplicate": not added,
        "label": exhibit.label,
        "url": evidence_url(case, exhibit.evidence_id),
    }
