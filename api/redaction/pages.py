"""An item's pages as redaction sees them: each page's text with a box for every character that has one, so a string
found in the text becomes boxes on the page.

Boxes are [x0, y0, x1, y1], fractions of the page as it is displayed, from its top-left corner. Where they come from:
- a PDF page with text of its own: pdfium's box for each character;
- a picture, or a PDF page that is only a picture: the OCR's word boxes (stored when the item's text was read),
  each word's box shared out among its characters by their number;
- a CSV, e-mail, JSON or text file: its rendering, the pages a bundle shows of it (`render_text_like`), read as PDF
  pages with text.
"""

from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2 as pdfium

from api.bundle import records
from api.bundle.render import ExhibitPageRequest, exhibits_context, render_pdf
from api.bundle.spec import ExhibitSource
from models.evidence import EvidenceItem

Box = tuple[float, float, float, float]


class PagesRefused(ValueError):
    """The item's pages cannot be read for redaction (an encrypted or damaged PDF): the message says why."""


@dataclass
class PageText:
    page: int  # 1-based
    source: str  # "embedded", "ocr" or "rendering"
    text: str = ""
    boxes: list[Box | None] = field(default_factory=list)  # one per character of `text`

    def add(self, text: str, box: Box | None) -> None:
        self.text += text
        self.boxes.extend([box] * len(text))


def media_kind(item: EvidenceItem) -> str:
    """pdf, image, a text-like kind (csv, json, email, text), or native (nothing redaction can read)."""
    return records.classify(item.media_type, item.original_filename)


def render_text_like(item: EvidenceItem, source: Path, out: Path, *, label: str | None = None) -> Path:
    """A CSV, e-mail, JSON or text file rendered as a bundle shows it, written to `out` as a PDF, headed by `label`
    (its title when not given: a production heads it with its Bates number instead)."""
    exhibit = ExhibitSource(
        seq=1, exhibit_id=str(item.id), evidence_id=str(item.id), label=label or item.title, title=item.title,
        kind=str(item.kind), description=None, occurred_at=None, occurred_display=None, occurred_short=None,
        legend=None, sha256=item.sha256, size_bytes=item.size_bytes, media_type=item.media_type,
        original_filename=item.original_filename, source_url=None, custodian=None, acquired_at=item.created_at,
        acquired_display="",
    )  # fmt: skip
    request = ExhibitPageRequest(exhibit=exhibit, record=records.view(media_kind(item), source))
    out.write_bytes(render_pdf("exhibits.html", exhibits_context([request])).pdf)
    return out


def open_pdf(path: Path) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium.raw.FPDF_ERR_PASSWORD:
            raise PagesRefused(
                "the PDF is encrypted with a password: remove the password and upload it again"
            ) from None
        raise PagesRefused("the PDF is damaged and cannot be opened") from None


def _displayed(page: pdfium.PdfPage) -> tuple[Box, int]:
    left, bottom, right, top = page.get_cropbox()
    return (left, bottom, right, top), page.get_rotation() % 360


def to_fractions(box: Box, frame: Box, rotation: int) -> Box:
    """A box in PDF page space (x0, y0 from the bottom-left) as fractions of the displayed page from its top-left."""
    x0, y0, x1, y1 = box
    fx0, fy0, fx1, fy1 = frame
    w, h = (fx1 - fx0) or 1.0, (fy1 - fy0) or 1.0
    if rotation == 90:
        u0, u1, v0, v1 = (y0 - fy0) / h, (y1 - fy0) / h, (x0 - fx0) / w, (x1 - fx0) / w
    elif rotation == 180:
        u0, u1, v0, v1 = (fx1 - x1) / w, (fx1 - x0) / w, (y0 - fy0) / h, (y1 - fy0) / h
    elif rotation == 270:
        u0, u1, v0, v1 = (fy1 - y1) / h, (fy1 - y0) / h, (fx1 - x1) / w, (fx1 - x0) / w
    else:
        u0, u1, v0, v1 = (x0 - fx0) / w, (x1 - fx0) / w, (fy1 - y1) / h, (fy1 - y0) / h
    return _clamp((u0, v0, u1, v1))


def _clamp(box: Box) -> Box:
    return tuple(min(1.0, max(0.0, v)) for v in box)  # type: ignore[return-value]


def pdf_page_text(page: pdfium.PdfPage, number: int, source: str = "embedded") -> PageText:
    """A PDF page's own text, each character with its box."""
    frame, rotation = _displayed(page)
    found = PageText(number, source)
    textpage = page.get_textpage()
    try:
        for i in range(textpage.count_chars()):
            char = textpage.get_text_range(i, 1)
            if not char or char == "\r":  # a line end is "\r\n": one "\n" is enough
                continue
            if char == "\ufffe":  # pdfium's mark for a hyphen it found at the end of a line
                char = "-"
            left, bottom, right, top = textpage.get_charbox(i)
            box = to_fractions((left, bottom, right, top), frame, rotation) if right > left and top > bottom else None
            found.add(char, box)
    finally:
        textpage.close()
    return found


def ocr_page_text(number: int, tsv: str, width: int, height: int) -> PageText:
    """An OCR'd page's text from Tesseract's TSV: words with a space between them and a line end between lines, each
    word's box shared among its characters by their number."""
    found = PageText(number, "ocr")
    line_of = None
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue
        line = (cells[2], cells[3], cells[4])
        if line_of is not None:
            found.add("\n" if line != line_of else " ", None)
        line_of = line
        left, top, w, h = (int(v) for v in cells[6:10])
        word = cells[11]
        step = w / len(word)
        for n, char in enumerate(word):
            found.add(
                char,
                _clamp(((left + n * step) / width, top / height, (left + (n + 1) * step) / width, (top + h) / height)),
            )
    return found


def union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def boxes_of(page: PageText, start: int, end: int) -> list[tuple[str, Box]]:
    """The boxes covering characters start..end of a page, one per line they run over, with each one's text."""
    out: list[tuple[str, Box]] = []
    run: list[Box] = []
    text = ""
    for i in range(start, end):
        box = page.boxes[i]
        if box is None:
            if page.text[i] == "\n" and run:
                out.append((text, union(run)))
                run, text = [], ""
            continue
        if run and (box[1] >= run[-1][3] or box[0] < run[-1][0] - 0.05):  # below the last one, or back to the left
            out.append((text, union(run)))
            run, text = [], ""
        run.append(box)
        text += page.text[i]
    if run:
        out.append((text, union(run)))
    return out
