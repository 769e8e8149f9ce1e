"""Pages drawn directly in the embedded font: the slip sheets here, the index in index.py.

WeasyPrint spends tens of milliseconds laying out each of these simple pages; in a 500-exhibit bundle that would be
most of the build. Drawn, they cost microseconds, and every slip sheet has one layout whatever its script: text
the WinAnsi font cannot show is a piece (pieces.py), shaped by WeasyPrint in the size and width of its place.
"""

import pikepdf
from pikepdf import Name

from api.bundle import stamp
from api.bundle.lines import plain, shown, wrap
from api.bundle.pieces import Forms, Piece, wanted
from api.bundle.spec import LETTER, SIDE_MARGIN, ExhibitSource


class Canvas:
    """One drawn page: text in the stamp font, lines, rectangles, and pieces placed as forms."""

    def __init__(self, pdf: pikepdf.Pdf, pieces: Forms | None = None):
        self.pdf, self.pieces = pdf, pieces
        self.parts = [b"q 0 g 0 G\n"]
        self.forms: dict[Name, pikepdf.Object] = {}

    def text(
        self, x: float, y: float, size: float, text: str, *, bold: bool = False, align: str = "left", grey: bool = False
    ) -> None:
        if not text:
            return
        data = plain(text)
        width = stamp.stamp_font(bold).width(data, size)
        x = x - width if align == "right" else x - width / 2 if align == "center" else x
        colour = b"0.35 g " if grey else b""
        name = stamp.BOLD_NAME if bold else stamp.FONT_NAME
        self.parts.append(
            b"BT %s%s %.2f Tf %.2f %.2f Td %s Tj ET 0 g\n"
            % (colour, str(name).encode(), size, x, y, stamp.pdf_string(data))
        )

    def piece(self, piece: Piece, x: float, y: float, size: float | None = None) -> int:
        """Place a piece with its box's left edge at `x` and its first line on `y` (scaled to `size`, if given);
        returns its lines."""
        forms = self.sheet_forms()
        content, (name, form) = forms.draw(piece, x, y, size)
        self.parts.append(content)
        self.forms[name] = form
        return forms.sheet.placed[piece].lines

    def sheet_forms(self) -> Forms:
        """The build's pieces, as forms of this page's PDF: there whenever some text needs a piece (`wanted`)."""
        if self.pieces is None:
            raise RuntimeError("a piece is placed on a page drawn without the build's pieces")
        return self.pieces

    def line(self, x0: float, y0: float, x1: float, y1: float, width: float = 0.5, grey: float = 0.6) -> None:
        self.parts.append(b"%.2f G %.2f w %.2f %.2f m %.2f %.2f l S 0 G\n" % (grey, width, x0, y0, x1, y1))

    def box(self, x: float, y: float, width: float, height: float, line: float = 1.5) -> None:
        self.parts.append(b"%.2f w %.2f %.2f %.2f %.2f re S\n" % (line, x, y, width, height))

    def page(self, fonts: "Fonts") -> pikepdf.Page:
        page = self.pdf.add_blank_page(page_size=LETTER)
        page.add_resource(fonts.regular, Name.Font, stamp.FONT_NAME)
        page.add_resource(fonts.bold, Name.Font, stamp.BOLD_NAME)
        for name, form in self.forms.items():
            page.add_resource(form, Name.XObject, name)
        page.obj.Contents = self.pdf.make_stream(b"".join(self.parts) + b"Q\n")
        return page


class Fonts:
    """The drawn pages' two fonts in one PDF, each embedded once and shared by its pages."""

    def __init__(self, pdf: pikepdf.Pdf, regular: pikepdf.Object | None = None):
        self.regular = regular if regular is not None else stamp.font_object(pdf)
        self.bold = stamp.font_object(pdf, bold=True)


# A fact's value starts at x = 180 and wraps at FACT_WIDTH; a word longer than that (a SHA-256 at 8.5 pt) keeps its
# line up to the right margin, and only a longer one (a long URL) is broken.
FACT_WIDTH, FACT_ROOM = LETTER[0] - 270, LETTER[0] - 180 - SIDE_MARGIN
TITLE_WIDTH = LETTER[0] - 2 * SIDE_MARGIN - 72


def _heading(ex: ExhibitSource) -> Piece:
    return Piece(f"EXHIBIT {ex.label}", 34, bold=True)


def _title(ex: ExhibitSource) -> Piece:
    return Piece(shown(ex.public_title), 15, TITLE_WIDTH, lines=4, leading=20, align="center")


def _fact(value: str) -> Piece:
    return Piece(value, 10, FACT_WIDTH, lines=3, leading=14)


def _facts(ex: ExhibitSource, kind: str, size: str) -> list[tuple[str, str | None]]:
    """(name, value) of each fact, each value cut to what a page shows (a piece is laid out whole)."""
    return [
        ("Kind", kind),
        ("Date", ex.occurred_display),
        ("Source", shown(ex.public(ex.source_url or ex.original_filename))),
        ("Custodian", shown(ex.custodian)),
        ("Original file", f"{shown(ex.public(ex.original_filename))} ({shown(ex.media_type)}, {size})"),
        ("SHA-256", ex.sha256),
    ]


def slip_pieces(ex: ExhibitSource, kind: str, size: str) -> list[Piece]:
    """The pieces a slip sheet needs: its heading, title and facts where the WinAnsi font cannot show them."""
    found = [_heading(ex)] if wanted(ex.label) else []
    found += [_title(ex)] if wanted(ex.public_title) else []
    return found + [_fact(value) for _, value in _facts(ex, kind, size) if wanted(value)]


def slip_page(pdf: pikepdf.Pdf, fonts: Fonts, ex: ExhibitSource, kind: str, size: str, pieces: Forms | None) -> None:
    canvas, centre, room = Canvas(pdf, pieces), LETTER[0] / 2, LETTER[0] - 2 * SIDE_MARGIN
    # The heading at 34 pt, or smaller where a long label would run off the page.
    if wanted(ex.label):
        heading, sheet = _heading(ex), canvas.sheet_forms().sheet
        points = min(34, 34 * room / sheet.width(heading))
        canvas.piece(heading, centre - sheet.width(heading, points) / 2, 560, points)
    else:
        text = f"EXHIBIT {ex.label}"
        points = min(34, 34 * room / stamp.stamp_font(bold=True).width(plain(text), 34))
        canvas.text(centre, 560, points, text, bold=True, align="center")
    y = 520
    if wanted(ex.public_title):
        y -= 20 * canvas.piece(_title(ex), centre - TITLE_WIDTH / 2, y)
    else:
        for line in wrap(ex.public_title, 15, TITLE_WIDTH, 4):
            canvas.text(centre, y, 15, line, align="center")
            y -= 20
    y -= 24
    for name, value in _facts(ex, kind, size):
        if not value:
            continue
        canvas.text(90, y, 10, name, grey=True)
        if wanted(value):
            y -= 14 * canvas.piece(_fact(value), 180, y) + 3
            continue
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
    canvas.page(fonts)
