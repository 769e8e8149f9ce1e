"""User text the drawn pages cannot set in their WinAnsi font (a title in Chinese, a custodian in Arabic, a label in
Hindi), shaped by WeasyPrint and placed on those pages as forms.

Each piece is laid out once, in the size, width, leading and alignment of the place it goes, on a page of its own:
Pango chooses a face for each script, HarfBuzz shapes it (Arabic joined, Devanagari conjuncts, Thai marks), the
bidi algorithm orders it and Pango breaks its lines. The drawn page keeps one layout for every title; only where
it holds such a piece does it place the piece's page, whose text and fonts come along. All the pieces of a build
take one render, which a bundle in Windows-1252 text skips altogether.
"""

import io
from dataclasses import dataclass
from typing import TypeGuard

import pikepdf
from pikepdf import Name

from api.bundle import stamp

# A page of the sheet, in points: room for the longest one-line piece (a heading with a 100-character label, at
# 34 pt) and the tallest wrapped one.
SHEET = (4000.0, 600.0)
LABEL_SIZE = 10.0  # an exhibit label for the stamps is shaped at this size, and scaled to each stamp's


@dataclass(frozen=True)
class Piece:
    text: str
    size: float
    width: float | None = None  # wrapped to this width in points; None: one line, as long as the text
    lines: int = 1  # at most this many, the last ending in an ellipsis when there is more
    leading: float = 0  # baseline to baseline; 0: 1.2 times the size
    align: str = "left"  # or "center", within `width`
    bold: bool = False

    @property
    def line_height(self) -> float:
        return self.leading or round(self.size * 1.2, 2)


def label(text: str) -> Piece:
    return Piece(text, LABEL_SIZE)


def wanted(text: str | None) -> TypeGuard[str]:
    """Whether `text` needs a piece: it holds a character the drawn pages' font cannot show."""
    return text is not None and text != "" and not stamp.encodable(text)


@dataclass(frozen=True)
class Placed:
    """Where a piece fell on its page, in PDF points up from the page's bottom-left corner."""

    page: int
    x0: float
    width: float
    top: float
    baseline: float  # of its first line
    lines: int


@dataclass
class Sheet:
    """The pieces of one build: the PDF of their pages, and where each fell."""

    pdf: bytes
    placed: dict[Piece, Placed]
    _opened: pikepdf.Pdf | None = None

    def open(self) -> pikepdf.Pdf:
        if self._opened is None:
            self._opened = pikepdf.open(io.BytesIO(self.pdf))
        return self._opened

    def close(self) -> None:
        if self._opened is not None:
            self._opened.close()

    def on(self, pdf: pikepdf.Pdf) -> "Forms":
        """The pieces as forms of `pdf`, for the pages drawn or stamped in it."""
        return Forms(self, pdf)

    @staticmethod
    def label(text: str) -> Piece:
        """The piece of an exhibit label for the stamps (stamp.py)."""
        return label(text)

    def width(self, piece: Piece, size: float | None = None) -> float:
        return self.placed[piece].width * (size or piece.size) / piece.size


class Forms:
    """A sheet's pieces as forms of one PDF, each copied in once, sharing the fonts they came with."""

    def __init__(self, sheet: Sheet, pdf: pikepdf.Pdf):
        self.sheet, self.pdf = sheet, pdf
        self._copied: dict[int, tuple[Name, pikepdf.Object]] = {}

    def form(self, piece: Piece) -> tuple[Name, pikepdf.Object]:
        page = self.sheet.placed[piece].page
        if page not in self._copied:
            form = self.pdf.copy_foreign(self.sheet.open().pages[page].as_form_xobject())
            self._copied[page] = (Name(f"/CBPiece{page}"), form)
        return self._copied[page]

    def draw(self, piece: Piece, x: float, baseline: float, size: float | None = None):
        """Content placing `piece` with its box's left edge at `x` and its first line on `baseline`, scaled to
        `size` if given; and the resource it needs, (name, form)."""
        name, form = self.form(piece)
        where, scale = self.sheet.placed[piece], (size or piece.size) / piece.size
        content = b"q %.4f 0 0 %.4f %.2f %.2f cm %s Do Q\n" % (
            scale,
            scale,
            x - where.x0 * scale,
            baseline - where.baseline * scale,
            str(name).encode(),
        )
        return content, (name, form)


def render_sheet(pieces: list[Piece]) -> Sheet | None:
    """Lay out every piece, each on a page of its own; None when there is none."""
    from api.bundle.render import layout_document

    pieces = list(dict.fromkeys(pieces))
    if not pieces:
        return None
    document = layout_document("pieces.html", {"pieces": pieces, "sheet": SHEET})
    placed = {}
    height = SHEET[1]
    for n, (piece, page) in enumerate(zip(pieces, document.pages, strict=True)):
        x0, y0, x1, y1 = (v * 0.75 for v in page.anchors[f"piece-{n}"])
        base = page.anchors[f"base-{n}"][3] * 0.75
        lines = max(1, round((y1 - y0) / piece.line_height))
        placed[piece] = Placed(n, x0, x1 - x0, height - y0, height - base, lines)
    return Sheet(document.write_pdf(), placed)
