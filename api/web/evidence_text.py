"""The evidence page's Text section: its parts for htmx, the text as a download, and reading it again.

While the text is read, the section's state asks for itself every 3 s (htmx) and stops once the reading has ended:
that answer is the whole section, with the new text, in the old one's place. Reading again goes through the API's
rerun service, so the same rules hold (the editor role in the item's home case; 409 while it is being read; 422 for
a language not installed); a refusal is said in the section after a plain form, in the page's alert area for htmx.
"""

from pathlib import PurePosixPath
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from api.deps import SessionDep
from api.downloads import content_disposition, download_name
from api.errors import Conflict, UnprocessableEntity
from api.services import evidence as evidence_service
from api.services import text as text_service
from api.web import text_section
from api.web import text_words as words
from api.web.evidence import CaseQuery, SearchWords, can_edit, show, viewed
from api.web.render import is_htmx, page, sentence
from api.web.session import PageRoute, Viewer, ViewerDep
from models.case import Case, Role
from models.evidence import EvidenceItem

router = APIRouter(route_class=PageRoute, include_in_schema=False)

TextFrom = Annotated[str | None, Query(max_length=20)]
SETTLE = {"HX-Retarget": "#text", "HX-Reswap": "outerHTML"}


def _section(
    request: Request, session, viewer: Viewer, item: EvidenceItem, case: Case, first: int, **extra
) -> Response:
    """The whole section, from page `first`, for htmx to put in place of the one on the page."""
    headers = extra.pop("headers", None)
    edits = can_edit(session, item, viewer)
    text = text_section.build(session, item, viewer.user, first=first, can_edit=edits, q=extra.pop("q", None))
    context: dict = {"item": item, "case": case, "text": text, "can_edit": edits, "errors": {}, "values": {}} | extra
    return page(request, "web/evidence_text.html", viewer, block="section", headers=headers, **context)


@router.get("/evidence/{evidence_id}/text")
def text_part(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    evidence_id: str,
    case_id: CaseQuery = None,
    text_from: TextFrom = None,
    q: SearchWords = None,
) -> Response:
    """The section alone, from page `text_from`: what "more pages" swaps in. A browser without htmx gets the page."""
    item, case, _ = viewed(session, evidence_id, viewer, case_id)
    first = text_section.first_page(text_from)
    if not is_htmx(request):
        keep = f"&{urlencode({'q': q})}" if q else ""
        return RedirectResponse(f"/evidence/{item.id}?case={case.id}&text_from={first}{keep}#text", status_code=303)
    return _section(request, session, viewer, item, case, first, q=q)


@router.get("/evidence/{evidence_id}/text/state")
def text_state(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    evidence_id: str,
    case_id: CaseQuery = None,
    text_from: TextFrom = None,
    q: SearchWords = None,
) -> Response:
    """Polled while the text is read: the state alone (it shows no text, so records no access) while it still is;
    once the reading has ended, the whole section, which has nothing left to poll."""
    item, case, _ = viewed(session, evidence_id, viewer, case_id)
    first = text_section.first_page(text_from)
    edits = can_edit(session, item, viewer)
    text = text_section.build(session, item, viewer.user, first=first, pages=False, can_edit=edits, q=q)
    if not text.busy:
        said = f"The text has been read. {text.words}."
        return _section(request, session, viewer, item, case, first, headers=SETTLE, announce=said, q=q)
    context: dict = {"item": item, "case": case, "text": text, "can_edit": edits, "errors": {}, "values": {}}
    return page(request, "web/evidence_text.html", viewer, block="state", **context)


@router.get("/evidence/{evidence_id}/text.txt")
def text_download(session: SessionDep, viewer: ViewerDep, evidence_id: str) -> Response:
    """The item's text as the API's `?format=txt` gives it (pages split by form feeds), recorded the same way."""
    item, _, _ = viewed(session, evidence_id, viewer, None)
    evidence_service.record_access(
        session, "evidence.text", item, viewer.user, {"format": "txt", "page": None, "via": "web"}
    )
    name = download_name(item.original_filename, item.sha256)
    filename = f"{PurePosixPath(name).stem or name} - text.txt"
    return PlainTextResponse(
        text_service.plain_text(session, item.id), headers={"Content-Disposition": content_disposition(filename)}
    )


@router.post("/evidence/{evidence_id}/text/rerun")
async def rerun(
    request: Request, session: SessionDep, viewer: ViewerDep, evidence_id: str, case_id: CaseQuery = None
) -> Response:
    """Read the item's text again, in the language chosen (editors of its home case)."""
    item, case, _ = viewed(session, evidence_id, viewer, case_id, Role.editor)
    chosen = (await request.form()).get("language")
    language = chosen.strip() if isinstance(chosen, str) and chosen.strip() else None
    try:
        queued = text_service.rerun(session, viewer.user, item, language)
    except (Conflict, UnprocessableEntity) as exc:
        if is_htmx(request):
            raise  # said in the page's alert area (PageRoute)
        errors, typed = {"text": sentence(str(exc.message))}, {"language": language} if language else {}
        return show(request, session, item, case, viewer, status=exc.status_code, errors=errors, values=typed)
    text_service.on_commit_wake(session)
    if not is_htmx(request):
        return RedirectResponse(f"/evidence/{item.id}?case={case.id}#text", status_code=303)
    said = f"The text will be read again, in {words.languages(queued.language)}."
    return _section(request, session, viewer, item, case, 1, announce=said)
