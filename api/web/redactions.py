"""An item's Redactions page: its redactions page by page, over pictures of the pages they cover; suggesting,
accepting, rejecting and drawing them; the case's protective-order terms; applying the accepted ones into a
redacted copy and following that to its end.

Every action goes through the API's service (api/services/redactions.py), so the same rules hold and the same audit
events are recorded: members read the page, the editors of the item's home case act on it. A plain form answers with
a redirect back to the page (or the page again, saying what to correct); htmx gets the part of the page that changed
and a sentence for #status, and a refusal in the page's alert area (PageRoute).
"""

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData

from api.config import get_settings
from api.deps import BlobStoreDep, SessionDep
from api.downloads import page_image
from api.errors import Conflict, NotFound, UnprocessableEntity
from api.services import evidence as evidence_service
from api.services import previews as preview_service
from api.services import redactions as service
from api.services.text import TextBeingRead
from api.web.evidence import CaseQuery, can_edit, viewed
from api.web.forms import parse
from api.web.render import error_page, is_htmx, page, sentence
from api.web.session import PageRoute, Viewer, ViewerDep
from models.case import Case, Role
from models.evidence import EvidenceItem
from models.redaction import DrawnRedaction, Redaction, RedactionDecision, RedactionSet, RedactionStatus, TermsIn

router = APIRouter(route_class=PageRoute, include_in_schema=False)

BASE = "/evidence/{evidence_id}/redactions"
PICTURE_WIDTH = 800
STILL_READING = (
    "The text of this item is still being read, and suggestions are made from its words. Try again when the reading "
    "has ended: the Text section of the evidence page shows how far it has got."
)
RULES = {
    "ssn": "Social Security number",
    "tin": "Tax number",
    "birth_date": "Date of birth",
    "card": "Card number",
    "account": "Account number",
    "paypal_account": "PayPal account",
    "email": "E-mail address",
    "phone": "Phone number",
    "address": "Street address",
    "term": "Protective-order term",
    "pattern": "Protective-order pattern",
    "drawn": "Drawn by hand",
}
STATUSES = {"suggested": "Suggested", "accepted": "Accepted", "rejected": "Rejected"}
BOX_FIELDS = ("x0", "y0", "x1", "y1")


async def form_values(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(form_values)]
PageQuery = Annotated[int | None, Query(alias="page", ge=1, le=100_000)]


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _url(item: EvidenceItem, case: Case, anchor: str = "") -> str:
    return f"/evidence/{item.id}/redactions?case={case.id}{anchor}"


def _groups(redactions: list[Redaction], shown: list[int]) -> list[dict]:
    """The pages shown, each with its redactions (numbered on the page as its picture numbers its boxes)."""
    by_page: dict[int, list[Redaction]] = {n: [] for n in shown}
    for r in redactions:
        by_page.setdefault(r.page, []).append(r)
    return [{"page": n, "redactions": by_page[n]} for n in sorted(by_page)]


def _shown(sheets: service.Sheets, redactions: list[Redaction], wanted: int | None) -> list[int]:
    """The first pages (as many as a preview shows), every page with a redaction, and the page asked for."""
    first = list(range(1, min(sheets.pages, get_settings().preview_pdf_pages) + 1))
    extra = {r.page for r in redactions} | ({wanted} if wanted and wanted <= sheets.pages else set())
    return sorted(set(first) | extra)


def _counts(redactions: list[Redaction]) -> dict[str, int]:
    return {status.value: sum(r.status == status for r in redactions) for status in RedactionStatus}


def _context(
    session: Session, store, item: EvidenceItem, case: Case, viewer: Viewer, wanted: int | None = None
) -> dict:
    redactions = service.listing(session, item)
    sheets = service.sheets(session, store, item)
    terms = service.terms_of(session, item.case_id)
    sets = service.sets_of(session, item, limit=1)
    return {
        "item": item,
        "case": case,
        "exhibit": evidence_service.exhibit_in_case(session, case, item),
        "can_edit": can_edit(session, item, viewer),
        "sheets": sheets,
        "groups": _groups(redactions, _shown(sheets, redactions, wanted)),
        "counts": _counts(redactions),
        "terms": terms.terms if terms else [],
        "patterns": terms.patterns if terms else [],
        "latest": sets[0] if sets else None,
        "rules": RULES,
        "statuses": STATUSES,
        "errors": {},
        "values": {},
        "notice": None,
    }


def _show(request: Request, session, store, item, case, viewer, *, status=200, wanted=None, **extra) -> Response:
    context = _context(session, store, item, case, viewer, wanted) | extra
    return page(request, "web/redactions.html", viewer, status=status, **context)


def _part(request: Request, viewer: Viewer, blocks: tuple[str, ...], context: dict, announce: str = "") -> Response:
    """The blocks of the page that changed, then the sentence for #status; the counts beside a page's group are
    swapped in out of band."""
    shown = context | {"announce": announce, "oob": "counts" in blocks}
    parts = [page(request, "web/redactions.html", viewer, block=block, **shown) for block in (*blocks, "status")]
    return HTMLResponse(b"".join(bytes(part.body) for part in parts))


def _group_of(context: dict, number: int) -> dict:
    return next((g for g in context["groups"] if g["page"] == number), {"page": number, "redactions": []})


@router.get(BASE)
def redactions_page(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    store: BlobStoreDep,
    evidence_id: str,
    case_id: CaseQuery = None,
    wanted: PageQuery = None,
    added: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    item, case, _ = viewed(session, evidence_id, viewer, case_id)
    said = None if added is None else _added(added)
    return _show(request, session, store, item, case, viewer, wanted=wanted, notice=said)


@router.get(BASE + "/pages/{page}.png")
def page_picture(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    store: BlobStoreDep,
    evidence_id: str,
    page: int,
    width: Annotated[int, Query(ge=1, le=10_000)] = PICTURE_WIDTH,
) -> Response:
    """A page as redaction sees it: a PDF's own, or a page of a CSV's, e-mail's or text file's rendering."""
    item, _, _ = viewed(session, evidence_id, viewer, None)
    width = preview_service.allowed_width(width)
    return page_image(request, f"{item.sha256}-r", page, width, lambda: service.page_picture(store, item, page, width))


def _added(added: int) -> str:
    if added == 0:
        return "No new suggestions: everything the detectors and the case's terms find is listed already"
    return f"{added} new suggestion{'s' if added != 1 else ''} to review"


@router.post(BASE + "/suggest")
def suggest(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    store: BlobStoreDep,
    evidence_id: str,
    case_id: CaseQuery = None,
) -> Response:
    """Run the detectors and the case's terms over the item's pages (editors of its home case)."""
    item, case, _ = viewed(session, evidence_id, viewer, case_id, Role.editor)
    try:
        _, added = service.suggest(session, store, item, viewer.user)
    except TextBeingRead:
        if is_htmx(request):
            return error_page(request, 409, STILL_READING)
        return _show(request, session, store, item, case, viewer, status=409, errors={"suggest": STILL_READING})
    except (Conflict, UnprocessableEntity) as exc:
        if is_htmx(request):
            raise
        errors = {"suggest": sentence(str(exc.message))}
        return _show(request, session, store, item, case, viewer, status=exc.status_code, errors=errors)
    if not is_htmx(request):
        return RedirectResponse(_url(item, case, f"&added={added}#pages"), status_code=303)
    context = _context(session, store, item, case, viewer)
    return _part(request, viewer, ("body",), context | {"notice": _added(added)}, announce=_added(added))


@router.post(BASE + "/{redaction_id:uuid}/decide")
def decide(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    store: BlobStoreDep,
    evidence_id: str,
    redaction_id: uuid.UUID,
    form: FormDep,
    case_id: CaseQuery = None,
) -> Response:
    """Accept or reject a redaction (the button pressed), with the reason as typed."""
    item, case, _ = viewed(session, evidence_id, viewer, case_id, Role.editor)
    data, errors = parse(RedactionDecision, {"status": _text(form, "status"), "reason": _text(form, "reason")})
    if data is None:
        raise UnprocessableEntity(
            "; ".join(f"{'the reason' if k == 'reason' else 'the decision'}: {v.lower()}" for k, v in errors.items())
        )
    redaction = service.decide(session, item, redaction_id, viewer.user, data)
    if not is_htmx(request):
        return RedirectResponse(_url(item, case, f"#redaction-{redaction.id}"), status_code=303)
    session.flush()
    context = _context(session, store, item, case, viewer)
    said = f"Redaction {STATUSES[str(redaction.status)].lower()}: page {redaction.page}, {redaction.reason}"
    group = _group_of(context, redaction.page)
    return _part(
        request, viewer, ("group", "counts"), context | {"group": group, "focus": f"decided-{redaction.id}"}, said
    )


@router.post(BASE + "/draw")
def draw(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    store: BlobStoreDep,
    evidence_id: str,
    form: FormDep,
    case_id: CaseQuery = None,
) -> Response:
    """A box drawn by hand over a page (fractions of the page from its top-left), with its reason."""
    item, case, _ = viewed(session, evidence_id, viewer, case_id, Role.editor)
    values = {name: _text(form, name) for name in ("page", "reason", *BOX_FIELDS)}
    box = [values[name] for name in BOX_FIELDS]
    data, errors = parse(DrawnRedaction, {"page": values["page"], "reason": values["reason"], "box": box})
    problem = None
    if data is None:
        problem = "; ".join(f"{_field(name)}: {message[:1].lower() + message[1:]}" for name, message in errors.items())
    else:
        try:
            redaction = service.draw(session, store, item, viewer.user, data)
        except (Conflict, UnprocessableEntity) as exc:
            if is_htmx(request):
                raise
            problem = str(exc.message)
    if problem is not None:
        if is_htmx(request):
            raise UnprocessableEntity(problem)
        wanted = int(values["page"]) if values["page"].isdigit() else None
        shown = {"draw": sentence(problem), "draw_page": wanted}
        return _show(
            request, session, store, item, case, viewer, status=422, wanted=wanted, errors=shown, values=values
        )
    if not is_htmx(request):
        return RedirectResponse(_url(item, case, f"#redaction-{redaction.id}"), status_code=303)
    context = _context(session, store, item, case, viewer)
    said = f"Box drawn on page {redaction.page} and accepted: {redaction.reason}"
    group = _group_of(context, redaction.page)
    return _part(
        request, viewer, ("group", "counts"), context | {"group": group, "focus": f"decided-{redaction.id}"}, said
    )


def _field(name: str) -> str:
    return {"box": "the box", "page": "the page", "reason": "the reason"}.get(name, name)


@router.post(BASE + "/apply")
def apply(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    store: BlobStoreDep,
    evidence_id: str,
    case_id: CaseQuery = None,
) -> Response:
    """Queue the burning of the accepted redactions into a redacted copy; the page follows it to its end."""
    item, case, _ = viewed(session, evidence_id, viewer, case_id, Role.editor)
    try:
        redaction_set = service.apply(session, item, viewer.user)
    except (Conflict, UnprocessableEntity) as exc:
        if is_htmx(request):
            raise
        errors = {"apply": sentence(str(exc.message))}
        return _show(request, session, store, item, case, viewer, status=exc.status_code, errors=errors)
    if not is_htmx(request):
        return RedirectResponse(_url(item, case, "#apply"), status_code=303)
    said = f"The {len(redaction_set.redaction_ids)} accepted redactions are being applied to a copy"
    return _set_part(request, viewer, item, case, redaction_set, said)


def _set_part(
    request: Request, viewer: Viewer, item: EvidenceItem, case: Case, redaction_set: RedactionSet, said: str = ""
) -> Response:
    context = {"item": item, "case": case, "latest": redaction_set, "errors": {}}
    return _part(request, viewer, ("apply_state",), context, said)


@router.get(BASE + "/sets/{set_id:uuid}")
def set_state(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    evidence_id: str,
    set_id: uuid.UUID,
    case_id: CaseQuery = None,
) -> Response:
    """Polled while a redaction set is applied: its state, which stops polling once it has ended."""
    item, case, _ = viewed(session, evidence_id, viewer, case_id)
    redaction_set = service.get_set(session, set_id, viewer.user)
    if redaction_set.evidence_id != item.id:
        raise NotFound("no such redaction set of this item")
    if not is_htmx(request):
        return RedirectResponse(_url(item, case, "#apply"), status_code=303)
    said = {
        "done": "The redacted copy is ready",
        "failed": "The redactions could not be applied: nothing was released",
    }.get(str(redaction_set.status), "")
    return _set_part(request, viewer, item, case, redaction_set, said)


@router.post(BASE + "/terms")
def save_terms(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    store: BlobStoreDep,
    evidence_id: str,
    form: FormDep,
    case_id: CaseQuery = None,
) -> Response:
    """The item's home case's terms and patterns (a protective order's list), one per line."""
    item, case, _ = viewed(session, evidence_id, viewer, case_id, Role.editor)
    home = session.get(Case, item.case_id)
    assert home is not None, "an item's home case is there"
    typed = {name: str(form.get(name) or "") for name in ("terms", "patterns")}
    lines = {name: [line for line in text.splitlines() if line.strip()] for name, text in typed.items()}
    data, errors = parse(TermsIn, lines)
    try:
        if data is None:
            raise UnprocessableEntity(next(iter(errors.values())))
        service.put_terms(session, home, viewer.user, data)
    except UnprocessableEntity as exc:
        problem = {"terms": sentence(_line_named(str(exc.message)))}
        return _show(request, session, store, item, case, viewer, status=422, errors=problem, values=typed)
    return RedirectResponse(_url(item, case, "#terms"), status_code=303)


def _line_named(message: str) -> str:
    """The service names a refused pattern by its index ("patterns[2]"); the page, by its line."""
    return re.sub(r"\b(term|pattern)s\[(\d+)\]", lambda m: f"the {m.group(1)} on line {int(m.group(2)) + 1}", message)
