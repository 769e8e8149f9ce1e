"""An evidence item's text: read back per page (or as Tesseract's word boxes), and read again on request."""

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from api.deps import CurrentUser, SessionDep, VisibleEvidence, evidence_for
from api.errors import error_responses
from api.json_body import CheckedJSONRoute
from api.services import evidence as evidence_service
from api.services import text as text_service
from models.case import Role
from models.evidence import EvidenceItem
from models.text import TextStatus

router = APIRouter(tags=["text"], route_class=CheckedJSONRoute)


class TextPageOut(BaseModel):
    page: int = Field(description="1-based: a PDF's page, a picture's frame, or a 4,000-character section of text.")
    source: str = Field(description="embedded (the PDF's own text), ocr, or decoded (a text file's characters).")
    text: str


class EvidenceTextOut(BaseModel):
    evidence_id: str
    text_status: TextStatus | None
    text_chars: int | None = None
    text_pages: int | None = None
    ocr_pages: int | None = None
    ocr_seconds: float | None = None
    text_engine: str | None = None
    text_language: str | None = None
    text_error: str | None = None
    pages: list[TextPageOut]


class RerunIn(BaseModel):
    language: str | None = Field(
        default=None, max_length=200, description="Tesseract language(s) joined by +: eng, chi_sim, eng+chi_sim."
    )


Format = Literal["json", "txt", "hocr", "tsv"]


@router.get(
    "/evidence/{evidence_id}/text",
    response_model=EvidenceTextOut,
    responses=error_responses(401, 404, 410, 422)
    | {200: {"content": {"text/plain": {}, "text/html": {}, "text/tab-separated-values": {}}}},
)
def get_text(
    session: SessionDep,
    user: CurrentUser,
    item: VisibleEvidence,
    format: Annotated[
        Format,
        Query(
            description="json (default): pages; txt: pages split by form feeds; "
            "hocr or tsv: Tesseract's word boxes, of the pages read by OCR"
        ),
    ] = "json",
    page: Annotated[int | None, Query(ge=1, le=1_000_000, description="Only this page.")] = None,
):
    """The text found in the item, page by page, with how it was read. Word boxes (`hocr`, `tsv`) are in pixels of
    the picture Tesseract read: the image itself, or a PDF page drawn at 300 dpi."""
    evidence_service.record_access(session, "evidence.text", item, user, {"format": format, "page": page})
    if format == "txt":
        return PlainTextResponse(text_service.plain_text(session, item.id, page))
    pages = text_service.pages(session, item.id, page, words=format in ("hocr", "tsv"))
    if format == "hocr":
        return Response(_hocr(pages), media_type="text/html; charset=utf-8")
    if format == "tsv":
        return Response(_tsv(pages), media_type="text/tab-separated-values; charset=utf-8")
    fields = text_service.status_fields(session, item.id) or {"text_status": None}
    return EvidenceTextOut(
        evidence_id=str(item.id),
        **fields,
        pages=[TextPageOut(page=p.page, source=p.source, text=p.text) for p in pages],
    )


@router.post(
    "/evidence/{evidence_id}/text/rerun",
    status_code=202,
    response_model=EvidenceTextOut,
    responses=error_responses(401, 403, 404, text_service.TextBeingRead, 410, 422),
)
def rerun_text(
    session: SessionDep,
    user: CurrentUser,
    item: Annotated[EvidenceItem, Depends(evidence_for(Role.editor))],
    data: RerunIn | None = None,
) -> EvidenceTextOut:
    """Read the item's text again (editors), in another OCR language if given. Its text so far stays readable and
    searchable until the new reading replaces it; 409 while it is being read."""
    text_service.rerun(session, user, item, data.language if data else None)
    text_service.on_commit_wake(session)
    fields = text_service.status_fields(session, item.id)
    return EvidenceTextOut(evidence_id=str(item.id), **fields, pages=[])


_PAGE_DIV = re.compile(r"<div class='ocr_page'.*?</div>\s*(?=</body>)", re.S)
_IDS = re.compile(r"(id='[a-z]+_)1(?=[_'])")


def _hocr(pages) -> str:
    """One hOCR document of the OCR'd pages: each page's div, its ids and page number made its own."""
    bodies = []
    for p in pages:
        if not p.hocr:
            continue
        found = _PAGE_DIV.search(p.hocr)
        if found:
            body = _IDS.sub(rf"\g<1>{p.page}", found.group(0))
            bodies.append(body.replace("ppageno 0", f"ppageno {p.page - 1}", 1))
    head = (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        "<!DOCTYPE html PUBLIC '-//W3C//DTD XHTML 1.0 Transitional//EN' "
        "'http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd'>\n"
        "<html xmlns='http://www.w3.org/1999/xhtml' xml:lang='en' lang='en'>\n <head>\n  <title></title>\n"
        "  <meta http-equiv='Content-Type' content='text/html;charset=utf-8'/>\n"
        "  <meta name='ocr-system' content='tesseract'/>\n"
        "  <meta name='ocr-capabilities' content='ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf'/>\n"
        " </head>\n <body>\n"
    )
    return head + "\n".join(bodies) + "\n </body>\n</html>\n"


def _tsv(pages) -> str:
    """Tesseract's TSV of the OCR'd pages, one header, page_num the item's page."""
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    lines = [header]
    for p in pages:
        if not p.tsv:
            continue
        for line in p.tsv.splitlines()[1:]:
            cells = line.split("\t")
            if len(cells) >= 12:
                cells[1] = str(p.page)
                lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"
