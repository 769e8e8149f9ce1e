"""Pages drawn directly in the embedded font: slip sheets and the index, one line per exhibit.

WeasyPrint spends tens of milliseconds laying out each of these simple pages; in a 500-exhibit bundle
that is most of the build. Drawn here, they cost microseconds, and the index's row rectangles are
known exactly, so its links need no second render. Text the font cannot show (outside Windows-1252)
falls back: a slip sheet is then rendered by WeasyPrint, an index cell shows '?' for those characters.
"""

import unicodedata
from dataclasses import dataclass

import pikepdf
from pikepdf import Name

from api.bundle import stamp
from api.bundle.spec import LETTER, SIDE_MARGIN, ExhibitSource

TOP = LETTER[1] - 54.0  # below the ECF header band, as the generated pages' CSS margin
BOTTOM = 84.0  # above the stamp band
ROW = 13.0
INDEX_HEADER = 50.0
# Column x offsets and widths in points, across the 540 pt between the side margins.
COLUMNS = (
    ("Exhibit", 0, 52),
    ("Title", 52, 214),
    ("Kind", 266, 56),
    ("Date", 322, 52),
    ("Bates range", 374, 124),
    ("Page", 498, 42),
)


def drawable(*texts: str | None) -> bool:
    return all(t is None or _encodable(t) for t in texts)


def _encodable(text: str) -> bool:
    try:
        text.encode("cp1252")
        return True
    except UnicodeEncodeError:
        return False


def _plain(text: str) -> bytes:
    """Windows-1252 bytes; other characters become their closest unaccented form, or '?'."""
    if _encodable(text):
        return text.encode("cp1252")
    folded = unicodedata.normalize("NFKD", text)
    return "".join(c for c in folded if not unicodedata.combining(c)).encode("cp1252", errors="replace")


class Canvas:
    def __init__(self):
        self.parts = [b"q 0 g 0 G\n"]

    def text(
        self, x: float, y: float, size: float, text: str, *, bold: bool = False, align: str = "left", grey: bool = False
    ) -> None:
        data = _plain(text)
        width = stamp.stamp_font().width(data, size)
        x = x - width if align == "right" else x - width / 2 if align == "center" else x
        mode = b"2 Tr %.2f w " % (size / 30) if bold else b""
        colour = b"0.35 g " if grey else b""
        self.parts.append(
            b"BT %s%s/CBStamp %.2f Tf %.2f %.2f Td %s Tj ET 0 Tr 0 g\n"
            % (colour, mode, size, x, y, stamp.pdf_string(data))
        )

    def line(self, x0: float, y0: float, x1: float, y1: float, width: float = 0.5, grey: float = 0.6) -> None:
        self.parts.append(b"%.2f G %.2f w %.2f %.2f m %.2f %.2f l S 0 G\n" % (grey, width, x0, y0, x1, y1))

    def page(self, pdf: pikepdf.Pdf, font: pikepdf.Object) -> pikepdf.Page:
        page = pdf.add_blank_page(page_size=LETTER)
        page.add_resource(font, Name.Font, stamp.FONT_NAME)
        page.obj.Contents = pdf.make_stream(b"".join(self.parts) + b"Q\n")
        return page


def wrap(text: str, size: float, width: float, max_lines: int) -> list[str]:
    font, words, lines, line = stamp.stamp_font(), text.split(), [], ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if font.width(_plain(candidate), size) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = fit(lines[-1] + " \u2026", size, width)
    return lines


def fit(text: str, size: float, width: float) -> str:
    """Cut `text` to `width`, ending in an ellipsis when cut."""
    font = stamp.stamp_font()
    if font.width(_plain(text), size) <= width:
        return text
    while text and font.width(_plain(text + "\u2026"), size) > width:
        text = text[:-1]
    return text + "\u2026"


def slip_page(pdf: pikepdf.Pdf, font: pikepdf.Object, ex: ExhibitSource, kind: str, size: str) -> pikepdf.Page:
    canvas, centre, width = Canvas(), LETTER[0] / 2, LETTER[0] - 2 * SIDE_MARGIN - 72
    canvas.text(centre, 560, 34, f"EXHIBIT {ex.label}", bold=True, align="center")
    y = 520
    for line in wrap(ex.title, 15, width, 4):
        canvas.text(centre, y, 15, line, align="center")
        y -= 20
    y -= 24
    facts = [
        ("Kind", kind),
        ("Date", ex.occurred_display),
        ("Source", ex.source_url or ex.original_filename),
        ("Custodian", ex.custodian),
        ("Original file", f"{ex.original_filename} ({ex.media_type}, {size})"),
        ("SHA-256", ex.sha256),
    ]
    for name, value in facts:
        if not value:
            continue
        canvas.text(90, y, 10, name, grey=True)
        lines = wrap(value, 10 if name != "SHA-256" else 8.5, LETTER[0] - 180 - 90, 3)
        for line in lines:
            canvas.text(180, y, 10 if name != "SHA-256" else 8.5, line)
            y -= 14
        y -= 3
    return canvas.page(pdf, font)


@dataclass
class IndexRow:
    seq: int
    cells: tuple[str, str, str, str, str, str]
    linked: bool


def index_rows_per_page(first: bool) -> int:
    top = TOP - (INDEX_HEADER if first else 22)
    return int((top - BOTTOM) // ROW)


def index_page_count(rows: int) -> int:
    first = index_rows_per_page(True)
    return 1 if rows <= first else 1 + -(-(rows - first) // index_rows_per_page(False))


def index_pages(pdf: pikepdf.Pdf, font: pikepdf.Object, rows: list[IndexRow]) -> tuple[list[pikepdf.Page], list]:
    """Draw the index; returns its pages and (page index, rect, seq) for every linked row."""
    pages, links, start, number = [], [], 0, 0
    while start < len(rows) or number == 0:
        first = number == 0
        canvas, y = Canvas(), TOP
        if first:
            canvas.text(SIDE_MARGIN, y - 16, 16, "Index of Exhibits", bold=True)
            y -= INDEX_HEADER - 22
        for title, x, _ in COLUMNS:
            canvas.text(SIDE_MARGIN + x + 2, y - 12, 8, title, bold=True)
        y -= 16
        canvas.line(SIDE_MARGIN, y, LETTER[0] - SIDE_MARGIN, y, 0.8, 0)
        chunk = rows[start : start + index_rows_per_page(first)]
        for row in chunk:
            top = y
            y -= ROW
            for (
                (_, x, width),
                cell,
            ) in zip(COLUMNS, row.cells, strict=True):
                canvas.text(SIDE_MARGIN + x + 2, y + 3.5, 8, fit(cell, 8, width - 4), bold=x == 0)
            canvas.line(SIDE_MARGIN, y, LETTER[0] - SIDE_MARGIN, y)
            if row.linked:
                links.append((number, (SIDE_MARGIN, y, SIDE_MARGIN + 266, top), row.seq))
        pages.append(canvas.page(pdf, font))
        start += len(chunk)
        number += 1
    return pages, links
