"""The index of exhibits, drawn at 10 pt: one row per exhibit, then one per certificate section.

Drawn, its rows' heights are known before any page is numbered, so its length is planned, its links' rectangles
are exact, and it costs no render. A label or title the WinAnsi font cannot show is a piece (pieces.py), shaped by
WeasyPrint in the width of its column; its height counts in its row's like any drawn cell's.
"""

import pikepdf

from api.bundle.draw import Canvas, Fonts
from api.bundle.lines import fit, wrap
from api.bundle.pieces import Forms, Piece, Placed, Sheet, wanted
from api.bundle.spec import LETTER, SIDE_MARGIN

TOP = LETTER[1] - 54.0  # below the ECF header band, as the generated pages' CSS margin
BOTTOM = 84.0  # above the stamp band
WIDTH = LETTER[0] - 2 * SIDE_MARGIN
SIZE = 10.0  # every cell, heading and note: front matter is set at 10 pt or more
LINE = 12.0  # baseline to baseline inside a cell
PAD = 5.0  # a row's height beyond its lines
MAX_LINES = 5  # of a title or label; its last line ends in an ellipsis when there is more
# Column x offsets and widths in points, across the 540 pt between the side margins.
COLUMNS = (
    ("Exhibit", 0, 56),
    ("Title", 56, 210),
    ("Kind", 266, 58),
    ("Date", 324, 66),
    ("Bates range", 390, 106),
    ("Page", 496, 44),
)


def cell_piece(text: str, column: int) -> Piece:
    """The piece for a label (column 0) or title (column 1) the WinAnsi font cannot show."""
    return Piece(text, SIZE, COLUMNS[column][2] - 4, lines=MAX_LINES, leading=LINE, bold=column == 0)


def row_pieces(label: str, title: str) -> list[Piece]:
    return [cell_piece(text, column) for column, text in enumerate((label, title)) if wanted(text)]


def _lines(text: str, width: float, max_lines: int = MAX_LINES) -> list[str]:
    """`text` wrapped into a column, a word wider than it broken where it must be."""
    return wrap(text, SIZE, width - 4, max_lines) or [""]


def _bates(row) -> list[str]:
    """A range on two lines, "FTC-RC000091 to" over "FTC-RC000092", each end whole where it fits the column."""
    ends = [row.first] if row.first == row.last else [f"{row.first} to", row.last]
    return [line for end in ends for line in _lines(end, COLUMNS[4][2], 4)]


class Index:
    """The index of a bundle: its rows' heights, its pages, and each page's rows."""

    def __init__(self, rows: list, sheet: Sheet | None, *, legend: str | None, zone: str, notes: str):
        self.rows, self.sheet, self.legend = rows, sheet, legend
        self.notes = wrap(notes, SIZE, WIDTH, 12)
        zone_short = zone.rsplit("/", 1)[-1].replace("_", " ") if zone else ""
        self.header = [[title] for title, _, _ in COLUMNS]
        if zone_short:
            self.header[3] += _lines(f"({zone_short})", COLUMNS[3][2], 3)
        self.header_height = PAD + 3 + LINE * max(len(lines) for lines in self.header)
        self.heights = [PAD + LINE * max(len(cell) for cell in self._cells(row)) for row in rows]
        self.counts = self._paginate()

    @property
    def page_count(self) -> int:
        return len(self.counts)

    def _cells(self, row) -> list:
        """Each cell's lines (a piece counts its own), for the row's height."""
        cells = []
        for column, text in enumerate((row.label, row.title, row.kind, row.date)):
            piece = cell_piece(text, column) if column < 2 and wanted(text) else None
            # Labels are bold, some tenth wider than the regular face the line breaker measures.
            width = COLUMNS[column][2] * (0.9 if column == 0 else 1)
            cells.append([None] * self._placed(piece).lines if piece else _lines(text, width))
        return [*cells, _bates(row), _lines(row.page, COLUMNS[5][2], 3)]

    def _placed(self, piece: Piece) -> Placed:
        """Where a piece fell: every text that needs one (`wanted`) has one on the build's sheet."""
        if self.sheet is None:
            raise RuntimeError("an index row needs a piece, but the build has no sheet of pieces")
        return self.sheet.placed[piece]

    def _preamble(self, first: bool) -> float:
        if not first:
            return 24.0
        return (34.0 if self.legend else 0) + 30.0 + LINE * len(self.notes) + 8

    def _paginate(self) -> list[int]:
        counts, used = [0], 0.0
        for height in self.heights:
            room = TOP - BOTTOM - self._preamble(len(counts) == 1) - self.header_height
            if counts[-1] and used + height > room:
                counts.append(0)
                used = 0.0
            counts[-1] += 1
            used += height
        return counts

    def pages(
        self, pdf: pikepdf.Pdf, fonts: Fonts, volume: int, pieces: Forms | None
    ) -> tuple[list[pikepdf.Page], list]:
        """Draw the index for one volume; returns its pages and (page index, rect, key) for each row of the rows
        in this volume, which link to their pages."""
        pages, links, start, right = [], [], 0, SIDE_MARGIN + WIDTH
        for number, count in enumerate(self.counts):
            canvas, y = Canvas(pdf, pieces), TOP
            if number == 0:
                if self.legend:
                    canvas.box(SIDE_MARGIN + 90, y - 24, WIDTH - 180, 22)
                    canvas.text(LETTER[0] / 2, y - 17, 12, self.legend, bold=True, align="center")
                    y -= 34
                canvas.text(SIDE_MARGIN, y - 18, 16, "Index of Exhibits", bold=True)
                y -= 30
                for line in self.notes:
                    canvas.text(SIDE_MARGIN, y - 10, SIZE, line, grey=True)
                    y -= LINE
                y -= 8
            else:
                canvas.text(SIDE_MARGIN, y - 14, 12, "Index of Exhibits (continued)", bold=True)
                y -= 24
            for (_, x, _), lines in zip(COLUMNS, self.header, strict=True):
                for i, line in enumerate(lines):
                    canvas.text(SIDE_MARGIN + x + 2, y - 11.5 - i * LINE, SIZE, line, bold=i == 0, grey=i > 0)
            y -= self.header_height
            canvas.line(SIDE_MARGIN, y, right, y, 0.8, 0)
            for row, height in zip(self.rows[start : start + count], self.heights[start : start + count], strict=True):
                top, y = y, y - height
                self._row(canvas, row, top)
                canvas.line(SIDE_MARGIN, y, right, y)
                if row.volume == volume:
                    links.append((number, (SIDE_MARGIN, y, SIDE_MARGIN + COLUMNS[2][1], top), row.key))
            pages.append(canvas.page(fonts))
            start += count
        return pages, links

    def _row(self, canvas: Canvas, row, top: float) -> None:
        for column, ((_, x, width), lines) in enumerate(zip(COLUMNS, self._cells(row), strict=True)):
            left, baseline = SIDE_MARGIN + x + 2, top - 11.5
            if column < 2 and lines and lines[0] is None:
                canvas.piece(cell_piece((row.label, row.title)[column], column), left, baseline)
                continue
            for i, line in enumerate(lines):
                canvas.text(left, baseline - i * LINE, SIZE, fit(line, SIZE, width - 4), bold=column == 0)
