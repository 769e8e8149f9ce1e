"""Pages drawn directly in the embedded font: slip sheets and the index, one row per exhibit.

WeasyPrint spends tens of milliseconds laying out each of these simple pages; in a 500-exhibit bundle
that is most of the build. Drawn here, they cost microseconds, and the index's row rectangles are
known exactly, so its links need no second render. Text the font cannot show (outside Windows-1252)
falls back: a slip sheet is then rendered by WeasyPrint, an index cell shows '?' for those characters.
"""

from dataclasses import dataclass

import pikepdf
from pikepdf import Name

from api.bundle import stamp
from api.bundle.lines import fit, plain, units, wrap
from api.bundle.render import SHORT_KINDS
from api.bundle.spec import LETTER, SIDE_MARGIN, BuildSpec, ExhibitSource

TOP = LETTER[1] - 54.0  # below the ECF header band, as the generated pages' CSS margin
BOTTOM = 84.0  # above the stamp band
ROW = 13.0
# Column x offsets and widths in points, across the 540 pt between the side margins.
COLUMNS = (
    ("Exhibit", 0, 46),
    ("Title", 46, 230),
    ("Kind", 276, 52),
    ("Date", 328, 56),
    ("Bates range", 384, 120),
    ("Page", 504, 36),
)


def drawable(*texts: str | None) -> bool:
    return all(t is None or _encodable(t) for t in texts)


def _encodable(text: str) -> bool:
    try:
        text.encode("cp1252")
        return True
    except UnicodeEncodeError:
        return False


class Canvas:
    def __init__(self):
        self.parts = [b"q 0 g 0 G\n"]

    def text(
        self, x: float, y: float, size: float, text: str, *, bold: bool = False, align: str = "left", grey: bool = False
    ) -> None:
        if not text:
            return
        data = plain(text)
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


# A fact's value starts at x = 180 and wraps at FACT_WIDTH; a word longer than that (a SHA-256 at 8.5 pt) keeps its
# line up to the right margin, and only a longer one (a long URL) is broken.
FACT_WIDTH, FACT_ROOM = LETTER[0] - 270, LETTER[0] - 180 - SIDE_MARGIN


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
        points = 10 if name != "SHA-256" else 8.5
        # A date's UTC equivalent, in parentheses, starts its own line rather than breaking mid-time.
        parts = value.split(" (", 1) if name == "Date" else [value]
        lines = [
            line
            for i, part in enumerate(parts)
            for line in wrap(f"({part}" if i else part, points, FACT_WIDTH, 3, hard_width=FACT_ROOM)
        ]
        for line in lines:
            canvas.text(180, y, points, line)
            y -= 14
        y -= 3
    return canvas.page(pdf, font)


@dataclass
class IndexRow:
    key: int | str  # the exhibit's seq, or the certificate section the row points at
    cells: tuple[str, str, str, str, str, str]
    linked: bool


# The certificate's two sections, listed after the exhibits: (key, index title).
CERTIFICATE_ROWS = (
    ("certificate", "Hash Certificate of Exhibits"),
    ("certification", "Certification of Records (Fed. R. Evid. 902(11), 902(14))"),
)
INDEX_SIZE = 8.0
INDEX_LINE = 9.5  # baseline to baseline inside a wrapped cell
INDEX_MAX_LINES = 3
HEADER_ROW = 25.0  # two lines: the Date column names its zone under it
FIRST_TITLE = 40.0  # "Index of Exhibits" and the line about time zones
NEXT_TITLE = 22.0  # "Index of Exhibits (continued)"


def _cell_lines(text: str, width: float, max_lines: int = INDEX_MAX_LINES) -> list[str]:
    """`text` wrapped into the column; a word wider than the column is broken where it must be."""
    return wrap(text, INDEX_SIZE, width, max_lines) or [""]


def _one_line(text: str, width: float) -> tuple[str, float]:
    """Bates ranges and page numbers stay on one line, set smaller if they must: they are not known when
    the index's length is planned, so they must not change a row's height."""
    size, measured = INDEX_SIZE, units(text)
    while size > 5 and measured * size / 1000 > width:
        size -= 0.5
    return fit(text, size, width), size


def _row_lines(cells) -> list[list[str]]:
    """Lines of the label, title, kind and date cells."""
    return [_cell_lines(cell, width - 4) for (_, _, width), cell in zip(COLUMNS[:4], cells[:4], strict=True)]


def _row_height(cells) -> float:
    return ROW + (max(len(lines) for lines in _row_lines(cells)) - 1) * INDEX_LINE


def _space(first: bool) -> float:
    return TOP - (FIRST_TITLE if first else NEXT_TITLE) - HEADER_ROW - BOTTOM


def _paginate(heights: list[float]) -> list[int]:
    """How many rows go on each index page."""
    counts, used = [0], 0.0
    for height in heights:
        if counts[-1] and used + height > _space(len(counts) == 1):
            counts.append(0)
            used = 0.0
        counts[-1] += 1
        used += height
    return counts


def plan_cells(spec: BuildSpec) -> list[tuple[str, str, str, str, str, str]]:
    """The index's rows as far as they are known before the pages are numbered (no Bates, no page): enough
    to know their wrapped heights, which is all the index's length depends on."""
    rows = [
        (ex.label, ex.index_title, SHORT_KINDS.get(ex.kind, ex.kind), ex.occurred_short or "", "", "")
        for ex in spec.exhibits
    ]
    if spec.certificate:
        rows += [("", title, "", "", "", "") for _, title in CERTIFICATE_ROWS]
    return rows


def index_page_count(rows: list[tuple[str, ...]]) -> int:
    """Pages of an index of these rows' cells."""
    return len(_paginate([_row_height(cells) for cells in rows]))


def index_pages(
    pdf: pikepdf.Pdf, font: pikepdf.Object, rows: list[IndexRow], zone: str | None = None
) -> tuple[list[pikepdf.Page], list]:
    """Draw the index; returns its pages and (page index, rect, key) for every linked row.

    `zone` names the time zone of the Date column.
    """
    heights = [_row_height(row.cells) for row in rows]
    pages, links, start = [], [], 0
    for number, count in enumerate(_paginate(heights)):
        canvas, y = Canvas(), TOP
        if number == 0:
            canvas.text(SIDE_MARGIN, y - 16, 16, "Index of Exhibits", bold=True)
            if zone:
                note = (
                    f"Dates are in the case time zone, {zone}. Each slip sheet gives the exhibit's time "
                    "with its zone and in UTC."
                )
                canvas.text(SIDE_MARGIN, y - 31, 7.5, fit(note, 7.5, LETTER[0] - 2 * SIDE_MARGIN), grey=True)
            y -= FIRST_TITLE
        else:
            canvas.text(SIDE_MARGIN, y - 12, 10, "Index of Exhibits (continued)", bold=True)
            y -= NEXT_TITLE
        for title, x, width in COLUMNS:
            canvas.text(SIDE_MARGIN + x + 2, y - 11, INDEX_SIZE, title, bold=True)
            if title == "Date" and zone:
                canvas.text(SIDE_MARGIN + x + 2, y - 20, 7, fit(f"({_zone_short(zone)})", 7, width - 4), grey=True)
        y -= HEADER_ROW
        canvas.line(SIDE_MARGIN, y, LETTER[0] - SIDE_MARGIN, y, 0.8, 0)
        for row, height in zip(rows[start : start + count], heights[start : start + count], strict=True):
            top = y
            y -= height
            cells = zip(COLUMNS, _row_lines(row.cells), (True, False, False, False), strict=False)
            for (_, x, _), lines, bold in cells:
                for i, line in enumerate(lines):
                    canvas.text(SIDE_MARGIN + x + 2, top - 9.5 - i * INDEX_LINE, INDEX_SIZE, line, bold=bold)
            for (_, x, width), cell in zip(COLUMNS[4:], row.cells[4:], strict=True):
                text, size = _one_line(cell, width - 4)
                canvas.text(SIDE_MARGIN + x + 2, top - 9.5, size, text)
            canvas.line(SIDE_MARGIN, y, LETTER[0] - SIDE_MARGIN, y)
            if row.linked:
                links.append((number, (SIDE_MARGIN, y, SIDE_MARGIN + COLUMNS[2][1], top), row.key))
        pages.append(canvas.page(pdf, font))
        start += count
    return pages, links


def _zone_short(zone: str) -> str:
    """The city of an IANA zone name ("America/Los_Angeles" gives "Los Angeles"): short enough for a heading."""
    return zone.rsplit("/", 1)[-1].replace("_", " ")
